"""Fixtures: every database test runs on SQLite and on a real PostgreSQL, each test on its
own fresh, migrated database (copied from a template migrated once per run; on PostgreSQL
the clones are made ahead and dropped by a background thread, see harness.clones).

The small world and the chain stores built from it are made once per run and shared by
every package (and every pytest-xdist worker): ``world``, ``world_chain_store`` (the world
loaded) and ``world_entity_store`` (loaded, entities built). They are read-only; a package
whose tests write to a store takes a private copy with ``harness.shared.copy_store``."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from chainsleuth.app import create_app
from chainsleuth.auth import passwords
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.world.generate import generate_world
from chainsleuth.world.presets import params_for
from factories import make_settings
from harness import PostgresServer
from harness.clones import TemplateClones
from harness.shared import build_once, copy_store
from harness.world import SMALL

# tables printed by the CLI (rich) fit in 200 columns whatever the terminal: module-level
# consoles read the width when they are made, before any test sets it (xdist workers have no
# terminal at all)
os.environ.setdefault("COLUMNS", "200")

#: the browser fixtures (``browser``, ``page``, ``console``, ...) for every test package
pytest_plugins = ["harness.pages"]

BACKENDS = ["sqlite", "postgresql"]

TEMPLATE_DB = "chainsleuth_template"


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """argon2id with its cheapest parameters in tests: the product's hasher costs ~0.3 CPU-s a
    hash or check on purpose, and the suite signs in hundreds of users. The hashes stay real
    argon2id hashes checked by the real verifier; the product's own parameters are tested in
    tests/auth/test_password_parameters.py, in a process of its own."""
    saved = passwords._hasher, passwords._DUMMY_HASH
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    passwords._DUMMY_HASH = passwords._hasher.hash("chainsleuth-dummy-password")
    yield
    passwords._hasher, passwords._DUMMY_HASH = saved


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test, never from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("CHAINSLEUTH_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    pg_server.create_database(TEMPLATE_DB)
    db = Database(pg_server.url(TEMPLATE_DB))
    db.upgrade()
    db.dispose()
    return TEMPLATE_DB


@pytest.fixture(scope="session")
def pg_clones(pg_server: PostgresServer, pg_template: str) -> Iterator[TemplateClones]:
    """Fresh clones of the template, made ahead while tests run (see harness.clones)."""
    clones = TemplateClones(pg_server, pg_template).start()
    yield clones
    clones.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database for this test alone."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "chainsleuth.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    clones: TemplateClones = request.getfixturevalue("pg_clones")
    name = clones.take()
    yield clones.server.url(name)
    clones.give_back(name)


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    """A database that exists but was never migrated (no tables at all)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = "e_" + uuid.uuid4().hex[:16]
    server.create_database(name)
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url)


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = Database.from_settings(settings)
    yield db
    db.dispose()


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.session() as s:
        yield s


@pytest.fixture
def app(settings: Settings, database: Database) -> FastAPI:
    return create_app(settings, database)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small world, generated once per test run (a few seconds). Read-only."""

    def build(directory: Path) -> None:
        generate_world(directory / "w", params_for(**SMALL), jobs=1)

    return build_once(tmp_path_factory, "world", build) / "w"


@pytest.fixture(scope="session")
def world_chain_store(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small world loaded into a chain store, once per run. Read-only."""
    from chainsleuth.world.load import load_world

    def build(directory: Path) -> None:
        load_world(world, store_root=directory / "chains")

    return build_once(tmp_path_factory, "world-chains", build) / "chains"


@pytest.fixture(scope="session")
def world_entity_store(world_chain_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``world_chain_store`` with entities built by the default heuristics (``entities
    build --chain all``), once per run. Read-only."""
    from chainsleuth.entities import service as entity_service

    def build(directory: Path) -> None:
        entity_service.build(copy_store(world_chain_store, directory / "chains"), "all")

    return build_once(tmp_path_factory, "world-entities", build) / "chains"

"""The operational database: migrations up and down on both backends, and a clear refusal to
work on a database that is not migrated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from chainsleuth.app import create_app
from chainsleuth.audit import service as audit
from chainsleuth.audit.models import GENESIS_HASH
from chainsleuth.core.db import Database, alembic_config
from chainsleuth.core.errors import ConfigurationError, DatabaseNotReady
from chainsleuth.models import Base
from factories import make_settings
from harness import PostgresServer

#: the revision the migrations end at, and the tables they create (every model's table;
#: ``test_the_migrations_match_the_models`` checks that the two agree column by column)
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
TABLES = set(Base.metadata.tables)


@pytest.fixture
def empty_db(empty_db_url: str) -> Iterator[Database]:
    db = Database(empty_db_url)
    yield db
    db.dispose()


def tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def append_only(db: Database) -> bool:
    """Whether the database refuses to change an audit entry."""
    with db.session() as s:
        audit.record(s, actor=audit.Actor.system("probe"), action="test.probe")
        s.commit()
    try:
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events"))
    except DBAPIError as exc:
        return "append-only" in str(exc)
    return False


# --- refusing an unmigrated database ------------------------------------------------------


def test_an_empty_database_is_not_ready(empty_db: Database) -> None:
    assert empty_db.current_revision() is None
    with pytest.raises(DatabaseNotReady) as caught:
        empty_db.check_migrated()
    assert caught.value.message == (
        "the database has no chainsleuth tables: run `chainsleuth db upgrade` first"
    )


def test_a_migrated_database_is_ready(database: Database) -> None:
    database.check_migrated()
    assert database.current_revision() == database.head_revision() == HEAD


def test_a_database_at_another_revision_is_not_ready(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(DatabaseNotReady, match=f"at revision 0000, this version needs {HEAD}"):
        database.check_migrated()


def test_an_unreachable_database_is_not_ready(pg_server: PostgresServer) -> None:
    db = Database(pg_server.url("no_such_database"))
    try:
        with pytest.raises(DatabaseNotReady, match="cannot reach the database"):
            db.check_migrated()
    finally:
        db.dispose()


def test_the_app_refuses_to_start_on_an_unmigrated_database(
    tmp_path: Path, empty_db_url: str
) -> None:
    # Building the app touches no database; starting it does, and refuses.
    app = create_app(make_settings(tmp_path, empty_db_url))
    with pytest.raises(DatabaseNotReady, match="chainsleuth db upgrade"), TestClient(app):
        pass  # pragma: no cover - never reached


def test_the_app_refuses_to_start_on_a_database_it_is_given_unmigrated(
    tmp_path: Path, empty_db: Database
) -> None:
    app = create_app(make_settings(tmp_path, empty_db.url), empty_db)
    with pytest.raises(DatabaseNotReady), TestClient(app):
        pass  # pragma: no cover - never reached


def test_the_app_starts_once_migrated(tmp_path: Path, empty_db: Database) -> None:
    empty_db.upgrade()
    app = create_app(make_settings(tmp_path, empty_db.url), empty_db)
    with TestClient(app) as client:
        assert client.get("/login").status_code == 200


# --- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["mysql://user@db.example/chainsleuth", "mssql+pyodbc://user@dsn", "oracle://u@h/x"],
)
def test_an_unsupported_database_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="unsupported database .*sqlite or postgresql"):
        Database(url)


def test_a_malformed_url_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="invalid database URL"):
        Database("not a database url")


def test_an_unsupported_url_in_the_settings_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "mysql://user@db.example/chainsleuth")
    with pytest.raises(ConfigurationError, match="unsupported database"):
        Database.from_settings(settings)


def test_the_embedded_database_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there" / "chainsleuth.db"
    db = Database(f"sqlite:///{path}")
    try:
        db.upgrade()
        assert path.is_file()
        db.check_migrated()
    finally:
        db.dispose()


# --- migrations -----------------------------------------------------------------------------


def test_upgrade_creates_every_table_and_the_chain_head(empty_db: Database) -> None:
    empty_db.upgrade()
    assert tables(empty_db) == TABLES
    empty_db.check_migrated()
    with empty_db.session() as s:
        result = audit.verify(s)
    assert (result.ok, result.head_seq, result.head_hash) == (True, 0, GENESIS_HASH)
    assert append_only(empty_db)


def test_upgrade_is_idempotent(empty_db: Database) -> None:
    empty_db.upgrade()
    with empty_db.session() as s:
        audit.record(s, actor=audit.Actor.system("test"), action="test.before_reupgrade")
        s.commit()
    empty_db.upgrade()
    empty_db.upgrade("head")
    assert empty_db.current_revision() == HEAD
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_head")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    with empty_db.session() as s:
        result = audit.verify(s)
    assert result.ok and result.checked == 1


def test_the_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_go_down_to_nothing_and_up_again(empty_db: Database, backend: str) -> None:
    empty_db.upgrade()
    cfg = alembic_config(empty_db.url)

    command.downgrade(cfg, "base")
    assert tables(empty_db) == set()
    assert empty_db.current_revision() is None
    with empty_db.engine.connect() as conn:
        if backend == "postgresql":
            leftover = "SELECT count(*) FROM pg_proc WHERE proname = 'audit_events_append_only'"
        else:
            leftover = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
        assert conn.execute(text(leftover)).scalar() == 0
    with pytest.raises(DatabaseNotReady):
        empty_db.check_migrated()

    command.upgrade(cfg, "head")
    assert tables(empty_db) == TABLES
    empty_db.check_migrated()
    assert append_only(empty_db)
    with empty_db.session() as s:
        result = audit.verify(s)
    assert result.ok and result.checked == 1


def test_a_pooled_postgres_connection_that_died_while_idle_is_replaced(
    pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connections idle past ``PING_IDLE_S`` are pinged on checkout (``pool_pre_ping`` for
    idle ones only): one whose server process was killed meanwhile is swapped for a new one,
    and the caller's statement succeeds."""
    from chainsleuth.core import db as db_module

    pg_server.create_database("pingtest")
    db = Database(pg_server.url("pingtest"))
    try:
        with db.engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # used a moment ago: handed out again as it is, no ping
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == first
        killer = Database(pg_server.url("pingtest"))
        with killer.engine.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar()
        killer.dispose()
        monkeypatch.setattr(db_module, "PING_IDLE_S", 0.0)
        with db.engine.connect() as conn:
            again = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert again != first
    finally:
        db.dispose()

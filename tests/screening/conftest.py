"""The small test world in a chain store (entities built, tracing services written), a data
folder per test that links to it, the world's public labels in the test's database, and
API tokens for the roles that screen, read and edit the policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from screening_helpers import TokenFor
from sqlalchemy.orm import Session

from chainsleuth.auth import tokens as token_service
from chainsleuth.auth.enums import ROLE_PERMISSIONS, Role
from chainsleuth.chain import storage
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.config import Settings
from chainsleuth.entities import service as entity_service
from chainsleuth.labels import service as label_service
from chainsleuth.labels.enums import ImportFormat
from chainsleuth.labels.importers import parse
from chainsleuth.labels.imports import file_sha256
from chainsleuth.risk.facts import precompute_tables
from chainsleuth.tracing.config import save_services, services_from_world
from chainsleuth.world.load import load_world
from factories import SYSTEM, bearer, make_user

WORLD_LABELS = [
    (ImportFormat.ACTORPACK, "labels/world.actorpack.yaml", "world-actorpack"),
    (ImportFormat.TAGPACK, "labels/world.tagpack.yaml", "world-tagpack"),
    (ImportFormat.OFAC_XML, "labels/sdn_advanced.xml", "world-sdn"),
]


@pytest.fixture(scope="session")
def screening_store(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("screening") / "chains"
    load_world(world, store_root=root)
    entity_service.build(root, "all")
    return root


@pytest.fixture
def world_data(settings: Settings, world: Path, screening_store: Path) -> Path:
    """The test's data folder holds the world's store and services; its database the
    world's public labels."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "chains").symlink_to(screening_store)
    save_services(services_from_world(world), settings.data_dir / "tracing.yaml")
    return settings.data_dir


@pytest.fixture
def world_labels(session: Session, world: Path) -> None:
    for fmt, rel, name in WORLD_LABELS:
        parts = [(Path(rel).name, (world / rel).read_bytes())]
        label_service.import_parsed(
            session, parsed=parse(fmt, parts), sha256=file_sha256(parts),
            file_name=parts[0][0], actor=SYSTEM, source_name=name,
        )  # fmt: skip
    session.commit()


@pytest.fixture
def precomputed(
    settings: Settings, session: Session, world_data: Path, world_labels: None
) -> list[object]:
    root = world_data / "chains"
    with ChainReader(storage.connect(root, read_only=True), root) as reader:
        stats = precompute_tables(settings, session, reader)
    session.commit()
    return list(stats)


@pytest.fixture
def token_for(session: Session, settings: Settings) -> TokenFor:
    def make(role: Role) -> dict[str, str]:
        account = make_user(session, settings, role=role, with_mfa=False)
        issued = token_service.create(
            session, actor=SYSTEM, user=account.user, name="test",
            scopes=sorted(ROLE_PERMISSIONS[role]), days=1,
        )  # fmt: skip
        session.commit()
        return bearer(issued.token)

    return make

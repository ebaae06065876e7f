"""The small world in a chain store with entities built, and its public labels imported
into each test's database (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chainsleuth.cli import app as cli_app
from chainsleuth.entities import service as entity_service
from chainsleuth.world.load import load_world


@pytest.fixture(scope="session")
def world_store(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("attribution") / "chains"
    load_world(world, store_root=root)
    entity_service.build(root, "all")
    return root


@pytest.fixture
def world_labels(
    world: Path,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """The world's public labels (TagPack, ActorPack, sanctions list) in this test's DB."""
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", db_url)
    result = CliRunner().invoke(cli_app, ["labels", "import", "world", str(world)])
    assert result.exit_code == 0, result.output
    return db_url

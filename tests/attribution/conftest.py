"""The small world in a chain store with entities built, and its public labels imported
into each test's database (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chainsleuth.cli import app as cli_app
from harness.shared import copy_store


@pytest.fixture(scope="session")
def world_store(world_entity_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the run's world store with entities (the tests open it for
    writing, which a shared store must not see)."""
    return copy_store(world_entity_store, tmp_path_factory.mktemp("attribution") / "chains")


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

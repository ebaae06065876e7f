"""Fixtures of the attribution tests: the shared world, the CLI's database."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cli_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> str:
    """The CLI's environment points at this test's migrated database."""
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "200")
    return db_url

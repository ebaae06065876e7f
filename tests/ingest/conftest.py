"""Fixtures of the ingest tests: a data folder for the CLI, a Bitcoin chain in Core's format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ingest_helpers import core_fixture_block


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """CHAINSLEUTH_DATA_DIR for commands run in this test (the store is ``<it>/chains``)."""
    path = tmp_path / "data"
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(path))
    monkeypatch.setenv("COLUMNS", "200")
    return path


@pytest.fixture
def mainnet_start() -> list[dict[str, Any]]:
    """Bitcoin's real blocks 0 and 1, as Bitcoin Core answers getblock (verbosity 2)."""
    return [core_fixture_block("block_0", 0), core_fixture_block("block_1", 1)]

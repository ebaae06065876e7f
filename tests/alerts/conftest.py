"""The alerts tests: the session world in a chain store, and a way to import a few of its
exchange customers (with their deposit addresses) into a test's database."""

from __future__ import annotations

from pathlib import Path

import pytest
from alert_helpers import Deposit, world_deposits

from chainsleuth.world.load import load_world


@pytest.fixture(scope="session")
def world_store(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole session world in a chain store of its own (read-only for the tests)."""
    root = tmp_path_factory.mktemp("alerts-store") / "chains"
    load_world(world, store_root=root)
    return root


@pytest.fixture(scope="session")
def deposits(world: Path) -> list[Deposit]:
    return world_deposits(world)

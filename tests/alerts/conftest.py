"""The alerts tests: the session world in a chain store, and a way to import a few of its
exchange customers (with their deposit addresses) into a test's database."""

from __future__ import annotations

from pathlib import Path

import pytest
from alert_helpers import Deposit, world_deposits


@pytest.fixture(scope="session")
def world_store(world_chain_store: Path) -> Path:
    """The whole session world in a chain store (the run's shared one: read-only)."""
    return world_chain_store


@pytest.fixture(scope="session")
def deposits(world: Path) -> list[Deposit]:
    return world_deposits(world)

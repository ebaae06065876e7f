"""The small world of tests/world (same fixture), loaded into a chain store, entities built."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsleuth.entities import service as entity_service
from chainsleuth.world.load import load_world
from harness.world import SMALL

__all__ = ["SMALL"]


@pytest.fixture(scope="session")
def world_store(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small world in a chain store, with entities built by the default heuristics."""
    root = tmp_path_factory.mktemp("entities") / "chains"
    load_world(world, store_root=root)
    entity_service.build(root, "all")
    return root

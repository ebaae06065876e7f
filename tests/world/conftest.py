"""A small generated world, made once per test session (a few seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chainsleuth.world.generate import generate_world
from chainsleuth.world.presets import params_for

#: small, but long enough for every scheme to run from the victims to the cash-outs
SMALL = {"txs": 20_000, "days": 16, "seed": 11}


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("world") / "w"
    generate_world(root, params_for(**SMALL), jobs=1)
    yield root

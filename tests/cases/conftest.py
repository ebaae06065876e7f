"""The small test world in a chain store, for the cases pages that start from the explorer
and the trace page (address -> case, trace -> saved graph)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from chainsleuth.core.config import Settings


@pytest.fixture(scope="session")
def case_world(world: Path, world_chain_store: Path) -> tuple[Path, list[Any]]:
    """The run's shared world store (read-only) and the world's scheme hops."""
    root = world_chain_store
    con = duckdb.connect()
    try:
        hops = (
            con.sql(
                "SELECT * FROM read_parquet($p)",
                params={"p": str(world / "truth/scheme_hops.parquet")},
            )
            .to_arrow_table()
            .to_pylist()
        )
    finally:
        con.close()
    return root, hops


@pytest.fixture
def ransom_payment(settings: Settings, case_world: tuple[Path, list[Any]]) -> dict[str, Any]:
    """A ransom payment on the Bitcoin-like chain; the app's data folder holds the store."""
    root, hops = case_world
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "chains").symlink_to(root)
    return next(h for h in hops if h["step"] == "ransom_payment" and h["chain"] == "btc")

"""What the tracing tests share: the world as a tracer knows it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from chainsleuth.tracing.config import Services
from chainsleuth.tracing.service import MappingCategories, TracingContext

#: categories of the world's actors that a labels provider would know
LABELLED = (
    "exchange", "otc_broker", "mixer", "coinjoin", "darknet_market", "ransomware", "scam",
    "stolen_funds", "sanctioned", "bridge", "dex", "defi",
)  # fmt: skip


@dataclass
class Traced:
    world: Path
    root: Path
    services: Services
    categories: MappingCategories
    hops: list[dict[str, Any]]
    schemes: dict[str, dict[str, Any]]

    def context(self) -> TracingContext:
        return TracingContext(services=self.services, categories=self.categories)

    def hop(self, hop_id: str) -> dict[str, Any]:
        return next(h for h in self.hops if h["hop"] == hop_id)


def truth_categories(world: Path) -> MappingCategories:
    con = duckdb.connect()
    try:
        rows = con.execute(
            """SELECT a.chain, a.address, b.category
               FROM read_parquet(?::VARCHAR[]) a JOIN read_parquet(?) b USING (actor_id)
               WHERE b.category IN (SELECT unnest(?::VARCHAR[]))""",
            [
                [str(world / "truth" / f"addresses_{c}.parquet") for c in ("btc", "eth")],
                str(world / "truth" / "actors.parquet"),
                list(LABELLED),
            ],
        ).fetchall()
    finally:
        con.close()
    return MappingCategories({(c, a): k for c, a, k in rows})

"""Ground truth of the small world, as the screening tests pick their subjects."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from chainsleuth.auth.enums import Role

#: an API token's headers for a new user of the role
TokenFor = Callable[[Role], dict[str, str]]


def actors(world: Path) -> dict[int, dict[str, Any]]:
    rows = pq.read_table(world / "truth" / "actors.parquet").to_pylist()
    return {int(r["actor_id"]): r for r in rows}


def addresses(world: Path, chain: str = "btc") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(
        world / "truth" / f"addresses_{chain}.parquet"
    ).to_pylist()
    return rows


def scheme_addresses(world: Path) -> set[str]:
    hops = pq.read_table(world / "truth" / "scheme_hops.parquet").to_pylist()
    return {a for h in hops for k in ("from_addresses", "to_addresses") for a in h[k] or []}


def plain_users(world: Path, n: int = 100) -> list[str]:
    """Receiving addresses of ordinary people that no crime scheme touches."""
    who = actors(world)
    touched = scheme_addresses(world)
    return [
        r["address"]
        for r in addresses(world)
        if r["role"] == "receive"
        and who[int(r["actor_id"])]["type"] == "user"
        and r["address"] not in touched
    ][:n]


def scheme(world: Path, scheme_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        s
        for s in json.loads((world / "truth" / "schemes.json").read_text())
        if s["id"] == scheme_id
    )
    return found


def our_cash_outs(world: Path, scheme_id: str) -> list[dict[str, Any]]:
    """The scheme's cash-outs into deposit addresses of our exchange (Exchange A)."""
    return [
        c
        for c in scheme(world, scheme_id)["cash_outs"]
        if c["kind"] == "exchange" and c.get("ours") and c["chain"] == "btc"
    ]


def ransom_addresses(world: Path) -> list[str]:
    return [r["address"] for r in addresses(world) if r["role"] == "ransom"]

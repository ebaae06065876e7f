"""Round-trip cycles in the small world's truth: each one a cycle on the chain, from a
sanctioned actor's (listed) address through two to four nominees and back."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from chainsleuth.world.crime import plan_schemes
from chainsleuth.world.crime.roundtrip import KEY
from chainsleuth.world.plan import build_plan
from chainsleuth.world.presets import DAY, params_for
from harness.world import SMALL


@pytest.fixture(scope="module")
def cycles(world: Path) -> list[dict[str, Any]]:
    rows = pq.read_table(world / "truth" / "typologies.parquet").to_pylist()
    return [r for r in rows if r["typology"] == "round_trip"]


def _flows(world: Path, chain: str, hashes: list[str]) -> list[tuple[str, str, str]]:
    """(tx hash, from address, to address) of each transaction, read from the chain files."""
    con = duckdb.connect()
    root = world / "chains" / chain
    if chain == "btc":
        rows = con.execute(
            """SELECT i.tx_hash, i.address, o.address
               FROM read_parquet($ins) i JOIN read_parquet($outs) o ON o.tx_hash = i.tx_hash
               WHERE i.tx_hash IN (SELECT unnest($h::VARCHAR[]))""",
            {"h": hashes, "ins": f"{root}/inputs/*.parquet", "outs": f"{root}/outputs/*.parquet"},
        ).fetchall()
    else:
        rows = con.execute(
            """SELECT hash, from_address, to_address FROM read_parquet($txs)
               WHERE hash IN (SELECT unnest($h::VARCHAR[]))""",
            {"h": hashes, "txs": f"{root}/txs/*.parquet"},
        ).fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def test_round_trips_on_both_chains(cycles: list[dict[str, Any]]) -> None:
    assert {c["chain"] for c in cycles} == {"btc", "eth"}
    for c in cycles:
        assert c["scheme"] is None
        assert 3 <= len(c["tx_hashes"]) <= 5
        assert len(c["addresses"]) == len(c["tx_hashes"]) == len(set(c["addresses"]))
        assert c["last_time"] - c["first_time"] <= timedelta(days=2)


def test_each_round_trip_is_a_cycle_on_the_chain(world: Path, cycles: list[dict[str, Any]]) -> None:
    for chain in ("btc", "eth"):
        mine = [c for c in cycles if c["chain"] == chain]
        flows = _flows(world, chain, [h for c in mine for h in c["tx_hashes"]])
        by_tx: dict[str, set[tuple[str, str]]] = {}
        for tx, frm, to in flows:
            by_tx.setdefault(tx, set()).add((frm, to))
        for c in mine:
            addrs = c["addresses"]
            ring = list(zip(addrs, [*addrs[1:], addrs[0]], strict=True))
            for tx, (frm, to) in zip(c["tx_hashes"], ring, strict=True):
                assert (frm, to) in by_tx[tx], (c["id"], tx)


def test_the_launderer_is_listed_and_the_nominees_are_not(
    world: Path, cycles: list[dict[str, Any]]
) -> None:
    with (world / "truth" / "sanctions.csv").open() as f:
        listed = {r["address"] for r in csv.DictReader(f)}
    for c in cycles:
        assert c["addresses"][0] in listed
        assert not listed.intersection(c["addresses"][1:])


def test_round_trips_leave_the_older_plans_as_they_were() -> None:
    """Its actors are the last ones (numbered after every other), its draws its own."""
    params = params_for(**SMALL)
    plan = build_plan(params)
    plan_schemes(plan)
    planned = plan.extra[KEY]
    assert planned and {x["chain"] for x in planned} == {"btc", "eth"}
    mine = {x["actor"] for x in planned} | {
        m for x in planned for c in x["cycles"] for m in c["nominees"]
    }
    assert mine == set(range(len(plan.actors) - len(mine), len(plan.actors)))
    assert all(p < min(mine) for s in plan.schemes for p in s.perpetrators)
    assert all(plan.actors.get(a).category == "sanctioned" for a in (x["actor"] for x in planned))
    for x in planned:
        assert params.start <= x["time"] < params.start + params.days * DAY
        assert all(2 <= len(c["nominees"]) <= 4 for c in x["cycles"])

"""The content added to the world later: casino, terrorist financing, merchants and the mixer
on the account chain, agencies' call-back numbers (the invariants of test_world_invariants
cover these too: traceability, value, balances)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from chainsleuth.orgs.importer import read_agencies
from chainsleuth.world.crime import plan_schemes
from chainsleuth.world.plan import build_plan
from chainsleuth.world.presets import params_for
from harness.world import SMALL


@pytest.fixture(scope="module")
def con(world: Path) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    t = world / "truth"
    c.register("actors", pq.read_table(t / "actors.parquet"))
    for chain in ("btc", "eth"):
        c.register(f"addr_{chain}", pq.read_table(t / f"addresses_{chain}.parquet"))
    c.register("hops", pq.read_table(t / "scheme_hops.parquet"))
    c.register("mixer", pq.read_table(t / "custodial_mixer.parquet"))
    return c


def _scheme(world: Path, sid: str) -> dict[str, Any]:
    schemes = json.loads((world / "truth" / "schemes.json").read_text())
    return next(s for s in schemes if s["id"] == sid)


def test_casino_and_its_laundering_cash_out_at_exchange_a(
    world: Path, con: duckdb.DuckDBPyConnection
) -> None:
    roles = dict(
        con.execute(
            """SELECT role, count(*) FROM addr_btc JOIN actors USING (actor_id)
               WHERE category = 'gambling' GROUP BY role"""
        ).fetchall()
    )
    assert roles.get("hot") == 1 and roles.get("deposit", 0) >= 5
    scheme = _scheme(world, "GAMBLE-1")
    assert scheme["type"] == "gambling_laundering"
    path = scheme["laundering_path"]
    assert path.index("gambling_deposit") < path.index("gambling_payout") < path.index("cash_out")
    cash = scheme["cash_outs"]
    assert any(c["ours"] for c in cash)


def test_terrorist_financing_on_both_chains_and_sanctioned(
    world: Path, con: duckdb.DuckDBPyConnection
) -> None:
    scheme = _scheme(world, "TF-1")
    assert scheme["chains"] == ["btc", "eth"]
    steps = {
        (c, s)
        for c, s in con.execute("SELECT chain, step FROM hops WHERE scheme = 'TF-1'").fetchall()
    }
    assert {("btc", "donation"), ("eth", "donation"), ("eth", "mix_out")} <= steps
    (perpetrator,) = scheme["perpetrators"]
    group = perpetrator["actor"]
    category = con.execute("SELECT category FROM actors WHERE actor_id = ?", [group]).fetchone()
    assert category == ("terrorist_financing",) == (perpetrator["category"],)
    sanctions = pacsv.read_csv(world / "truth" / "sanctions.csv").to_pylist()
    listed = {(r["chain"], r["program"]) for r in sanctions if r["entity_actor"] == group}
    assert listed == {("btc", "SDGT"), ("eth", "SDGT")}
    tagpack = (world / "labels" / "world.tagpack.yaml").read_text()
    assert "abuse: terrorism" in tagpack and "category: gambling" in tagpack


def test_merchants_and_the_mixer_work_on_the_account_chain(
    world: Path, con: duckdb.DuckDBPyConnection
) -> None:
    merchants = con.execute(
        """SELECT count(*) FROM addr_eth JOIN actors USING (actor_id)
           WHERE type = 'merchant' AND role = 'receive'"""
    ).fetchone()
    assert merchants is not None and merchants[0] >= 3
    orders = con.execute(
        "SELECT count(*), count(scheme) FROM mixer WHERE chain = 'eth' AND asset = 'USDT'"
    ).fetchone()
    assert orders is not None and orders[0] >= 2 and orders[1] >= 1  # benign ones and TF-1's
    bad = con.execute(
        """SELECT count(*) FROM mixer
           WHERE CAST(payout_amount AS HUGEINT) >= CAST(deposit_amount AS HUGEINT)"""
    ).fetchone()
    assert bad == (0,)


def test_agencies_have_callback_numbers_the_registry_accepts(world: Path) -> None:
    agencies = read_agencies(world / "agencies")
    assert agencies and all(
        a.callback_phone and re.fullmatch(r"\+[1-9][0-9]{7,14}", a.callback_phone) for a in agencies
    )
    assert len({a.callback_phone for a in agencies}) == len(agencies)


def test_added_content_leaves_the_older_plans_as_they_were() -> None:
    """The added schemes come after the older ones, with actors numbered after theirs."""
    plan = build_plan(params_for(**SMALL))
    plan_schemes(plan)
    ids = [s.id for s in plan.schemes]
    assert ids[-2:] == ["GAMBLE-1", "TF-1"]
    older = [s for s in plan.schemes if s.id not in ("GAMBLE-1", "TF-1")]
    first_added = min(min(s.perpetrators) for s in plan.schemes[-2:])
    assert all(p < first_added for s in older for p in s.perpetrators)

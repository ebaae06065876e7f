"""Invariants of a generated world, checked on its own files (chains, truth, records)."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chainsleuth.chain.addresses import btc_address_type, canonical_eth
from chainsleuth.chain.batch import BlockRange
from chainsleuth.world.account_state import BLOCK_REWARD, WEI_PER_UNIT
from chainsleuth.world.load import read_range
from chainsleuth.world.manifest import read_manifest
from chainsleuth.world.utxo_state import SUBSIDY

NULL_ADDRESS = "0x" + "0" * 40


def chain_table(world: Path, chain: str, table: str) -> pa.Table:
    manifest = read_manifest(world)
    parts = [pq.read_table(world / r["files"][table]) for r in manifest["chains"][chain]["ranges"]]
    return pa.concat_tables(parts)


@pytest.fixture(scope="module")
def db(world: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for chain, tables in (
        ("btc", ("blocks", "txs", "outputs", "inputs")),
        ("eth", ("blocks", "txs", "token_transfers")),
    ):
        for table in tables:
            con.register(f"{chain}_{table}", chain_table(world, chain, table))
    con.register("hops", pq.read_table(world / "truth" / "scheme_hops.parquet"))
    return con


def test_batches_pass_validation(world: Path) -> None:
    manifest = read_manifest(world)
    for chain, info in manifest["chains"].items():
        for r in info["ranges"]:
            read_range(world, chain, r).validate()
            tables = {name: pq.read_table(world / rel) for name, rel in r["files"].items()}
            BlockRange.conform(chain, r["first"], r["last"], tables).validate()


def test_addresses_are_valid(world: Path, db: duckdb.DuckDBPyConnection) -> None:
    btc = (
        pq.read_table(world / "truth" / "addresses_btc.parquet", columns=["address"])
        .column(0)
        .to_pylist()
    )
    kinds = {btc_address_type(a) for a in btc}
    assert {"p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr"} <= {str(k) for k in kinds}
    eth = (
        pq.read_table(world / "truth" / "addresses_eth.parquet", columns=["address"])
        .column(0)
        .to_pylist()
    )
    assert all(canonical_eth(a) == a for a in eth)
    # every address used on chain is in the truth, with its actor
    used = db.execute(
        "SELECT DISTINCT address FROM btc_outputs WHERE address IS NOT NULL"
    ).fetchall()
    assert {a for (a,) in used} <= set(btc)
    used = db.execute(
        "SELECT DISTINCT from_address FROM eth_txs"
        " UNION SELECT DISTINCT to_address FROM eth_token_transfers"
    ).fetchall()
    assert {a for (a,) in used} <= set(eth) | {NULL_ADDRESS}


def test_no_double_spends_and_inputs_spend_earlier_outputs(db: duckdb.DuckDBPyConnection) -> None:
    dup = db.execute(
        "SELECT count(*) FROM (SELECT prev_tx_hash, prev_n FROM btc_inputs"
        " GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()
    assert dup == (0,)
    bad = db.execute(
        """SELECT count(*) FROM btc_inputs i
           JOIN btc_txs t ON t.hash = i.tx_hash
           LEFT JOIN btc_outputs o ON o.tx_hash = i.prev_tx_hash AND o.n = i.prev_n
           LEFT JOIN btc_txs p ON p.hash = i.prev_tx_hash
           WHERE o.tx_hash IS NULL OR o.address IS DISTINCT FROM i.address OR o.value <> i.value
              OR p.height > t.height OR (p.height = t.height AND p.position >= t.position)"""
    ).fetchone()
    assert bad == (0,)
    immature = db.execute(
        """SELECT count(*) FROM btc_inputs i JOIN btc_txs t ON t.hash = i.tx_hash
           JOIN btc_txs p ON p.hash = i.prev_tx_hash
           WHERE p.coinbase AND t.height - p.height < 100"""
    ).fetchone()
    assert immature == (0,)


def test_values_conserved_per_utxo_transaction(db: duckdb.DuckDBPyConnection) -> None:
    rows = db.execute(
        """WITH i AS (SELECT tx_hash, sum(value) v FROM btc_inputs GROUP BY 1),
                o AS (SELECT tx_hash, sum(value) v, count(*) n FROM btc_outputs GROUP BY 1)
           SELECT count(*) FILTER (WHERE NOT t.coinbase AND (i.v IS NULL OR i.v <> o.v + t.fee)),
                  count(*) FILTER (WHERE t.fee < 0),
                  count(*) FILTER (WHERE t.coinbase AND i.v IS NOT NULL)
           FROM btc_txs t JOIN o ON o.tx_hash = t.hash LEFT JOIN i ON i.tx_hash = t.hash"""
    ).fetchone()
    assert rows == (0, 0, 0)
    coinbase = db.execute(
        """WITH fees AS (SELECT height, sum(fee) f FROM btc_txs WHERE NOT coinbase GROUP BY 1),
                cb AS (SELECT t.height, sum(o.value) v FROM btc_txs t
                       JOIN btc_outputs o ON o.tx_hash = t.hash
                       WHERE t.coinbase GROUP BY 1)
           SELECT count(*) FILTER (WHERE cb.v <> ? + coalesce(fees.f, 0)), count(*)
           FROM cb LEFT JOIN fees USING (height)""",
        [SUBSIDY],
    ).fetchone()
    assert coinbase is not None and coinbase[0] == 0 and coinbase[1] > 0


def test_account_balances_never_negative(world: Path) -> None:
    """Replay every transaction in chain order: value and fees out of the sender (fees even
    when it failed), value in to the receiver, each block's reward and fees to its miner
    after the block; token transfers likewise (the null address mints)."""
    txs = chain_table(world, "eth", "txs").sort_by(
        [("height", "ascending"), ("position", "ascending")]
    )
    transfers = chain_table(world, "eth", "token_transfers").to_pylist()
    blocks = chain_table(world, "eth", "blocks").select(["height", "miner"]).to_pylist()
    by_tx: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in transfers:
        by_tx[t["tx_hash"]].append(t)
    by_height: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for tx in txs.to_pylist():
        by_height[tx["height"]].append(tx)
    eth: dict[str, int] = defaultdict(int)
    tokens: dict[tuple[str, str], int] = defaultdict(int)
    nonces: dict[str, int] = defaultdict(int)
    reward = BLOCK_REWARD * WEI_PER_UNIT
    for block in blocks:
        fees = 0
        for tx in by_height.get(block["height"], []):
            value, fee = int(tx["value"]), int(tx["fee"])
            sender = tx["from_address"]
            assert tx["nonce"] == nonces[sender], "nonces count up per sender"
            nonces[sender] += 1
            eth[sender] -= fee + (value if tx["status"] == 1 else 0)
            assert eth[sender] >= 0, f"{sender} overdrawn by {tx['hash']}"
            fees += fee
            if tx["status"] != 1:
                assert tx["hash"] not in by_tx, "a failed transaction moves no tokens"
                continue
            eth[tx["to_address"] or tx["created_contract"]] += value
            for t in sorted(by_tx.get(tx["hash"], []), key=lambda r: r["log_index"]):
                amount = int(t["amount"])
                if t["from_address"] != NULL_ADDRESS:
                    tokens[(t["token"], t["from_address"])] -= amount
                    assert tokens[(t["token"], t["from_address"])] >= 0, (
                        f"token overdraft in {tx['hash']}"
                    )
                tokens[(t["token"], t["to_address"])] += amount
        eth[block["miner"]] += fees + reward
    assert sum(1 for v in eth.values() if v > 0) > 100
    assert sum(1 for v in tokens.values() if v > 0) > 50


def _receivers(db: duckdb.DuckDBPyConnection, tx: str) -> set[str]:
    rows = db.execute(
        """SELECT to_address FROM eth_txs WHERE hash = ? AND status = 1 AND value > 0
           UNION SELECT created_contract FROM eth_txs
                 WHERE hash = ? AND created_contract IS NOT NULL
           UNION SELECT to_address FROM eth_token_transfers WHERE tx_hash = ?""",
        [tx, tx, tx],
    ).fetchall()
    return {r[0] for r in rows}


def _senders(db: duckdb.DuckDBPyConnection, tx: str) -> set[str]:
    rows = db.execute(
        "SELECT from_address FROM eth_txs WHERE hash = ?"
        " UNION SELECT from_address FROM eth_token_transfers WHERE tx_hash = ?",
        [tx, tx],
    ).fetchall()
    return {r[0] for r in rows}


def test_every_scheme_traceable_from_victim_to_cash_out(
    world: Path, db: duckdb.DuckDBPyConnection
) -> None:
    hops = pq.read_table(world / "truth" / "scheme_hops.parquet").to_pylist()
    by_id = {h["hop"]: h for h in hops}
    bridge = {
        r["record"]: r
        for r in pq.read_table(world / "truth" / "bridge_transfers.parquet").to_pylist()
    }
    custodial = pq.read_table(world / "truth" / "custodial_mixer.parquet").to_pylist()
    children: dict[str, list[str]] = defaultdict(list)
    for h in hops:
        assert h["link"] != "start" or not h["parents"]
        for p in h["parents"]:
            assert p in by_id, f"{h['hop']} names an unknown parent {p}"
            children[p].append(h["hop"])
            parent = by_id[p]
            if h["link"] == "spend":
                spent = db.execute(
                    "SELECT DISTINCT prev_tx_hash FROM btc_inputs WHERE tx_hash = ?", [h["tx_hash"]]
                ).fetchall()
                assert parent["tx_hash"] in {r[0] for r in spent} or any(
                    by_id[q]["tx_hash"] in {r[0] for r in spent} for q in h["parents"]
                ), f"{h['hop']} spends no output of its parents"
            elif h["link"] in ("account", "swap"):
                assert _receivers(db, parent["tx_hash"]) & _senders(db, h["tx_hash"]) or any(
                    _receivers(db, by_id[q]["tx_hash"]) & _senders(db, h["tx_hash"])
                    for q in h["parents"]
                ), f"{h['hop']} moves nothing its parents paid"
            elif h["link"] == "bridge":
                record = h["hop"].split(":release:")[1]
                assert bridge[record]["lock_tx"] == parent["tx_hash"]
                assert bridge[record]["release_tx"] == h["tx_hash"]
                assert bridge[record]["release_time"] >= bridge[record]["lock_time"]
            elif h["link"] == "custodial":
                assert any(
                    c["deposit_tx"] == parent["tx_hash"] and c["payout_tx"] == h["tx_hash"]
                    for c in custodial
                )
    schemes = json.loads((world / "truth" / "schemes.json").read_text())
    checked = 0
    for scheme in schemes:
        starts = [h for h in hops if h["scheme"] == scheme["id"] and h["link"] == "start"]
        for start in starts:
            seen, todo, cashed = set(), [start["hop"]], False
            while todo and not cashed:
                hop = todo.pop()
                if hop in seen:
                    continue
                seen.add(hop)
                cashed = by_id[hop]["cash_out_kind"] is not None
                todo += children[hop]
            assert cashed, f"{scheme['id']}: the funds of {start['hop']} never reach a cash-out"
            checked += 1
        if scheme["victims"]:
            assert len(scheme["payments"]) >= len(scheme["victims"])
    assert checked >= 20
    assert {s["type"] for s in schemes} >= {
        "ransomware",
        "defi_hack",
        "investment_scam",
        "darknet_market",
    }


def test_typologies_cover_the_catalogue(world: Path) -> None:
    typ = pq.read_table(world / "truth" / "typologies.parquet").to_pylist()
    names = {t["typology"] for t in typ}
    assert names >= {
        "peel_chain",
        "fan_in",
        "fan_out",
        "structuring",
        "pass_through",
        "coinjoin",
        "chain_hopping",
        "dormant_then_active",
        "money_mule",
    }


def test_exchange_records_match_the_chains(world: Path, db: duckdb.DuckDBPyConnection) -> None:
    import pyarrow.csv as pacsv

    deposits = pacsv.read_csv(world / "exchange" / "deposits.csv").to_pylist()
    assert deposits
    btc = [d for d in deposits if d["chain"] == "btc"]
    for d in btc[:200]:
        row = db.execute(
            "SELECT address, value FROM btc_outputs WHERE tx_hash = ? AND n = ?",
            [d["tx_hash"], d["output_index"]],
        ).fetchone()
        assert row is not None and row[0] == d["address"]
        assert Decimal(row[1]) / 10**8 == Decimal(str(d["amount"]))
    truth = pq.read_table(world / "truth" / "addresses_btc.parquet").to_pylist()
    ours = {
        r["address"]
        for r in truth
        if r["role"] == "deposit" and r["actor_id"] == truth_actor(world, "Exchange A")
    }
    assert {d["address"] for d in btc} <= ours
    ledger = pacsv.read_csv(
        world / "exchange" / "ledger.csv",
        convert_options=pacsv.ConvertOptions(
            column_types={"balance_after": pa.string(), "amount": pa.string()}
        ),
    ).to_pylist()
    assert all(Decimal(r["balance_after"]) >= 0 for r in ledger)
    customers = pacsv.read_csv(world / "exchange" / "customers.csv").to_pylist()
    assert len({c["email"] for c in customers}) == len(customers)
    assert len({c["country_of_residence"] for c in customers}) >= 10
    logins = pacsv.read_csv(world / "exchange" / "logins.csv").to_pylist()
    devices: dict[str, set[str]] = defaultdict(set)
    for s in logins:
        devices[s["device_id"]].add(s["customer_id"])
    assert any(len(c) >= 3 for c in devices.values()), "mules share their recruiter's device"


def truth_actor(world: Path, name: str) -> int:
    actors = pq.read_table(world / "truth" / "actors.parquet").to_pylist()
    return next(a["actor_id"] for a in actors if a["name"] == name)


def test_agency_requests_name_real_subjects(world: Path, db: duckdb.DuckDBPyConnection) -> None:
    import pyarrow.csv as pacsv

    agencies = pacsv.read_csv(world / "agencies" / "agencies.csv").to_pylist()
    officers = pacsv.read_csv(world / "agencies" / "officers.csv").to_pylist()
    domains = {a["agency_id"]: a["email_domain"] for a in agencies}
    assert all(o["email"].endswith("@" + domains[o["agency_id"]]) for o in officers)
    requests = pacsv.read_csv(world / "agencies" / "requests.csv").to_pylist()
    txs = [
        s["value"]
        for r in requests
        for s in json.loads(r["subjects"])
        if s["type"] == "transaction"
    ]
    assert txs
    for tx in txs[:50]:
        found = db.execute(
            "SELECT count(*) FROM btc_txs WHERE hash = ?"
            " UNION ALL SELECT count(*) FROM eth_txs WHERE hash = ?",
            [tx, tx],
        ).fetchall()
        assert sum(r[0] for r in found) == 1

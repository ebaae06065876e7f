"""The chain store on hand-built batches: appends, lookups, balances, flows, re-orgs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from chain_builders import (
    BTC,
    ETH,
    FEE,
    MINER,
    TOKEN,
    A,
    B,
    C,
    D,
    E,
    UTx,
    X,
    Y,
    Z,
    btc_history,
    eth_history,
    txid,
    utxo_batch,
)

from chainsleuth.chain.flows import Direction, flow_records, flows
from chainsleuth.chain.keys import address_key, address_keys
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.chain.store import ChainStore
from chainsleuth.chain.synthetic import AccountSynth, UtxoSynth
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound

UNUSED = "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChainStore]:
    with ChainStore(tmp_path / "chains", durable=False) as s:
        yield s


@pytest.fixture
def loaded(store: ChainStore) -> ChainStore:
    for batch in btc_history() + eth_history():
        store.append(batch)
    return store


@pytest.fixture
def reader(loaded: ChainStore) -> Iterator[ChainReader]:
    with loaded.reader() as r:
        yield r


def balances_consistent(reader: ChainReader, chain: str, address: str) -> None:
    """Running balances: newest equals the total; each older one is the newer less its change."""
    summary = reader.address_summary(chain, address)
    page = reader.address_txs(chain, address, limit=500)
    latest: dict[int, int] = {}
    for tx in page.txs:  # newest first
        for e in tx.entries:
            if e.asset.id in latest:
                assert e.balance == latest[e.asset.id]
            latest[e.asset.id] = e.balance - e.delta
    for totals in summary.assets:
        newest = next(e for tx in page.txs for e in tx.entries if e.asset.id == totals.asset.id)
        assert newest.balance == totals.balance
    assert all(v == 0 for v in latest.values())  # back to nothing before the first tx


# --- UTXO chain -------------------------------------------------------------------------------


def test_utxo_summary_and_running_balances(reader: ChainReader) -> None:
    a = reader.address_summary("btc", A)
    assert (a.tx_count, a.first_seen_height, a.last_seen_height) == (3, 0, 2)
    (btc,) = a.assets
    assert btc.received == 50 * BTC + (15 * BTC - FEE) + 10 * BTC
    assert btc.sent == 50 * BTC
    assert btc.balance == 25 * BTC - FEE
    assert a.kind == "p2wpkh"
    page = reader.address_txs("btc", A)
    assert [t.hash for t in page.txs] == [txid("t3"), txid("t1"), txid("c0")]
    assert [t.entries[0].balance for t in page.txs] == [25 * BTC - FEE, 15 * BTC - FEE, 50 * BTC]
    for address in (A, B, C, D, E, MINER):
        balances_consistent(reader, "btc", address)


def test_utxo_paging_is_keyset(reader: ChainReader) -> None:
    first = reader.address_txs("btc", MINER, limit=2)
    assert len(first.txs) == 2 and first.next_before is not None
    rest = reader.address_txs("btc", MINER, limit=2, before=first.next_before)
    assert [t.height for t in first.txs + rest.txs] == [3, 2, 1]
    assert rest.next_before is None
    assert rest.txs[0].entries[0].balance == 625_000_000 + 2 * FEE


def test_utxo_tx_with_inputs_outputs_op_return_and_spent_by(reader: ChainReader) -> None:
    tx = reader.tx("btc", txid("t1").upper())  # hashes are canonicalised
    assert tx.hash == txid("t1") and not tx.coinbase
    assert [(i.address, i.value) for i in tx.inputs] == [(A, 50 * BTC), (B, 25 * BTC)]
    assert tx.fee == FEE and tx.input_value == 75 * BTC
    outputs = [(o.address, o.value, o.script_type) for o in tx.outputs]
    assert outputs == [(C, 60 * BTC, "p2sh"), (A, 15 * BTC - FEE, "p2wpkh"), (None, 0, "nulldata")]
    assert tx.outputs[0].spent_by == txid("t2") and tx.outputs[0].spent_by_input == 0
    assert tx.outputs[1].spent_by is None
    coinbase = reader.tx("btc", txid("c0"))
    assert coinbase.coinbase and coinbase.inputs == [] and coinbase.fee == 0
    assert coinbase.outputs[1].spent_by == txid("t1")


def test_block_and_stats(reader: ChainReader) -> None:
    block = reader.block("btc", 1)
    assert block.tx_count == 3 and [t.hash for t in block.txs] == [
        txid(x) for x in ("c1", "t1", "t2")
    ]
    assert block.txs[0].coinbase and block.txs[1].inputs == 2 and block.txs[1].outputs == 3
    page = reader.block("btc", 1, limit=1, after=0)
    assert [t.position for t in page.txs] == [1] and page.next_after == 1
    stats = {c.chain: c for c in reader.stats().chains}
    assert (stats["btc"].tip_height, stats["btc"].blocks, stats["btc"].txs) == (3, 4, 7)
    assert stats["btc"].addresses == 6 and stats["btc"].outputs == 12
    assert (stats["eth"].txs, stats["eth"].token_transfers) == (5, 1)
    assert reader.stats().bytes > 0
    with pytest.raises(NotFound):
        reader.block("btc", 99)


def test_utxo_flows_split_inputs_proportionally_and_conserve_value(reader: ChainReader) -> None:
    rows = flows(reader, "btc", [A, B], direction=Direction.OUT).to_pylist()
    t1 = [r for r in rows if r["tx_id"] == 2]
    paid = {(r["from_id"], r["to_id"]): int(r["value"]) for r in t1}
    a_id, b_id, c_id = (reader.address_id("btc", x) for x in (A, B, C))
    assert paid[(a_id, c_id)] == 40 * BTC and paid[(b_id, c_id)] == 20 * BTC
    # the change output 15 BTC - fee: 2/3 from A, 1/3 from B, the odd satoshi to A
    change = 15 * BTC - FEE
    assert paid[(b_id, a_id)] == change // 3
    assert paid[(a_id, a_id)] == change * 2 // 3 + 1 == change - change // 3
    assert sum(paid.values()) == 75 * BTC - FEE  # the output value: flows conserve it
    every = flows(reader, "btc", list(range(6))).to_pylist()
    by_tx: dict[int, int] = {}
    for r in every:
        by_tx[r["tx_id"]] = by_tx.get(r["tx_id"], 0) + int(r["value"])
    for tx_hash, tx_id in ((txid("t2"), 3), (txid("t3"), 5), (txid("c1"), 1)):
        assert by_tx[tx_id] == reader.tx("btc", tx_hash).output_value
    coinbase = [r for r in every if r["tx_id"] == 0]
    assert {r["from_id"] for r in coinbase} == {None}  # new coins come from nowhere
    shown = flow_records(reader, "btc", flows(reader, "btc", [B], direction=Direction.OUT))
    assert {f.to_address for f in shown} == {A, C}
    assert flows(reader, "btc", [B], direction=Direction.OUT, min_value=21 * BTC).num_rows == 0


# --- account chain ----------------------------------------------------------------------------


def test_account_transfers_failed_tx_creation_and_tokens(reader: ChainReader) -> None:
    x = reader.address_summary("eth", X.lower())
    eth = x.assets[0]
    assert eth.asset.symbol == "ETH" and x.kind == "eoa"
    fee = 21_000 * 10**9
    assert eth.sent == 1 * ETH + 4 * fee  # the failed tx cost its fee, not its value
    y = reader.address_summary("eth", Y)
    assert [(t.asset.symbol, t.balance) for t in y.assets] == [
        ("ETH", ETH - ETH // 2 - fee),
        ("USDT", 100_000_000),
    ]
    assert y.assets[1].asset.decimals == 6 and y.assets[1].asset.token == TOKEN
    z = reader.address_summary("eth", Z)
    assert z.assets[0].received == ETH // 2  # not the 5 ETH of the failed tx
    failed = reader.tx("eth", txid("a2", prefixed=True))
    assert failed.status == 0 and failed.value == 5 * ETH and failed.to_address == Z
    creation = reader.tx("eth", txid("a3", prefixed=True))
    assert creation.to_address is None and creation.created_contract == TOKEN
    assert reader.address_summary("eth", TOKEN).kind == "contract"
    transfer = reader.tx("eth", txid("a4", prefixed=True))
    (tt,) = transfer.token_transfers
    assert (tt.token.symbol, tt.from_address, tt.to_address, tt.amount) == ("USDT", X, Y, 10**8)
    for address in (X, Y, Z, TOKEN):
        balances_consistent(reader, "eth", address)
    moved = flows(reader, "eth", [X], direction=Direction.OUT).to_pylist()
    assert [(r["asset_id"], int(r["value"])) for r in moved] == [
        (-1, ETH),
        (reader.address_id("eth", TOKEN), 10**8),
    ]
    block = reader.block("eth", 0)
    assert block.miner is not None and block.txs[1].status == 0


def test_search_finds_addresses_hashes_and_heights(reader: ChainReader) -> None:
    assert [(h.kind, h.chain, h.found) for h in reader.search(A)] == [("address", "btc", True)]
    assert reader.search(txid("t1"))[0].path == f"/chains/btc/txs/{txid('t1')}"
    assert {h.chain for h in reader.search("1")} == {"btc", "eth"}
    assert [h.found for h in reader.search(UNUSED)] == [False]
    assert reader.search("not-a-thing") == []
    block = reader.search(reader.block("btc", 2).hash)
    assert [(h.kind, h.value) for h in block] == [("block", "2")]


def test_lookups_refuse_bad_input(reader: ChainReader) -> None:
    with pytest.raises(InvalidInput):
        reader.address_summary("doge", A)
    with pytest.raises(InvalidInput):
        reader.address_summary("btc", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5")  # checksum
    with pytest.raises(InvalidInput):
        reader.tx("btc", "abc")
    with pytest.raises(NotFound):
        reader.tx("btc", txid("never"))
    with pytest.raises(NotFound):
        reader.address_summary("btc", UNUSED)


# --- appending: contiguity, idempotency, validation -------------------------------------------


def test_contiguity_and_idempotent_replay(store: ChainStore) -> None:
    first, second, third = btc_history()
    store.append(first)
    with pytest.raises(InvalidInput, match="must start at 1"):
        store.append(third)
    assert not store.append(second).skipped
    replay = store.append(second)
    assert replay.skipped and store.tip("btc") == 1
    other = utxo_batch(1, [[UTx("c1-other", [(MINER, 625_000_000)])]], fork="b")
    with pytest.raises(Conflict):
        store.append(other)
    orphan = utxo_batch(2, [[UTx("c2-x", [(MINER, 1)])]], parent="00" * 32)
    with pytest.raises(Conflict, match="re-org"):
        store.append(orphan)
    assert store.tip("btc") == 1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([UTx("cx", [(A, 1)]), UTx("ux", [(B, 1)], inputs=[("nowhere", 0)])], "not a known"),
        (
            [UTx("cx", [(A, 1)]), UTx("ux", [(B, 1)], inputs=[("c0", 0), ("c0", 0)])],
            "another input",
        ),
        ([UTx("cx", [(A, 1)]), UTx("ux", [(B, 60 * BTC)], inputs=[("c0", 0)])], "more than"),
        ([UTx("cx", [(A, 1)]), UTx("ux", [(B, 1)], inputs=[("c0", 0)], fee=7)], "fee"),
        (
            [
                UTx("cx", [(A, 1)]),
                UTx("ux", [(B, 1)], inputs=[("ux2", 0)]),
                UTx("ux2", [(B, 1)], inputs=[("c0", 1)]),
            ],
            "comes after",
        ),
    ],
)
def test_bad_batches_are_refused_whole(store: ChainStore, bad: list[UTx], message: str) -> None:
    store.append(btc_history()[0])
    with pytest.raises(InvalidInput, match=message):
        store.append(utxo_batch(1, [bad]))
    assert store.tip("btc") == 0
    with store.reader() as r:
        assert r.stats().chains[0].txs == 1
    files = list((store.root / "btc").glob("*/*.parquet"))
    segments = store.con.execute("SELECT count(*) FROM segments").fetchall()[0][0]
    assert len(files) == segments  # the refused batch left no file behind


def test_spent_output_cannot_be_spent_again(store: ChainStore) -> None:
    first, second, _ = btc_history()
    store.append(first)
    store.append(second)
    again = utxo_batch(2, [[UTx("c2", [(MINER, 1)]), UTx("dbl", [(A, 1)], inputs=[("c0", 0)])]])
    with pytest.raises(InvalidInput, match="not a known unspent"):
        store.append(again)


def test_address_key_does_not_depend_on_the_batch() -> None:
    alone = address_key(A)
    mixed_k1, mixed_k2 = address_keys(pa.array([D, A, None, "x"]))
    assert (int(mixed_k1[1]), int(mixed_k2[1])) == alone
    assert address_key(B) != alone


# --- re-orgs and change tracking --------------------------------------------------------------


def test_truncate_after_rolls_back_and_restores_spent_outputs(loaded: ChainStore) -> None:
    events_before = loaded.events()
    with loaded.reader() as r:
        a_id = r.address_id("btc", A)
    assert loaded.truncate_after("btc", 1) == 2
    assert loaded.tip("btc") == 1
    with loaded.reader() as r:
        a = r.address_summary("btc", A)
        assert (a.tx_count, a.assets[0].balance) == (2, 15 * BTC - FEE)
        with pytest.raises(NotFound):
            r.tx("btc", txid("t3"))
        assert r.tx("btc", txid("t2")).outputs[1].spent_by is None
        assert r.stats().chains[0].txs == 4
    # the output t3 spent is spendable again, by another block 2
    alternative = utxo_batch(
        2,
        [
            [
                UTx("c2b", [(MINER, 625_000_000)]),
                UTx("t3b", [(C, 30 * BTC - FEE)], inputs=[("t2", 1)]),
            ]
        ],
        fork="b",
    )
    loaded.append(alternative)
    with loaded.reader() as r:
        assert r.tx("btc", txid("t2")).outputs[1].spent_by == txid("t3b")
        balances_consistent(r, "btc", C)
        assert r.address_summary("btc", A).address_id == a_id  # ids survive re-orgs
    kinds = [e.kind for e in loaded.events(events_before[-1].seq)]
    assert kinds == ["truncate", "append"]
    assert loaded.truncate_after("btc", 10) == 0
    assert loaded.truncate_after("btc", -1) == 3
    assert loaded.tip("btc") is None
    loaded.append(btc_history()[0])  # an emptied chain starts again
    assert loaded.tip("btc") == 0


def test_changed_since_names_the_addresses_touched(loaded: ChainStore) -> None:
    with loaded.reader() as r:
        ids = {r.address_id("btc", x) for x in (A, E, MINER)}
    assert set(loaded.changed_since("btc", 1).tolist()) == ids
    assert loaded.changed_since("btc", 3).size == 0
    touched = set(loaded.changed_since("eth", 0).tolist())
    with loaded.reader() as r:
        assert touched == {r.address_id("eth", x) for x in (X, Y, Z, TOKEN)}


def test_store_reopens_with_its_data(tmp_path: Path) -> None:
    root = tmp_path / "chains"
    with ChainStore(root, durable=False) as s:
        for batch in btc_history():
            s.append(batch)
    with ChainStore(root, durable=False) as s, s.reader() as r:
        assert r.address_summary("btc", A).assets[0].balance == 25 * BTC - FEE
    con = duckdb.connect(str(root / "chainstore.duckdb"), read_only=True)
    try:  # the views work for anyone with DuckDB
        assert con.execute("SELECT count(*) FROM btc_outputs").fetchall() == [(12,)]
        spent = con.execute(
            "SELECT count(*) FROM btc_outputs_spent WHERE spent_by_tx_id IS NOT NULL"
        ).fetchall()
        assert spent == [(4,)]
        assert con.execute("SELECT count(*) FROM btc_addresses").fetchall() == [(6,)]
    finally:
        con.close()


# --- bulk batches and optimize ----------------------------------------------------------------


def test_optimize_rewrites_only_the_tables_of_the_chains_due(tmp_path: Path) -> None:
    """A full optimize of the account chain sorts its index tables (and the shared ones)
    as one run, and leaves the UTXO chain's own tables and run count as they were."""
    synth, accounts = UtxoSynth(seed=5, txs_per_block=40), AccountSynth(seed=6, txs_per_block=20)
    with ChainStore(tmp_path / "chains", durable=False) as s:
        for _ in range(2):  # two sorted runs on each chain
            s.append(synth.batch(600))
            s.append(accounts.batch(400))
            s.optimize()
        assert (s.state("btc").runs, s.state("eth").runs) == (2, 2)
        con = s.con

        def table_oids() -> dict[str, int]:
            return dict(con.execute("SELECT table_name, table_oid FROM duckdb_tables()").fetchall())

        before = table_oids()
        s.optimize("eth", full=True)
        after = table_oids()
        assert (s.state("btc").runs, s.state("eth").runs) == (2, 1)
        for table in ("utxo_address_txs", "spends", "utxos"):
            assert after[table] == before[table], f"{table} was rewritten"
        for table in ("account_address_txs", "addresses", "tx_keys"):
            assert after[table] != before[table], f"{table} was not rewritten"
        unsorted = con.execute(
            """SELECT count(*) FROM (
                   SELECT address_id, tx_id, lag(address_id) OVER (ORDER BY rowid) AS pa,
                          lag(tx_id) OVER (ORDER BY rowid) AS pt
                   FROM account_address_txs WHERE chain = 'eth')
               WHERE pa IS NOT NULL AND (pa, pt) > (address_id, tx_id)"""
        ).fetchall()[0][0]
        assert unsorted == 0
        with s.reader() as r:
            for (address_id,) in con.execute(
                "SELECT address_id FROM addresses WHERE chain = 'eth' ORDER BY k1 LIMIT 20"
            ).fetchall():
                balances_consistent(r, "eth", s.flat("eth").addresses([address_id])[0])


def test_synthetic_batches_small_appends_and_optimize_agree(tmp_path: Path) -> None:
    """Many small appends (sorted tails and runs) and optimize give the same lookups as
    a naive recomputation from the Parquet files."""
    synth, accounts = UtxoSynth(seed=3, txs_per_block=50), AccountSynth(seed=4, txs_per_block=20)
    with ChainStore(tmp_path / "chains", durable=False) as s:
        s.append(synth.batch(3000))
        for _ in range(6):
            s.append(synth.batch(400))
            s.append(accounts.batch(300))
        con = s.con
        naive = con.execute(
            """SELECT address_id, sum(v)::BIGINT FROM (
                   SELECT address_id, value AS v FROM btc_outputs WHERE address_id IS NOT NULL
                   UNION ALL SELECT address_id, -value FROM btc_inputs
               ) GROUP BY address_id ORDER BY random() LIMIT 40"""
        ).fetchall()

        def check() -> None:
            with s.reader() as r:
                for address_id, balance in naive:
                    text = s.flat("btc").addresses([address_id])[0]
                    assert r.address_summary("btc", text).assets[0].balance == balance
                    balances_consistent(r, "btc", text)

        check()
        s.optimize()
        check()
        s.optimize(full=True)
        assert s.state("btc").runs == 1
        check()
        utxos = con.execute("SELECT count(*) FROM utxos WHERE chain = 'btc'").fetchall()[0][0]
        unspent = con.execute(
            """SELECT count(*) FROM btc_outputs_spent
               WHERE spent_by_tx_id IS NULL AND script_type <> 'nulldata'"""
        ).fetchall()[0][0]
        assert utxos == unspent
        ids = np.array(s.changed_since("eth", -1))
        assert (
            ids.size
            == con.execute("SELECT count(*) FROM addresses WHERE chain='eth'").fetchall()[0][0]
        )

"""How appends encode a batch: exact 128-bit sums, work done ahead of ``append``, segments."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from chain_builders import TOKEN, A, ATx, B, C, X, Y, account_batch, txid, utxo_batch
from chain_builders import UTx as U

from chainsleuth.chain import maintenance
from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.encode import prepare_with, prepared
from chainsleuth.chain.prepare import prepare
from chainsleuth.chain.store import ChainStore
from chainsleuth.chain.synthetic import AccountSynth, UtxoSynth
from chainsleuth.core.errors import InvalidInput

FEE = 21_000 * 10**9


def test_account_amounts_beyond_64_bits_sum_exactly(tmp_path: Path) -> None:
    """The account index holds one row per address, transaction and asset, sorted, with
    exact sums where one transaction moves several amounts of an asset (carries past 2**64)."""
    big = 2**100 + 7
    a, b = 2**64 - 1, 2**64 + 5
    batch = account_batch(
        0,
        [
            [
                ATx("self", X, X, big),  # sends its value and fee, receives the value
                ATx(
                    "many",
                    X,
                    TOKEN,
                    0,
                    transfers=[(TOKEN, X, Y, a), (TOKEN, X, Y, b), (TOKEN, Y, X, 3)],
                ),
            ]
        ],
    )
    with ChainStore(tmp_path / "chains", durable=False) as store:
        store.append(batch)
        with store.reader() as r:
            eth, token = r.address_summary("eth", X).assets
            assert (eth.received, eth.sent) == (big, big + 2 * FEE)
            assert (token.received, token.sent) == (3, a + b)
            (y_token,) = r.address_summary("eth", Y).assets
            assert (y_token.received, y_token.sent) == (a + b, 3)
        rows = store.con.execute(
            "SELECT address_id, tx_id, asset_id FROM account_address_txs ORDER BY rowid"
        ).fetchall()
        assert rows == sorted(set(rows))


def test_account_sums_beyond_38_digits_are_refused(tmp_path: Path) -> None:
    huge = 6 * 10**37
    batch = account_batch(
        0, [[ATx("t", X, TOKEN, 0, transfers=[(TOKEN, X, Y, huge), (TOKEN, X, Y, huge)])]]
    )
    with ChainStore(tmp_path / "chains", durable=False) as store:
        with pytest.raises(InvalidInput, match="38 digits"):
            store.append(batch)
        assert store.tip("eth") is None


def _contents(store: ChainStore) -> dict[str, pa.Table]:
    tables = ["utxo_address_txs", "account_address_txs", "tx_keys", "addresses", "spends"]
    tables += ["utxos", "blocks", "btc_outputs", "btc_inputs", "btc_txs", "eth_txs"]
    tables += ["eth_token_transfers", "btc_addresses", "eth_addresses"]
    return {t: store.con.sql(f"SELECT * FROM {t} ORDER BY ALL").to_arrow_table() for t in tables}


def test_prepared_batches_append_alike(tmp_path: Path) -> None:
    """``prepare`` does a batch's store-free work ahead (a loader does it on its reading
    thread): appending prepared batches gives the same store as appending plain ones."""
    utxo, account = UtxoSynth(seed=5, txs_per_block=40), AccountSynth(seed=6)
    batches = [utxo.batch(600), account.batch(500), utxo.batch(400), account.batch(300)]
    with (
        ChainStore(tmp_path / "plain", durable=False) as plain,
        ChainStore(tmp_path / "prepared", durable=False) as ahead,
    ):
        for batch in batches:
            plain.append(batch)
        for batch in batches:
            assert prepare(batch).prepared is not None
            ahead.append(batch)
        assert _contents(plain) == _contents(ahead)


def test_prepared_work_is_used_only_for_the_same_tables() -> None:
    batch = utxo_batch(0, [[U("c0", [(None, 0)])]])
    calls: list[int] = []

    def build(_: BlockRange) -> int:
        calls.append(1)
        return len(calls)

    prepare_with(batch, "utxo", build)
    assert prepared(batch, "utxo", build) == 1 and prepared(batch, "account", build) == 2
    batch.tables["txs"] = batch.tables["txs"].slice(0)  # another table object: start over
    assert prepared(batch, "utxo", build) == 3


def test_a_bad_batch_is_left_unprepared_and_refused(tmp_path: Path) -> None:
    batch = utxo_batch(0, [[U("c0", [(None, 0)]), U("c0", [(None, 0)])]])
    assert prepare(batch).prepared is None
    with ChainStore(tmp_path / "chains", durable=False) as store:
        with pytest.raises(InvalidInput, match=f"{txid('c0')} appears twice"):
            store.append(batch)


def test_optimize_merges_only_the_segments_of_small_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Block-by-block appends leave small segments, which optimize merges; a bulk load's
    big segments stay as they are (rewriting them would cost more than it saves)."""
    monkeypatch.setattr(maintenance, "SMALL_BATCH_TXS", 300)
    synth = UtxoSynth(seed=8, txs_per_block=50)
    with ChainStore(tmp_path / "chains", durable=False) as store:
        for size in (400, 400, 100, 100, 100):
            store.append(synth.batch(size))

        def txs_segments() -> list[tuple[int, int]]:
            return store.con.execute(
                "SELECT first_tx_id, last_tx_id FROM segments WHERE tbl = 'txs' ORDER BY 1"
            ).fetchall()

        before = txs_segments()
        assert len(before) == 5
        store.optimize()
        after = txs_segments()
        assert after == [*before[:2], (before[2][0], before[-1][1])]
        (ddl,) = store.con.execute(
            "SELECT sql FROM duckdb_tables() WHERE table_name = 'blocks'"
        ).fetchone() or ("",)
        store.optimize(full=True)  # a full rewrite keeps each table's definition
        assert store.con.execute(
            "SELECT sql FROM duckdb_tables() WHERE table_name = 'blocks'"
        ).fetchone() == (ddl,)
        assert "USING COMPRESSION" in ddl.upper()


def test_account_sums_beyond_128_bits_are_refused(tmp_path: Path) -> None:
    """Sums are exact: three amounts of 38 digits overflow a signed 128-bit word."""
    huge = 9 * 10**37
    transfers = [(TOKEN, X, Y, huge)] * 3
    batch = account_batch(0, [[ATx("t", X, TOKEN, 0, transfers=transfers)]])
    with ChainStore(tmp_path / "chains", durable=False) as store:
        with pytest.raises(InvalidInput, match="overflow 128 bits"):
            store.append(batch)
        assert store.tip("eth") is None


def _with_column(batch: BlockRange, table: str, column: str, values: list[int]) -> None:
    t = batch.tables[table]
    i = t.schema.get_field_index(column)
    batch.tables[table] = t.set_column(i, t.schema.field(i), pa.array(values, t.schema[i].type))


def test_outputs_numbered_with_gaps_are_spent_within_the_batch(tmp_path: Path) -> None:
    """An input spends the output of its number, also where a transaction's numbers have
    gaps (no output at its first output's position plus that number)."""
    five = 5 * 10**8
    coinbase = U("c0", [(A, 2 * five), (B, five)])
    batch = utxo_batch(0, [[coinbase, U("t1", [(C, five)], [("c0", 7)])]])
    _with_column(batch, "outputs", "n", [0, 7, 0])
    _with_column(batch, "inputs", "prev_n", [7])
    with ChainStore(tmp_path / "chains", durable=False) as store:
        store.append(batch)
        spends = store.con.execute("SELECT prev_tx_id, prev_n, tx_id FROM spends").fetchall()
        assert spends == [(0, 7, 1)]
        unspent = store.con.execute("SELECT tx_id, n FROM utxos ORDER BY ALL").fetchall()
        assert unspent == [(0, 0), (1, 0)]
        with store.reader() as r:
            (b,) = r.address_summary("btc", B).assets
            assert (b.received, b.sent) == (five, five)

    missing = utxo_batch(0, [[coinbase, U("t1", [(C, five)], [("c0", 3)])]])
    _with_column(missing, "outputs", "n", [0, 7, 0])
    _with_column(missing, "inputs", "prev_n", [3])
    with ChainStore(tmp_path / "other", durable=False) as store:
        with pytest.raises(InvalidInput, match="not a known unspent"):
            store.append(missing)
        assert store.tip("btc") is None


def test_transfers_out_of_transaction_order_append_alike(tmp_path: Path) -> None:
    """Token transfers are found by their transaction's hash whatever their order."""
    txs = [
        ATx("a", X, TOKEN, 0, transfers=[(TOKEN, X, Y, 5), (TOKEN, X, Y, 6)]),
        ATx("b", Y, Y, 1),
        ATx("c", Y, TOKEN, 0, transfers=[(TOKEN, Y, X, 7)]),
    ]
    ordered = account_batch(0, [txs])
    shuffled = account_batch(0, [txs])
    transfers = shuffled.tables["token_transfers"]
    shuffled.tables["token_transfers"] = transfers.take(pa.array([2, 0, 1]))
    with (
        ChainStore(tmp_path / "ordered", durable=False) as one,
        ChainStore(tmp_path / "shuffled", durable=False) as two,
    ):
        one.append(ordered)
        two.append(shuffled)
        assert _contents(one) == _contents(two)
        rows = two.con.execute("SELECT tx_id, log_index FROM eth_token_transfers").fetchall()
        assert rows == [(0, 0), (0, 1), (2, 0)]

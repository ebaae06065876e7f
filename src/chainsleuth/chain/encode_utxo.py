"""Appending a batch of a UTXO chain: resolve inputs, keep the UTXO set, index addresses.

Inputs are resolved against the spent outputs: an output of the same batch, or one of the
store's **unspent** outputs (the ``utxos`` table, keyed by the spent transaction's 128-bit
hash key and the output number). The spent output's address and value are taken from there;
a value the source gave must agree. An input that spends an unknown or already spent output
is refused, and so is a batch that spends one output twice. Coinbase transactions have no
input rows. OP_RETURN (``nulldata``) outputs never enter the UTXO set.

A non-coinbase transaction's fee is its input value less its output value; a source's fee
must agree with it (0 is read as "unknown").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.chain import storage
from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.encode import (
    AddressOccurrences,
    ChainState,
    Emit,
    Encoded,
    TxKeys,
    address_occurrences,
    as_array,
    assign_addresses,
    block_index,
    check_tx_order,
    check_unique_hashes,
    insert,
    prepared,
    registered,
    sorted_rows,
    tx_positions,
)
from chainsleuth.chain.enums import ScriptType
from chainsleuth.chain.keys import hash_bytes, hash_keys
from chainsleuth.chain.schemas import STORED
from chainsleuth.core.errors import InvalidInput

SCHEMAS = STORED["utxo"]
SCRIPT_TYPE = SCHEMAS["outputs"].field("script_type").type


MAX_MONEY = 21_000_000 * 100_000_000  # satoshi: no output may hold more
_N_BITS = 20  # output numbers fit 20 bits (a transaction has far fewer than 2**20 outputs)


@dataclass
class UtxoPrep:
    """What a UTXO batch gives without the store: hashes, keys, rows in chain order, the
    address dictionary's occurrences. Checked for what needs no store state."""

    heights: np.ndarray
    raw: np.ndarray
    k1: np.ndarray
    k2: np.ndarray
    key_order: np.ndarray  # the transactions in ``k1`` order (rows of ``tx_keys``)
    outputs: pa.Table  # in chain order
    out_row: np.ndarray
    out_n: np.ndarray
    out_value: np.ndarray
    script_types: pa.Array
    addresses: AddressOccurrences
    inputs: pa.Table  # in chain order
    in_row: np.ndarray
    prev_k1: np.ndarray
    prev_k2: np.ndarray
    prev_row: pa.Array
    spendable: np.ndarray  # per output: it may be spent (not OP_RETURN)
    spent_pos: np.ndarray  # per input: the spendable output of the batch it spends, or -1


def prepare_utxo(batch: BlockRange) -> UtxoPrep:
    txs, outputs, inputs = batch.tables["txs"], batch.tables["outputs"], batch.tables["inputs"]
    heights = txs["height"].to_numpy()
    check_tx_order(heights, txs["position"].to_numpy(), batch.first_height, batch.last_height)
    tx_hash = as_array(txs["hash"])
    raw = hash_bytes(tx_hash, prefixed=False)
    k1, k2 = hash_keys(raw)
    check_unique_hashes(k1, k2, tx_hash)

    # outputs and inputs in chain order: by transaction, then number
    keys = TxKeys.of(k1, k2, prefixed=False)
    out_row = tx_positions(as_array(outputs["tx_hash"]), tx_hash, "an output", keys=keys)
    outputs, out_row = _in_chain_order(outputs, out_row, "output")
    out_n = outputs["n"].to_numpy().astype(np.int64)
    out_value = outputs["value"].to_numpy()
    _check_outputs(outputs, out_n, out_value)
    spenders = np.flatnonzero(~txs["coinbase"].to_numpy(zero_copy_only=False))
    in_row = tx_positions(as_array(inputs["tx_hash"]), tx_hash, "an input", spenders, keys)
    inputs, in_row = _in_chain_order(inputs, in_row, "input")
    prev_hash = as_array(inputs["prev_tx_hash"])
    prev_k1, prev_k2 = hash_keys(hash_bytes(prev_hash, prefixed=False))
    script_types = as_array(outputs["script_type"])
    spendable = pc.not_equal(script_types, ScriptType.NULLDATA.value).to_numpy(zero_copy_only=False)
    prev_row = _prev_rows(keys, prev_k1, prev_k2, prev_hash, tx_hash)
    spent_pos = _spent_in_batch(
        prev_row,
        inputs["prev_n"].to_numpy().astype(np.int64),
        out_row,
        out_n,
        spendable,
        len(tx_hash),
    )
    return UtxoPrep(
        heights=heights,
        raw=raw,
        k1=k1,
        k2=k2,
        key_order=keys.order,
        outputs=outputs,
        out_row=out_row,
        out_n=out_n,
        out_value=out_value,
        script_types=script_types,
        addresses=address_occurrences(as_array(outputs["address"]), heights[out_row], script_types),
        inputs=inputs,
        in_row=in_row,
        prev_k1=prev_k1,
        prev_k2=prev_k2,
        prev_row=prev_row,
        spendable=spendable,
        spent_pos=spent_pos,
    )


def _prev_rows(
    keys: TxKeys, prev_k1: np.ndarray, prev_k2: np.ndarray, prev_hash: pa.Array, tx_hash: pa.Array
) -> pa.Array:
    """Per input, the row of the batch's transaction it spends (null: not in the batch)."""
    if keys.unique_k1 and keys.k1.size:
        rows, here = keys.find(prev_k1, prev_k2)
        return pa.array(rows, mask=~here)
    return pc.index_in(prev_hash, value_set=tx_hash)


def _spent_in_batch(
    prev_row: pa.Array,
    prev_n: np.ndarray,
    out_row: np.ndarray,
    out_n: np.ndarray,
    spendable: np.ndarray,
    n_tx: int,
) -> np.ndarray:
    """Per input, the position among the batch's outputs (in chain order) of the spendable
    output it spends, or -1 (its transaction is not in the batch, or has no such output).

    Outputs are grouped by transaction: a transaction's output ``n`` is usually at its
    first output's position plus ``n`` (checked); the others are found by binary search."""
    pos = np.full(prev_n.size, -1, dtype=np.int64)
    rows = np.flatnonzero(pc.is_valid(prev_row).to_numpy(zero_copy_only=False))
    if not rows.size or not out_row.size:
        return pos
    prev = pc.fill_null(prev_row, 0).to_numpy().astype(np.int64)[rows]
    want = prev_n[rows]
    counts = np.bincount(out_row, minlength=n_tx)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    guess = starts[prev] + want
    ok = (want >= 0) & (want < counts[prev])
    ok[ok] = out_n[guess[ok]] == want[ok]
    rest = np.flatnonzero(~ok & (want >= 0) & (want < 1 << _N_BITS))
    if rest.size:  # output numbers with gaps: look them up
        key = (prev[rest] << _N_BITS) | want[rest]
        out_key = (out_row << _N_BITS) | out_n  # ascending: outputs are in chain order
        at = np.minimum(np.searchsorted(out_key, key), out_key.size - 1)
        found = out_key[at] == key
        guess[rest] = at
        ok[rest] = found
    hit = ok & spendable[np.where(ok, guess, 0)]
    pos[rows[hit]] = guess[hit]
    return pos


def encode_utxo(
    con: duckdb.DuckDBPyConnection, state: ChainState, batch: BlockRange, emit: Emit
) -> Encoded:
    chain = state.chain
    blocks, txs = batch.tables["blocks"], batch.tables["txs"]
    p = prepared(batch, "utxo", prepare_utxo)
    heights, raw, k1, k2 = p.heights, p.raw, p.k1, p.k2
    outputs, out_row, out_value = p.outputs, p.out_row, p.out_value
    inputs, in_row = p.inputs, p.in_row
    n_tx = txs.num_rows
    tx_ids = state.tx_count + np.arange(n_tx, dtype=np.int64)

    out_heights = heights[out_row]
    script_types = p.script_types
    addresses = assign_addresses(con, state, p.addresses)
    out_address = pa.array(addresses.ids, mask=addresses.ids < 0)
    out_tx = tx_ids[out_row]
    emit(
        "outputs",
        pa.table(
            {
                "tx_id": out_tx,
                "height": out_heights,
                "n": outputs["n"],
                "address_id": out_address,
                "value": out_value,
                "script_type": script_types.cast(SCRIPT_TYPE),
            }
        ).cast(SCHEMAS["outputs"]),
    )
    # each Parquet table goes to the background writer as soon as it is built
    block_rows, counts = block_index(chain, blocks, heights, state.tx_count)
    emit(
        "blocks",
        pa.table(
            {
                "height": blocks["height"],
                "hash": blocks["hash"],
                "prev_hash": blocks["prev_hash"],
                "time": blocks["time"],
                "tx_count": pa.array(counts.astype(np.int32)),
            }
        ).cast(SCHEMAS["blocks"]),
    )
    spendable = p.spendable
    resolved = _resolve_inputs(con, chain, p, out_tx=out_tx, out_address=addresses.ids)
    first_height = batch.first_height if state.first_height is None else state.first_height
    resolved, outside_new = _outside_inputs(
        con,
        replace(state, address_count=state.address_count + addresses.new.num_rows),
        p,
        resolved,
        first_height,
    )
    new_addresses = (
        pa.concat_tables([addresses.new, outside_new]) if outside_new.num_rows else addresses.new
    )
    emit("addresses", new_addresses)
    in_tx = tx_ids[in_row]
    in_value = _check_inputs(resolved, inputs, in_tx, first_height)
    # inputs spending outputs below the store's first block have no previous tx id (null)
    outside = resolved["outside"].to_numpy(zero_copy_only=False)
    prev_tx = pc.fill_null(resolved["prev_tx_id"], -1).to_numpy()
    in_address = resolved["address_id"]
    emit(
        "inputs",
        pa.table(
            {
                "tx_id": in_tx,
                "height": heights[in_row],
                "n": inputs["n"],
                "prev_tx_id": resolved["prev_tx_id"],
                "prev_n": inputs["prev_n"],
                "address_id": in_address,
                "value": in_value,
            }
        ).cast(SCHEMAS["inputs"]),
    )
    emit("txs", _txs_stored(txs, tx_ids, out_row, out_value, in_row, in_value).cast(SCHEMAS["txs"]))

    # the UTXO set: what this batch spends of the store goes; its unspent outputs come in
    unspent = spendable.copy()
    unspent[p.spent_pos[p.spent_pos >= 0]] = False
    new_utxos = pa.table(
        {
            "k1": k1[out_row],
            "k2": k2[out_row],
            "n": outputs["n"],
            "tx_id": out_tx,
            "address_id": out_address,
            "value": out_value,
        }
    ).filter(pa.array(unspent))
    # the spent rows by their row ids (found by the resolving join, same transaction)
    gone = pa.table({"utxo_row": resolved["utxo_row"]}).filter(pc.is_valid(resolved["utxo_row"]))
    with registered(con, gone) as t_gone, registered(con, new_utxos) as t_new:
        con.execute(f"DELETE FROM utxos WHERE rowid IN (SELECT utxo_row FROM {t_gone})").fetchall()
        con.execute(f"INSERT INTO utxos SELECT ?, * FROM {t_new}", [chain]).fetchall()

    linked = ~outside  # spent-by links only for outputs the store holds
    linked_prev, linked_n = prev_tx[linked], inputs["prev_n"].to_numpy().astype(np.int64)[linked]
    spends = sorted_rows(
        {
            "prev_tx_id": linked_prev,
            "prev_n": linked_n,
            "tx_id": in_tx[linked],
            "n": inputs["n"].to_numpy().astype(np.int64)[linked],
        },
        key=(linked_prev << _N_BITS) | linked_n,
    )
    insert(con, "spends", chain, spends)
    index = utxo_index(
        out_address=addresses.ids,
        out_tx=out_tx,
        out_value=out_value,
        in_address=pc.fill_null(in_address, -1).to_numpy(),
        in_tx=in_tx,
        in_value=in_value,
        heights=heights,
        first_tx_id=state.tx_count,
    )
    insert(con, "utxo_address_txs", chain, index)
    index_rows = index.num_rows
    insert(con, "tx_keys", chain, pa.table({"k1": k1[p.key_order], "tx_id": tx_ids[p.key_order]}))

    with registered(con, block_rows) as t_blocks:
        con.execute(f"INSERT INTO blocks SELECT * FROM {t_blocks}").fetchall()
    return Encoded(
        tx_hashes=raw,
        tx_times=txs["time"].cast(pa.int64()).to_numpy(),
        new_addresses=new_addresses,
        index_rows=int(index_rows),
    )


def _resolve_inputs(
    con: duckdb.DuckDBPyConnection,
    chain: str,
    p: UtxoPrep,
    *,
    out_tx: np.ndarray,
    out_address: np.ndarray,
) -> pa.Table:
    """The output each input spends: one of the batch (found with numpy) or an unspent
    one of the store (one DuckDB join). Columns ``prev_tx_id``, ``address_id``, ``value``
    (null where no spendable output was found), ``in_batch`` and ``utxo_row`` (the spent
    row of ``utxos``, null for an output of the batch)."""
    n = p.inputs.num_rows
    prev_n = p.inputs["prev_n"].to_numpy().astype(np.int64)
    in_batch = pc.is_valid(p.prev_row).to_numpy(zero_copy_only=False)
    found = np.zeros(n, dtype=bool)
    prev_tx = np.zeros(n, dtype=np.int64)
    address = np.full(n, -1, dtype=np.int64)
    value = np.zeros(n, dtype=np.int64)
    utxo_row = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(p.spent_pos >= 0)  # found by ``prepare_utxo``
    if rows.size:
        pos = p.spent_pos[rows]
        found[rows] = True
        prev_tx[rows], address[rows], value[rows] = out_tx[pos], out_address[pos], p.out_value[pos]
    outside = np.flatnonzero(~in_batch)
    if outside.size:
        keys = pa.table(
            {
                "row": outside,
                "k1": p.prev_k1[outside],
                "k2": p.prev_k2[outside],
                "n": prev_n[outside],
            }
        )
        with registered(con, keys) as t_ins:
            hits = storage.arrow(
                con,
                f"""SELECT i.row, u.tx_id, u.address_id, u.value, u.rowid AS utxo_row
                FROM {t_ins} i JOIN utxos u
                ON u.chain = ? AND u.k1 = i.k1 AND u.k2 = i.k2 AND u.n = i.n""",
                [chain],
            )
        at = hits["row"].to_numpy()
        # (a count per input, not np.unique: hashing millions of rows costs seconds)
        if at.size and int(np.bincount(at, minlength=n).max()) > 1:  # pragma: no cover
            raise InvalidInput("an input spends an output that two stored transactions share")
        found[at] = True
        prev_tx[at] = hits["tx_id"].to_numpy()
        address[at] = pc.fill_null(hits["address_id"], -1).to_numpy()
        value[at] = hits["value"].to_numpy()
        utxo_row[at] = hits["utxo_row"].to_numpy()
    missing = ~found
    return pa.table(
        {
            "prev_tx_id": pa.array(prev_tx, mask=missing),
            "address_id": pa.array(address, mask=address < 0),
            "value": pa.array(value, mask=missing),
            "in_batch": pa.array(in_batch),
            "utxo_row": pa.array(utxo_row, mask=utxo_row < 0),
        }
    )


def _outside_inputs(
    con: duckdb.DuckDBPyConnection,
    state: ChainState,
    p: UtxoPrep,
    resolved: pa.Table,
    first_height: int,
) -> tuple[pa.Table, pa.Table]:
    """Inputs that spend an output below the store's first block (a chain loaded from a
    height above 0): taken as the source describes them (its value and address, Bitcoin
    Core's verbosity 3 ``prevout``), with no previous tx id. Only where the store's first
    block is above 0 and the source gave the value; the others stay unresolved (refused).
    A spent transaction the store holds is never outside (its output is spent already, or
    never was): that stays a refused double or unknown spend.
    Adds the column ``outside``; returns the new addresses their addresses make too."""
    inputs = p.inputs
    missing = pc.is_null(resolved["value"]).to_numpy(zero_copy_only=False)
    outside = missing & pc.is_valid(inputs["value"]).to_numpy(zero_copy_only=False)
    outside &= (first_height > 0) & ~resolved["in_batch"].to_numpy(zero_copy_only=False)
    if outside.any():
        keys = pa.table({"row": np.flatnonzero(outside), "k1": p.prev_k1[outside]})
        with registered(con, keys) as t_keys:
            held = storage.arrow(
                con,
                f"SELECT i.row FROM {t_keys} i JOIN tx_keys k ON k.chain = ? AND k.k1 = i.k1",
                [state.chain],
            )
        outside[held["row"].to_numpy()] = False
    if not outside.any():
        flag = pa.array(np.zeros(resolved.num_rows, dtype=bool))
        return resolved.append_column("outside", flag), storage.ADDRESS_SEGMENT.empty_table()
    rows = np.flatnonzero(outside)
    texts = as_array(inputs["address"]).take(pa.array(rows))
    found = assign_addresses(
        con,
        state,
        address_occurrences(texts, p.heights[p.in_row][rows], pa.nulls(len(rows), pa.string())),
    )
    address = pc.fill_null(resolved["address_id"], -1).to_numpy().copy()
    address[rows] = found.ids
    value = pc.fill_null(resolved["value"], 0).to_numpy().copy()
    value[rows] = as_array(inputs["value"]).take(pa.array(rows)).to_numpy()
    still_missing = missing & ~outside
    table = resolved.set_column(
        resolved.schema.get_field_index("address_id"),
        "address_id",
        pa.array(address, mask=address < 0),
    )
    table = table.set_column(
        table.schema.get_field_index("value"), "value", pa.array(value, mask=still_missing)
    )
    return table.append_column("outside", pa.array(outside)), found.new


def utxo_index(
    *,
    out_address: np.ndarray,
    out_tx: np.ndarray,
    out_value: np.ndarray,
    in_address: np.ndarray,
    in_tx: np.ndarray,
    in_value: np.ndarray,
    heights: np.ndarray,
    first_tx_id: int,
) -> pa.Table:
    """Rows of ``utxo_address_txs``: per address and transaction what it received and sent,
    sorted by (address_id, tx_id). Built with one numpy sort; ids fit the packed key
    (address ids below 2**39, a batch below 2**24 transactions)."""
    address = np.concatenate([out_address, in_address.astype(np.int64)])
    tx = np.concatenate([out_tx, in_tx])
    received = np.concatenate([out_value, np.zeros(in_value.size, np.int64)])
    sent = np.concatenate([np.zeros(out_value.size, np.int64), in_value])
    keep = address >= 0
    address, tx, received, sent = address[keep], tx[keep], received[keep], sent[keep]
    offset = tx - first_tx_id
    if address.size and (address.max() >= 1 << 39 or offset.max() >= 1 << 24):
        raise InvalidInput("a batch must hold fewer than 16 million transactions")
    key = (address << 24) | offset
    order = np.argsort(key)
    key = key[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if key.size else key
    tx_ids = (key[starts] & ((1 << 24) - 1)) + first_tx_id
    return pa.table(
        {
            "address_id": key[starts] >> 24,
            "tx_id": tx_ids,
            "height": heights[tx_ids - first_tx_id],
            "received": np.add.reduceat(received[order], starts) if key.size else received,
            "sent": np.add.reduceat(sent[order], starts) if key.size else sent,
        }
    )


def _in_chain_order(table: pa.Table, rows: np.ndarray, what: str) -> tuple[pa.Table, np.ndarray]:
    """The rows sorted by (transaction, number), refusing a number that appears twice."""
    n = table["n"].to_numpy().astype(np.int64)
    if n.size and (n.min() < 0 or n.max() >= 1 << _N_BITS):
        raise InvalidInput(f"an {what} number is out of range")
    d_row, d_n = np.diff(rows), np.diff(n)
    if not bool(((d_row > 0) | ((d_row == 0) & (d_n > 0))).all()):
        order = np.lexsort((n, rows))
        table, rows, n = table.take(pa.array(order)), rows[order], n[order]
        d_row, d_n = np.diff(rows), np.diff(n)
    dup = np.flatnonzero((d_row == 0) & (d_n == 0))
    if dup.size:
        i = int(dup[0])
        raise InvalidInput(
            f"{what} {n[i]} of transaction {table['tx_hash'][i].as_py()} appears twice in the batch"
        )
    return table, rows


def _check_outputs(outputs: pa.Table, n: np.ndarray, value: np.ndarray) -> None:
    if outputs.num_rows == 0:
        return
    if value.min() < 0 or value.max() > MAX_MONEY:
        raise InvalidInput("an output's value is negative or above the coin's maximum supply")
    known = {str(s) for s in ScriptType}
    seen = set(pc.unique(outputs["script_type"]).to_pylist())
    if not seen <= known:
        raise InvalidInput(f"unknown script type(s): {', '.join(sorted(seen - known))}")


def _check_inputs(
    resolved: pa.Table, inputs: pa.Table, in_tx: np.ndarray, first_height: int = 0
) -> np.ndarray:
    """The spent values; refuses unknown or double spends and wrong values from the source."""
    value = resolved["value"]
    if value.null_count:
        row = int(pc.index(pc.is_null(value), True).as_py())
        spent = f"{inputs['prev_tx_hash'][row].as_py()}:{inputs['prev_n'][row].as_py()}"
        where = (
            f"input {inputs['n'][row].as_py()} of transaction {inputs['tx_hash'][row].as_py()} "
            f"spends {spent}"
        )
        if first_height > 0:
            raise InvalidInput(
                f"{where}, which is neither in the store (it starts at block {first_height}) "
                "nor described by the source: load from a node that gives prevouts (Bitcoin "
                "Core 25 or later, getblock verbosity 3), or from block 0"
            )
        raise InvalidInput(f"{where}, which is not a known unspent output")
    values: np.ndarray = value.to_numpy().astype(np.int64)
    if not values.size:
        return values
    outside = resolved["outside"].to_numpy(zero_copy_only=False)
    prev = np.where(outside, -1, pc.fill_null(resolved["prev_tx_id"], -1).to_numpy())
    bad_order = np.flatnonzero(prev >= in_tx)
    if bad_order.size:
        row = int(bad_order[0])
        raise InvalidInput(
            f"transaction {inputs['tx_hash'][row].as_py()} spends an output of a transaction "
            "that comes after it"
        )
    key = (prev << _N_BITS) | inputs["prev_n"].to_numpy().astype(np.int64)
    ordered = np.sort(key[~outside])  # (outside the store: the source's word)
    twice = ordered[1:][ordered[1:] == ordered[:-1]]
    if twice.size:
        row = int(np.flatnonzero((key == twice[0]) & ~outside)[1])
        raise InvalidInput(
            f"transaction {inputs['tx_hash'][row].as_py()} spends "
            f"{inputs['prev_tx_hash'][row].as_py()}:{inputs['prev_n'][row].as_py()}, "
            "which another input of the batch spends too"
        )
    given = inputs["value"]
    if given.null_count < len(given):
        mismatch = pc.fill_null(pc.not_equal(given, value), False)
        if pc.any(mismatch).as_py():
            row = int(pc.index(mismatch, True).as_py())
            raise InvalidInput(
                f"input {inputs['n'][row].as_py()} of transaction "
                f"{inputs['tx_hash'][row].as_py()} claims value {given[row].as_py()} but the "
                f"output it spends holds {values[row]}"
            )
    return values


def _segment_sums(rows: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Count and exact int64 sum of ``values`` per row number (``rows`` sorted)."""
    counts = np.bincount(rows, minlength=n).astype(np.int64)
    sums = np.zeros(n, dtype=np.int64)
    nonempty = counts > 0
    if values.size:
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        sums[nonempty] = np.add.reduceat(values.astype(np.int64), starts[nonempty])
    return counts, sums


def _txs_stored(
    txs: pa.Table,
    tx_ids: np.ndarray,
    out_row: np.ndarray,
    out_value: np.ndarray,
    in_row: np.ndarray,
    in_value: np.ndarray,
) -> pa.Table:
    n_tx = txs.num_rows
    n_out, v_out = _segment_sums(out_row, out_value, n_tx)
    n_in, v_in = _segment_sums(in_row, in_value, n_tx)
    coinbase = txs["coinbase"].to_numpy(zero_copy_only=False)
    source_fee = txs["fee"].to_numpy()
    fee = np.where(coinbase, 0, v_in - v_out)

    def first(mask: np.ndarray) -> str:
        return str(txs["hash"][int(np.flatnonzero(mask)[0])].as_py())

    if (coinbase & (n_in > 0)).any():
        raise InvalidInput(f"coinbase transaction {first(coinbase & (n_in > 0))} has inputs")
    if (~coinbase & (n_in == 0)).any():
        raise InvalidInput(f"transaction {first(~coinbase & (n_in == 0))} has no inputs")
    if (fee < 0).any():
        raise InvalidInput(f"transaction {first(fee < 0)} pays out more than its inputs hold")
    wrong_fee = (source_fee != 0) & (source_fee != fee)
    if wrong_fee.any():
        raise InvalidInput(
            f"transaction {first(wrong_fee)} states a fee that is not its input value less "
            "its output value"
        )
    return pa.table(
        {
            "tx_id": tx_ids,
            "hash": txs["hash"],
            "height": txs["height"],
            "position": txs["position"],
            "time": txs["time"],
            "coinbase": txs["coinbase"],
            "fee": fee,
            "locktime": txs["locktime"],
            "version": txs["version"],
            "size": txs["size"],
            "input_count": n_in.astype(np.int32),
            "output_count": n_out.astype(np.int32),
            "input_value": v_in,
            "output_value": v_out,
        }
    )

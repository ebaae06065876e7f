"""Appending a batch of an account chain: transactions, token transfers, tokens.

Balances on an account chain are what the stored data supports: a transaction moves its
value from sender to receiver (or to the contract it creates) when it succeeded, and its
sender always pays the fee; ERC-20 transfers move token amounts; internal transfers (the
``traces`` table, where the source has traces) move ETH from the calling contract to the
called address when they succeeded. Block rewards and fee burning are not in the source
model, so the native balance of a miner (or, without traces, of a contract) is not its
on-chain balance.

An address's ``kind`` is ``contract`` when it was created by a transaction or is a token,
``eoa`` when it sent a transaction, and unknown otherwise (as first seen).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
    tx_positions,
)
from chainsleuth.chain.kernels import group_sums
from chainsleuth.chain.keys import hash_bytes, hash_keys
from chainsleuth.chain.schemas import AMOUNT256, STORED
from chainsleuth.chain.storage import NATIVE_ASSET
from chainsleuth.core.errors import InvalidInput

SCHEMAS = STORED["account"]


_KINDS = pa.array([None, "eoa", "contract"], pa.string())


@dataclass
class AccountPrep:
    """What an account batch gives without the store: hashes, keys, each transfer's
    transaction, the address dictionary's occurrences (every address column in one)."""

    heights: np.ndarray
    raw: np.ndarray
    k1: np.ndarray
    k2: np.ndarray
    key_order: np.ndarray  # the transactions in ``k1`` order (rows of ``tx_keys``)
    tt_row: np.ndarray
    tr_row: np.ndarray  # each internal transfer's transaction (row in ``txs``)
    lengths: list[int]  # occurrences per address column, in ``_address_columns`` order
    addresses: AddressOccurrences


def _address_columns(
    batch: BlockRange, heights: np.ndarray, tt_row: np.ndarray, tr_row: np.ndarray
) -> list[Any]:
    """(addresses, their heights, their kind code in ``_KINDS``) of every address column."""
    blocks, txs = batch.tables["blocks"], batch.tables["txs"]
    transfers, tokens = batch.tables["token_transfers"], batch.tables["tokens"]
    traces = batch.table("traces")
    tt_heights = heights[tt_row]
    tr_heights = heights[tr_row]
    return [
        (as_array(txs["from_address"]), heights, 1),
        (as_array(txs["to_address"]), heights, 0),
        (as_array(txs["created_contract"]), heights, 2),
        (as_array(blocks["miner"]), blocks["height"].to_numpy(), 0),
        (as_array(transfers["token"]), tt_heights, 2),
        (as_array(transfers["from_address"]), tt_heights, 0),
        (as_array(transfers["to_address"]), tt_heights, 0),
        (as_array(tokens["address"]), np.full(tokens.num_rows, batch.last_height), 2),
        (as_array(traces["from_address"]), tr_heights, 0),
        (as_array(traces["to_address"]), tr_heights, 0),
    ]


def prepare_account(batch: BlockRange) -> AccountPrep:
    txs, transfers = batch.tables["txs"], batch.tables["token_transfers"]
    heights = txs["height"].to_numpy()
    check_tx_order(heights, txs["position"].to_numpy(), batch.first_height, batch.last_height)
    tx_hash = as_array(txs["hash"])
    raw = hash_bytes(tx_hash, prefixed=True)
    k1, k2 = hash_keys(raw)
    check_unique_hashes(k1, k2, tx_hash)
    _check_txs(txs)
    keys = TxKeys.of(k1, k2, prefixed=True)
    tt_row = tx_positions(as_array(transfers["tx_hash"]), tx_hash, "a token transfer", keys=keys)
    traces = batch.table("traces")
    _check_traces(traces)
    tr_row = tx_positions(as_array(traces["tx_hash"]), tx_hash, "an internal transfer", keys=keys)
    # every address column, in one dictionary pass
    columns = _address_columns(batch, heights, tt_row, tr_row)
    lengths = [len(c[0]) for c in columns]
    texts = pa.concat_arrays([c[0].cast(pa.string()) for c in columns])
    all_heights = np.concatenate([c[1] for c in columns]).astype(np.int64)
    codes = np.repeat(np.array([c[2] for c in columns], dtype=np.int32), lengths)
    kinds = _KINDS.take(pa.array(codes))
    return AccountPrep(
        heights=heights,
        raw=raw,
        k1=k1,
        k2=k2,
        key_order=keys.order,
        tt_row=tt_row,
        tr_row=tr_row,
        lengths=lengths,
        addresses=address_occurrences(texts, all_heights, kinds),
    )


def encode_account(
    con: duckdb.DuckDBPyConnection, state: ChainState, batch: BlockRange, emit: Emit
) -> Encoded:
    chain = state.chain
    blocks, txs = batch.tables["blocks"], batch.tables["txs"]
    transfers, tokens = batch.tables["token_transfers"], batch.tables["tokens"]
    p = prepared(batch, "account", prepare_account)
    heights, raw, k1, tt_row, tr_row = p.heights, p.raw, p.k1, p.tt_row, p.tr_row
    tt_heights = heights[tt_row]
    traces = batch.table("traces")
    n_tx = txs.num_rows
    tx_ids = state.tx_count + np.arange(n_tx, dtype=np.int64)
    assigned = assign_addresses(con, state, p.addresses)
    parts: list[pa.Array] = []
    start = 0
    for length in p.lengths:
        ids = assigned.ids[start : start + length]
        parts.append(pa.array(ids, mask=ids < 0))
        start += length
    from_id, to_id, contract_id, miner_id, token_id, tt_from, tt_to, token_meta_id = parts[:8]
    tr_from, tr_to = parts[8:]

    tx_stored = pa.table(
        {
            "tx_id": tx_ids,
            "hash": txs["hash"],
            "height": txs["height"],
            "position": txs["position"],
            "time": txs["time"],
            "from_id": from_id,
            "to_id": to_id,
            "value": txs["value"],
            "fee": txs["fee"],
            "status": txs["status"],
            "method": txs["method"],
            "created_contract_id": contract_id,
            "nonce": txs["nonce"],
            "gas_used": txs["gas_used"],
        }
    ).cast(SCHEMAS["txs"])
    # each Parquet table goes to the background writer as soon as it is built, so that
    # it is written while the index rows below are built and inserted
    emit("txs", tx_stored)
    emit("addresses", assigned.new)
    block_rows, counts = block_index(chain, blocks, heights, state.tx_count)
    emit(
        "blocks",
        pa.table(
            {
                "height": blocks["height"],
                "hash": blocks["hash"],
                "prev_hash": blocks["prev_hash"],
                "time": blocks["time"],
                "miner_id": miner_id,
                "tx_count": pa.array(counts.astype(np.int32)),
            }
        ).cast(SCHEMAS["blocks"]),
    )
    tt_stored = pa.table(
        {
            "tx_id": tx_ids[tt_row],
            "height": tt_heights,
            "log_index": transfers["log_index"],
            "token_id": token_id,
            "from_id": tt_from,
            "to_id": tt_to,
            "amount": transfers["amount"],
        }
    ).cast(SCHEMAS["token_transfers"])
    if tt_stored.num_rows:
        tt_stored = tt_stored.sort_by([("tx_id", "ascending"), ("log_index", "ascending")])
    emit("token_transfers", tt_stored)
    tr_stored = pa.table(
        {
            "tx_id": tx_ids[tr_row],
            "height": heights[tr_row],
            "trace_address": traces["trace_address"],
            "from_id": tr_from,
            "to_id": tr_to,
            "value": traces["value"],
            "trace_type": traces["trace_type"],
            "call_type": traces["call_type"],
            "status": traces["status"],
            "error": traces["error"],
        }
    ).cast(SCHEMAS["traces"])
    if tr_stored.num_rows:
        tr_stored = tr_stored.take(pa.array(np.argsort(tx_ids[tr_row], kind="stable")))
    emit("traces", tr_stored)

    index = account_index(
        txs=txs,
        tx_ids=tx_ids,
        heights=heights,
        from_id=from_id,
        to_id=to_id,
        contract_id=contract_id,
        tt_row=tt_row,
        token_id=token_id,
        tt_from=tt_from,
        tt_to=tt_to,
        amounts=as_array(transfers["amount"]),
        tr_row=tr_row,
        tr_from=tr_from,
        tr_to=tr_to,
        tr_value=as_array(traces["value"]),
        tr_moved=traces["status"].to_numpy() == 1,
    )
    insert(con, "account_address_txs", chain, index)
    index_rows = index.num_rows
    insert(con, "tx_keys", chain, pa.table({"k1": k1[p.key_order], "tx_id": tx_ids[p.key_order]}))
    _upsert_tokens(con, chain, tokens, token_meta_id)

    with registered(con, block_rows) as t_blocks:
        con.execute(f"INSERT INTO blocks SELECT * FROM {t_blocks}").fetchall()
    return Encoded(
        tx_hashes=raw,
        tx_times=txs["time"].cast(pa.int64()).to_numpy(),
        new_addresses=assigned.new,
        index_rows=int(index_rows),
    )


def account_index(
    *,
    txs: pa.Table,
    tx_ids: np.ndarray,
    heights: np.ndarray,
    from_id: pa.Array,
    to_id: pa.Array,
    contract_id: pa.Array,
    tt_row: np.ndarray,
    token_id: pa.Array,
    tt_from: pa.Array,
    tt_to: pa.Array,
    amounts: pa.Array,
    tr_row: np.ndarray | None = None,
    tr_from: pa.Array | None = None,
    tr_to: pa.Array | None = None,
    tr_value: pa.Array | None = None,
    tr_moved: np.ndarray | None = None,
) -> pa.Table:
    """Rows of ``account_address_txs``: per address, transaction and asset what it received
    and sent, sorted by (address_id, tx_id, asset_id).

    A transaction's sender sends its value (when it succeeded) and its fee; its receiver
    (or the contract it creates) receives the value; a token transfer moves its amount; an
    internal transfer that succeeded (``tr_moved``) moves its value from caller to callee.
    Built with one numpy sort of packed keys; sums are exact 128-bit (``decimal128``)."""
    first_tx_id = int(tx_ids[0]) if tx_ids.size else 0
    n_tx = tx_ids.size
    value = _words(as_array(txs["value"]))
    value[txs["status"].to_numpy() != 1] = 0
    receiver = as_array(pc.coalesce(to_id, contract_id))
    has_receiver = pc.is_valid(receiver).to_numpy(zero_copy_only=False)
    tx_row = np.arange(n_tx, dtype=np.int64)
    token = _ids(token_id)
    # one row per contribution: the sender's value and fee, the receiver's value, each
    # transfer's sender and receiver; ``sent`` says which side of the row it is
    parts: list[tuple[pa.Array | np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, bool]] = [
        (from_id, tx_row, None, _add_words(value, _words(as_array(txs["fee"]))), True),
        (receiver, tx_row, None, value, False),
        (tt_from, tt_row, token, _words(amounts), True),
        (tt_to, tt_row, token, _words(amounts), False),
    ]
    keep: list[np.ndarray | None] = [None, has_receiver, None, None]
    if tr_row is not None and tr_row.size:
        assert tr_from is not None and tr_to is not None and tr_value is not None
        words = _words(tr_value)
        parts.append((tr_from, tr_row, None, words, True))
        parts.append((tr_to, tr_row, None, words, False))
        keep += [tr_moved, tr_moved]
    address_l, row_l, asset_l, amount_l, sent_l = [], [], [], [], []
    for (ids, rows, assets, amount, sent), mask in zip(parts, keep, strict=True):
        ids = _ids(ids)
        if mask is not None:
            ids, rows, amount = ids[mask], rows[mask], amount[mask]
        address_l.append(ids)
        row_l.append(rows)
        asset_l.append(np.full(rows.size, NATIVE_ASSET, np.int64) if assets is None else assets)
        amount_l.append(amount)
        sent_l.append(np.full(rows.size, sent))
    address, row, asset = np.concatenate(address_l), np.concatenate(row_l), np.concatenate(asset_l)
    amount, is_sent = np.concatenate(amount_l), np.concatenate(sent_l)
    if address.size and address.min() < 0:  # pragma: no cover - every column is resolved
        raise InvalidInput("a transaction or transfer names no address")
    # assets sort as ranks: native first (-1), then tokens by id (a batch names a few
    # tokens: Arrow's hash of them is ten times numpy's sort of every transfer's)
    ranks = np.sort(pc.unique(pa.array(token)).to_numpy()) if token.size else token
    if token.size:
        asset_rank = np.where(asset == NATIVE_ASSET, 0, np.searchsorted(ranks, asset) + 1)
    else:
        asset_rank = np.zeros(asset.size, dtype=np.int64)
    assets = np.concatenate([[NATIVE_ASSET], ranks]).astype(np.int64)
    key = _packed_key(address, row, asset_rank, ranks.size + 1)
    order = np.argsort(key)  # a key per (address, tx, asset): ties are one group
    first, received_u, sent_u, overflow = group_sums(
        order, key, np.ascontiguousarray(amount).view(np.uint64), np.ascontiguousarray(is_sent)
    )
    if overflow:
        raise InvalidInput("an address's amounts in one transaction overflow 128 bits")
    received_w, sent_w = received_u.view(np.int64), sent_u.view(np.int64)
    # the groups' (address, row, rank) from their packed keys: one gather instead of three
    address, row, asset_rank = _unpack_key(key[first], row, ranks.size + 1)
    return pa.table(
        {
            "address_id": address,
            "tx_id": row + first_tx_id,
            "height": heights[row],
            "asset_id": assets[asset_rank],
            "received": _decimals(received_w),
            "sent": _decimals(sent_w),
        }
    )


def _key_bits(row: np.ndarray, ranks: int) -> tuple[int, int]:
    """The bits of a packed key's row and rank fields."""
    row_bits = max(1, int(row.max()).bit_length()) if row.size else 1
    return row_bits, max(1, (ranks - 1).bit_length())


def _packed_key(address: np.ndarray, row: np.ndarray, rank: np.ndarray, ranks: int) -> np.ndarray:
    """One int64 per (address, row, asset rank) that sorts like the triple."""
    row_bits, rank_bits = _key_bits(row, ranks)
    address_bits = max(1, int(address.max()).bit_length()) if address.size else 1
    if address_bits + row_bits + rank_bits > 63:
        raise InvalidInput("a batch is too big for the address index: append fewer blocks")
    key: np.ndarray = (address << (row_bits + rank_bits)) | (row << rank_bits) | rank
    return key


def _unpack_key(
    key: np.ndarray, row: np.ndarray, ranks: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(address, row, rank) of keys made by ``_packed_key`` from rows ``row``."""
    row_bits, rank_bits = _key_bits(row, ranks)
    rank = key & ((1 << rank_bits) - 1)
    rows = (key >> rank_bits) & ((1 << row_bits) - 1)
    return key >> (row_bits + rank_bits), rows, rank


def _ids(values: pa.Array | pa.ChunkedArray | np.ndarray) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values
    ids: np.ndarray = pc.fill_null(as_array(values), -1).to_numpy().astype(np.int64)
    return ids


#: 10**38, the first value a DECIMAL(38, 0) cannot hold, as (high, low) 64-bit words
_LIMIT_HI, _LIMIT_LO = divmod(10**38, 1 << 64)


def _words(values: pa.Array) -> np.ndarray:
    """``decimal128`` values as an (n, 2) int64 matrix: low word, high word (nulls: 0)."""
    values = as_array(values)
    n = len(values)
    if n == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if values.null_count:
        values = pc.fill_null(values, pa.scalar(0, values.type))
    return (
        np.frombuffer(values.buffers()[1], dtype="<i8", count=2 * n, offset=16 * values.offset)
        .reshape(n, 2)
        .copy()
    )


def _add_words(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sums of two (n, 2) int64 word matrices (128-bit two's complement)."""
    out = np.empty_like(a)
    lo_a, lo_b = a[:, 0].view(np.uint64), b[:, 0].view(np.uint64)
    lo = lo_a + lo_b
    out[:, 0] = lo.view(np.int64)
    out[:, 1] = a[:, 1] + b[:, 1] + (lo < lo_a)
    return out


def _decimals(words: np.ndarray) -> pa.Array:
    """(n, 2) int64 words (low, high) as ``decimal128(38, 0)``; refuses 39-digit sums."""
    lo, hi = words[:, 0].view(np.uint64), words[:, 1]
    big = (hi > _LIMIT_HI) | ((hi == _LIMIT_HI) & (lo >= np.uint64(_LIMIT_LO)))
    if bool(big.any() or (hi < -_LIMIT_HI - 1).any()):
        raise InvalidInput("an address's amounts in one transaction exceed 38 digits")
    data = pa.py_buffer(np.ascontiguousarray(words))  # no copy: the buffer keeps the array
    return pa.Array.from_buffers(pa.decimal128(38, 0), words.shape[0], [None, data])


def _check_txs(txs: pa.Table) -> None:
    if txs.num_rows == 0:
        return
    status = txs["status"]
    if not pc.all(pc.is_in(status, value_set=pa.array([0, 1], pa.int8()))).as_py():
        raise InvalidInput("a transaction's status must be 1 (success) or 0 (failed)")
    zero = pa.scalar(0, txs.schema.field("value").type)
    for column in ("value", "fee"):
        if pc.any(pc.less(txs[column], zero)).as_py():
            raise InvalidInput(f"a transaction has a negative {column}")
    both = pc.and_(pc.is_valid(txs["to_address"]), pc.is_valid(txs["created_contract"]))
    if pc.any(both).as_py():
        raise InvalidInput("a contract creation has no receiver (to_address must be null)")


def _check_traces(traces: pa.Table) -> None:
    if traces.num_rows == 0:
        return
    if not pc.all(pc.is_in(traces["status"], value_set=pa.array([0, 1], pa.int8()))).as_py():
        raise InvalidInput("an internal transfer's status must be 1 (moved) or 0 (failed)")
    if pc.any(pc.less(traces["value"], pa.scalar(0, AMOUNT256))).as_py():
        raise InvalidInput("an internal transfer has a negative value")


def _upsert_tokens(
    con: duckdb.DuckDBPyConnection, chain: str, tokens: pa.Table, token_ids: pa.Array
) -> None:
    if tokens.num_rows == 0:
        return
    meta = pa.table(
        {
            "token_id": token_ids,
            "symbol": tokens["symbol"],
            "name": tokens["name"],
            "decimals": tokens["decimals"],
        }
    )
    with registered(con, meta) as t_meta:
        con.execute(
            f"DELETE FROM tokens WHERE chain = ? AND token_id IN (SELECT token_id FROM {t_meta})",
            [chain],
        ).fetchall()
        con.execute(
            f"""INSERT INTO tokens
            SELECT ?, token_id, any_value(symbol), any_value(name), any_value(decimals)
            FROM {t_meta} GROUP BY token_id""",
            [chain],
        ).fetchall()

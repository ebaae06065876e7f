"""A chunk's UTXO transactions as arrays, and their Arrow tables in the ``SOURCE`` schemas."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from chainsleuth.chain.schemas import SOURCE, TIME
from chainsleuth.world import ids
from chainsleuth.world.arrays import rank_in_groups
from chainsleuth.world.plan import SCRIPT_NAMES
from chainsleuth.world.utxo_state import AddressBook

I64 = NDArray[np.int64]
SCHEMAS = SOURCE["utxo"]
_SCRIPT_TEXT = pa.array(SCRIPT_NAMES, type=pa.string())
GROUP_COINBASE, GROUP_SCRIPTED, GROUP_ORDINARY = 0, 1, 2


@dataclass
class UtxoTxs:
    """Transactions of one chunk, before ordering. ``out_tx``/``in_tx`` index the txs."""

    key: I64
    height: I64
    coinbase: NDArray[np.bool_]
    fee: I64
    vsize: I64
    version: I64
    locktime: I64
    group: NDArray[np.int8]
    sub: NDArray[np.float64]  # order inside a block (within the group)
    out_tx: I64
    out_n: I64
    out_addr: I64  # -1: no address (OP_RETURN)
    out_value: I64
    out_script: NDArray[np.int8]
    in_tx: I64
    in_n: I64
    in_prev_key: I64
    in_prev_n: I64
    in_addr: I64
    in_value: I64

    @property
    def count(self) -> int:
        return int(self.key.size)

    @classmethod
    def empty(cls) -> UtxoTxs:
        values: dict[str, Any] = {}
        for f in fields(cls):
            dtype = {"coinbase": np.bool_, "group": np.int8, "sub": np.float64}.get(f.name)
            if f.name == "out_script":
                dtype = np.int8
            values[f.name] = np.zeros(0, dtype=dtype or np.int64)
        return cls(**values)

    @classmethod
    def concat(cls, parts: list[UtxoTxs]) -> UtxoTxs:
        offsets = np.cumsum([0] + [p.count for p in parts])
        values = {}
        for f in fields(cls):
            arrays = []
            for part, off in zip(parts, offsets[:-1], strict=True):
                arr = getattr(part, f.name)
                arrays.append(arr + off if f.name in ("out_tx", "in_tx") else arr)
            values[f.name] = np.concatenate(arrays)
        return cls(**values)


def order_key(block: I64, group: NDArray[np.int8], sub: NDArray[np.float64]) -> I64:
    """One int64 sort key for (block in chunk, group, sub in [0, 1))."""
    return (
        (block.astype(np.int64) << 40)
        | (group.astype(np.int64) << 37)
        | (np.clip(sub, 0.0, 0.999999) * (1 << 36)).astype(np.int64)
    )


@dataclass
class Ordered:
    """Where each chunk-local tx/output/input went in the written tables."""

    tx_order: I64  # local tx index at each table row
    tx_row: I64  # table row of each local tx
    out_order: I64
    in_order: I64


def block_hashes(salt: int, heights: I64, leading_zero_bytes: int, prefix: bytes) -> pa.Array:
    raw = ids.hash32(salt, heights)
    raw[:, :leading_zero_bytes] = 0
    return ids.hex_strings(raw, prefix)


def blocks_table(salt: int, first: int, times: I64, prev_hash: str | None) -> pa.Table:
    heights = np.arange(first, first + times.size, dtype=np.int64)
    hashes = block_hashes(salt, heights, 9, b"")
    prev = pa.concat_arrays([pa.array([prev_hash], pa.string()), hashes[:-1]])
    return pa.Table.from_arrays(
        [pa.array(heights), hashes, prev, pa.array(times, TIME)], schema=SCHEMAS["blocks"]
    )


def utxo_tables(
    txs: UtxoTxs, first_height: int, times: I64, book: AddressBook, tx_salt: int
) -> tuple[dict[str, pa.Table], Ordered]:
    """Txs, outputs and inputs tables (blocks come from ``blocks_table``)."""
    order = np.argsort(order_key(txs.height - first_height, txs.group, txs.sub))
    row = np.empty(txs.count, dtype=np.int64)
    row[order] = np.arange(txs.count)
    heights = txs.height[order]
    position = rank_in_groups(heights).astype(np.int32)
    hash_chars = ids.hex_chars(ids.hash32(tx_salt, txs.key[order]))
    hashes = ids.fixed_strings(hash_chars)
    tx_table = pa.Table.from_arrays(
        [
            hashes,
            pa.array(heights),
            pa.array(position),
            pa.array(times[heights - first_height], TIME),
            pa.array(txs.coinbase[order]),
            pa.array(txs.fee[order]),
            pa.array(txs.locktime[order]),
            pa.array(txs.version[order].astype(np.int32)),
            pa.array(txs.vsize[order].astype(np.int32)),
        ],
        schema=SCHEMAS["txs"],
    )
    out_row = row[txs.out_tx]
    out_order = np.lexsort((txs.out_n, out_row))
    outputs = pa.Table.from_arrays(
        [
            ids.fixed_strings(hash_chars[out_row[out_order]]),
            pa.array(txs.out_n[out_order].astype(np.int32)),
            book.strings(txs.out_addr[out_order]),
            pa.array(txs.out_value[out_order]),
            _SCRIPT_TEXT.take(pa.array(txs.out_script[out_order])),
        ],
        schema=SCHEMAS["outputs"],
    )
    in_row = row[txs.in_tx]
    in_order = np.lexsort((txs.in_n, in_row))
    inputs = pa.Table.from_arrays(
        [
            ids.fixed_strings(hash_chars[in_row[in_order]]),
            pa.array(txs.in_n[in_order].astype(np.int32)),
            ids.hex_strings(ids.hash32(tx_salt, txs.in_prev_key[in_order])),
            pa.array(txs.in_prev_n[in_order].astype(np.int32)),
            book.strings(txs.in_addr[in_order]),
            pa.array(txs.in_value[in_order]),
        ],
        schema=SCHEMAS["inputs"],
    )
    tables = {"txs": tx_table, "outputs": outputs, "inputs": inputs}
    return tables, Ordered(order, row, out_order, in_order)

"""What every append does, whatever the kind of chain: ids for transactions and addresses.

All of it runs vectorised (Arrow compute, numpy, DuckDB joins) inside the append's open
DuckDB transaction; nothing loops over rows in Python.

* **Transaction ids** are dense per chain and follow the chain's order (height, then
  position): the batch's transactions get ``tx_count .. tx_count + n - 1``. A re-org
  (``truncate_after``) gives the ids above the new tip out again.
* **Address ids** are dense per chain and never change: an address keeps its id for the
  life of the store, also across re-orgs. New addresses of a batch are matched against the
  dictionary by their 128-bit key (``chainsleuth.chain.keys``) in one DuckDB join, and the
  new ones numbered in key order (so that the dictionary's zone maps stay tight).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.chain import storage
from chainsleuth.chain.keys import address_keys, hash_bytes, hash_keys
from chainsleuth.core.errors import InvalidInput

if TYPE_CHECKING:
    from chainsleuth.chain.batch import BlockRange

_registered = 0


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, table: pa.Table) -> Iterator[str]:
    """Expose an Arrow table to SQL under a fresh name for the duration of the block."""
    global _registered
    _registered += 1
    name = f"_arrow_{_registered}"
    con.register(name, table)
    try:
        yield name
    finally:
        con.unregister(name)


def insert(con: duckdb.DuckDBPyConnection, table: str, chain: str, rows: pa.Table) -> None:
    """Append Arrow rows (in the table's column order, after ``chain``) to a store table."""
    if rows.num_rows == 0:
        return
    with registered(con, rows) as name:
        # table names come from the store's own code, never from input
        con.execute(f"INSERT INTO {table} SELECT ?, * FROM {name}", [chain]).fetchall()


def constant(text: str, n: int) -> pa.Array:
    """``n`` times ``text`` as a string array (built in Arrow, not from a Python list)."""
    return pc.fill_null(pa.nulls(n, pa.string()), text)


def sorted_rows(columns: dict[str, np.ndarray], *, key: np.ndarray) -> pa.Table:
    """The columns as an Arrow table, rows sorted by ``key`` (zone maps need sorted runs)."""
    order = np.argsort(key)
    return pa.table({name: values[order] for name, values in columns.items()})


@dataclass
class ChainState:
    chain: str
    first_height: int | None
    tip_height: int | None
    tip_hash: str | None
    tx_count: int
    address_count: int
    address_bytes: int
    runs: int  # sorted runs in the index tables
    tail_tx_from: int  # index rows of tx ids from here on are not sorted as a run yet
    tail_address_from: int  # addresses from this id on are not sorted as a run yet
    tail_rows: int  # how many index rows that unsorted tail holds

    @classmethod
    def empty(cls, chain: str) -> ChainState:
        return cls(chain, None, None, None, 0, 0, 0, 0, 0, 0, 0)


#: receives each Parquet table of a batch as soon as it is ready (written in the background)
Emit = Callable[[str, pa.Table], None]

P = TypeVar("P")


@dataclass
class Prepared:
    """What an encoder derived from a batch's tables alone (``tables``: the very objects)."""

    kind: str
    tables: dict[str, pa.Table]
    value: Any


def prepared(batch: BlockRange, kind: str, build: Callable[[BlockRange], P]) -> P:
    """``build(batch)``: computed ahead by ``chain.prepare`` (say, on the thread that read
    the batch) when its tables are still the same objects, or now."""
    hit = batch.prepared
    if (
        isinstance(hit, Prepared)
        and hit.kind == kind
        and hit.tables.keys() == batch.tables.keys()
        and all(hit.tables[name] is table for name, table in batch.tables.items())
    ):
        return cast(P, hit.value)
    return build(batch)


def prepare_with(batch: BlockRange, kind: str, build: Callable[[BlockRange], Any]) -> None:
    """Compute ``build(batch)`` now and keep it with the batch for ``prepared``."""
    batch.prepared = Prepared(kind, dict(batch.tables), build(batch))


@dataclass
class Encoded:
    """What an encoder hands back besides the tables it emitted."""

    tx_hashes: np.ndarray  # (n, 32) uint8, in tx_id order
    tx_times: np.ndarray  # int64 seconds, in tx_id order
    new_addresses: pa.Table  # the new addresses (storage.ADDRESS_SEGMENT), in id order
    index_rows: int  # rows added to the address index


@dataclass
class AddressAssignment:
    ids: np.ndarray  # int64 per occurrence, -1 where the address was null
    new: pa.Table  # the new addresses (storage.ADDRESS_SEGMENT), in id order


def as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return pa.concat_arrays(values.chunks) if values.num_chunks != 1 else values.chunk(0)
    return values


@dataclass
class AddressOccurrences:
    """A batch's address occurrences, dictionary-encoded and keyed (no store state needed)."""

    unique: pa.StringArray  # the distinct addresses
    indices: np.ndarray  # int64 per occurrence: its value in ``unique``, -1 where null
    valid: np.ndarray  # bool per occurrence
    k1: np.ndarray  # the 128-bit key of each distinct address
    k2: np.ndarray
    first: np.ndarray  # per distinct address: its first occurrence in height order
    heights: np.ndarray  # the height of each occurrence
    kinds: pa.Array  # what each occurrence says of the address (nullable)


def address_occurrences(
    texts: pa.Array, heights: np.ndarray, kinds: pa.Array
) -> AddressOccurrences:
    """Dictionary-encode and key the addresses as they occur (see ``assign_addresses``)."""
    encoded = pc.dictionary_encode(texts.cast(pa.string()))
    unique = encoded.dictionary
    valid = pc.is_valid(encoded.indices).to_numpy(zero_copy_only=False)
    indices = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
    k1, k2 = address_keys(unique)
    first = _first_occurrences(indices, valid, heights, len(unique))
    return AddressOccurrences(unique, indices, valid, k1, k2, first, heights, kinds)


def assign_addresses(
    con: duckdb.DuckDBPyConnection, state: ChainState, found: AddressOccurrences
) -> AddressAssignment:
    """Ids for every occurrence of an address; new addresses join the dictionary.

    ``found`` holds the addresses as they occur (nullable), the height of each occurrence
    and what each occurrence says of the address (script type, ``contract``, ``eoa``;
    nullable). A new address's ``first_seen_height`` and ``kind`` are those of its first
    occurrence in height order.
    """
    unique, indices, valid, k1, k2 = found.unique, found.indices, found.valid, found.k1, found.k2
    n_unique = len(unique)
    ids = np.full(n_unique, -1, dtype=np.int64)
    new_idx = np.empty(0, dtype=np.int64)
    segment = storage.ADDRESS_SEGMENT.empty_table()
    if n_unique:
        keys = pa.table({"idx": np.arange(n_unique, dtype=np.int64), "k1": k1, "k2": k2})
        with registered(con, keys) as name:
            known = storage.arrow(
                con,
                f"SELECT u.idx, a.address_id FROM {name} u JOIN addresses a "
                "ON a.chain = ? AND a.k1 = u.k1 AND a.k2 = u.k2",
                [state.chain],
            )
        if known.num_rows:
            ids[known["idx"].to_numpy()] = known["address_id"].to_numpy()
        new_idx = np.flatnonzero(ids < 0)
        new_idx = new_idx[np.argsort(k1[new_idx])]
        ids[new_idx] = state.address_count + np.arange(new_idx.size, dtype=np.int64)
        if new_idx.size:
            pick = pa.array(found.first[new_idx])
            new_table = pa.table(
                {
                    "chain": constant(state.chain, new_idx.size),
                    "address_id": pa.array(ids[new_idx]),
                    "k1": pa.array(k1[new_idx]),
                    "k2": pa.array(k2[new_idx]),
                    "first_seen_height": pa.array(found.heights).take(pick),
                    "kind": found.kinds.cast(pa.string()).take(pick),
                }
            )
            with registered(con, new_table) as fresh:
                con.execute(f"INSERT INTO addresses SELECT * FROM {fresh}").fetchall()
            segment = pa.table(
                {
                    "address_id": new_table["address_id"],
                    "address": unique.take(pa.array(new_idx)),
                    "first_seen_height": new_table["first_seen_height"],
                    "kind": new_table["kind"],
                },
                schema=storage.ADDRESS_SEGMENT,
            )
    occurrence = np.full(len(indices), -1, dtype=np.int64)
    if valid.any():
        occurrence[valid] = ids[indices[valid]]
    return AddressAssignment(ids=occurrence, new=segment)


def _first_occurrences(
    indices: np.ndarray, valid: np.ndarray, heights: np.ndarray, n_unique: int
) -> np.ndarray:
    """Per value, the position of its first occurrence in height order (ties: in order)."""
    if heights.size < 2 or bool((np.diff(heights) >= 0).all()):
        # dictionary_encode numbers values in order of first occurrence, so an occurrence
        # is a value's first exactly where its index exceeds all before it
        seen = np.where(valid, indices, -1)
        running = np.maximum.accumulate(seen)
        is_first = seen > np.concatenate([[-1], running[:-1]])
        return np.flatnonzero(is_first)
    n = indices.size
    position = np.arange(n, dtype=np.int64)
    if int(heights.max()) < (1 << 62) // max(n, 1) and int(heights.min()) >= 0:
        key = heights.astype(np.int64) * n + position
    else:  # pragma: no cover - heights beyond 2**62 / n
        key = np.empty(n, dtype=np.int64)
        key[np.lexsort((position, heights))] = position
    first = np.full(n_unique, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, indices[valid], key[valid])
    result: np.ndarray = first % n if n else first
    return result


def check_tx_order(heights: np.ndarray, positions: np.ndarray, first: int, last: int) -> None:
    """Transactions must come in chain order: by height, then position, within the range."""
    if heights.size == 0:
        return
    if heights.min() < first or heights.max() > last:
        raise InvalidInput(f"a transaction lies outside the batch's blocks {first}..{last}")
    dh = np.diff(heights)
    dp = np.diff(positions)
    if not bool(((dh > 0) | ((dh == 0) & (dp > 0))).all()):
        raise InvalidInput("transactions must be ordered by height, then position, without repeats")


def block_index(
    chain: str, blocks: pa.Table, tx_heights: np.ndarray, first_tx_id: int
) -> tuple[pa.Table, np.ndarray]:
    """Rows for the ``blocks`` lookup table, and each block's transaction count."""
    heights = blocks["height"].to_numpy()
    first = int(heights[0])
    counts = np.bincount(tx_heights - first, minlength=heights.size).astype(np.int64)
    starts = first_tx_id + np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    index = pa.table(
        {
            "chain": constant(chain, heights.size),
            "height": blocks["height"],
            "hash": blocks["hash"],
            "time": blocks["time"],
            "first_tx_id": pa.array(starts),
            "tx_count": pa.array(counts.astype(np.int32)),
        }
    )
    return index, counts


@dataclass
class TxKeys:
    """The 128-bit keys of a batch's transaction hashes, sorted once: finds the rows of
    other hashes by binary search on integers instead of hashing strings."""

    k1: np.ndarray
    k2: np.ndarray
    prefixed: bool
    order: np.ndarray  # the transactions in ``k1`` order
    sorted_k1: np.ndarray
    unique_k1: bool  # no two transactions share a ``k1`` (else: no search, ``None``)

    @classmethod
    def of(cls, k1: np.ndarray, k2: np.ndarray, *, prefixed: bool) -> TxKeys:
        order = np.argsort(k1)
        sorted_k1 = k1[order]
        unique = not bool((sorted_k1[1:] == sorted_k1[:-1]).any())
        return cls(k1, k2, prefixed, order, sorted_k1, unique)

    def rows(self, hashes: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
        """Per hash, its row among the transactions and whether it is one of them; None
        when a hash is not canonical (or keys collide): the caller's general way then."""
        if not self.unique_k1 or not self.k1.size:
            return None
        try:
            k1, k2 = hash_keys(hash_bytes(hashes, prefixed=self.prefixed))
        except InvalidInput:
            return None
        return self.find(k1, k2)

    def find(self, k1: np.ndarray, k2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per key, its row among the transactions and whether it is one of them (only
        with ``unique_k1``). The keys are searched in sorted order: cache-friendly."""
        asked = np.argsort(k1)
        at = np.empty(k1.size, dtype=np.int64)
        at[asked] = np.searchsorted(self.sorted_k1, k1[asked])
        np.minimum(at, self.k1.size - 1, out=at)
        rows: np.ndarray = self.order[at]
        return rows, (self.k1[rows] == k1) & (self.k2[rows] == k2)


def tx_positions(
    values: pa.Array,
    lookup: pa.Array,
    what: str,
    candidates: np.ndarray | None = None,
    keys: TxKeys | None = None,
) -> np.ndarray:
    """Row numbers in ``lookup`` (the batch's tx hashes) of each of ``values``.

    Sources list outputs and inputs grouped by transaction, in the transactions' order;
    that case is recognised in one pass (runs of equal hashes matched against the
    transactions that have rows: all, or ``candidates``). Other runs are found by their
    keys (``keys``, of ``lookup``); anything else takes a hash lookup.
    """
    n = len(values)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if values.null_count == 0:
        change = pc.not_equal(values[1:], values[:-1]).to_numpy(zero_copy_only=False)
        starts = np.concatenate([[0], np.flatnonzero(change) + 1])
        rows = np.arange(len(lookup), dtype=np.int64) if candidates is None else candidates
        runs = values.take(pa.array(starts))
        lengths = np.diff(np.concatenate([starts, [n]]))
        if starts.size == rows.size:
            if pc.all(pc.equal(runs, lookup.take(pa.array(rows)))).as_py():
                return np.repeat(rows, lengths)
        found = keys.rows(runs) if keys is not None else None
        if found is not None and bool(found[1].all()):
            return np.repeat(found[0], lengths)
    found = pc.index_in(values, value_set=lookup)
    if found.null_count:
        missing = values.filter(pc.is_null(found))[0].as_py()
        raise InvalidInput(f"{what} names transaction {missing}, which is not in the batch")
    positions: np.ndarray = found.to_numpy(zero_copy_only=False).astype(np.int64)
    return positions


def check_unique_hashes(k1: np.ndarray, k2: np.ndarray, hashes: pa.Array) -> None:
    """No transaction hash twice in a batch (checked on the 128-bit keys)."""
    ordered = np.sort(k1)
    if not bool((ordered[1:] == ordered[:-1]).any()):
        return
    pairs = np.stack([k1, k2], axis=1)
    _, first, counts = np.unique(pairs, axis=0, return_index=True, return_counts=True)
    where = int(first[np.flatnonzero(counts > 1)[0]]) if (counts > 1).any() else -1
    if where >= 0:
        raise InvalidInput(f"transaction {hashes[where].as_py()} appears twice in the batch")

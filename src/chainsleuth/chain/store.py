"""The chain store: Parquet segments by chain and block range, one DuckDB database beside them.

``ChainStore(root)`` opens the store for writing (one process at a time; see
``chainsleuth.chain.access`` for readers). What it guarantees:

* **Atomic appends.** ``append(batch)`` writes the batch's Parquet segments and flat-file
  records first, then commits the manifest, the dictionaries and the lookup indexes in one
  DuckDB transaction. A crash anywhere before that commit leaves the store as it was: the
  files the manifest does not name are deleted when a writer next opens the store.
* **Contiguity.** A chain's first batch may start at any height; every later batch must
  start at ``tip + 1`` (``InvalidInput`` otherwise). A batch wholly at or below the tip
  whose block hashes match the stored ones is a no-op (``AppendResult.skipped``), so an
  ingester may safely replay its last batch after a crash; other hashes there are a
  ``Conflict`` (a re-org: ``truncate_after`` first). A batch whose first block does not
  name the stored tip as its parent is a ``Conflict`` too.
* **Re-orgs.** ``truncate_after(chain, height)`` removes every block above ``height`` in
  one transaction (segments dropped or rewritten, index rows deleted, spent outputs put
  back into the UTXO set). Address ids survive it; transaction ids above are given out
  again.
* **Lookups stay fast.** Index tables are inserted sorted per batch and re-sorted by
  ``optimize()`` (also run automatically when enough small appends have piled up), so that
  DuckDB's zone maps narrow an address lookup to a few row groups.

``chainsleuth.chain.prepare.prepare(batch)`` does ahead, on any thread, the part of an
append that needs only the batch (hashes, keys, ordering, the address dictionary's pass),
so that a loader can overlap it with the append before.

Set ``CHAINSLEUTH_CHAIN_PAUSE_AT`` to one of ``PAUSE_POINTS`` to make a writer stop there
(it prints ``PAUSED <point>`` on stderr and sleeps): the crash tests kill it at that point.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.chain import maintenance, storage
from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.chains import CHAINS, get_chain
from chainsleuth.chain.encode import ChainState, as_array
from chainsleuth.chain.encode_account import encode_account
from chainsleuth.chain.encode_utxo import encode_utxo
from chainsleuth.chain.enums import ChainKind
from chainsleuth.chain.keys import KEY_VERSION, hash_bytes
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.chain.segments import SegmentWriter, stored_schemas, write_parquet
from chainsleuth.core.errors import Conflict, IntegrityViolation, InvalidInput

PAUSE_ENV = "CHAINSLEUTH_CHAIN_PAUSE_AT"
PAUSE_POINTS = ("encoded", "files-written", "before-commit", "after-commit")
#: index rows of small appends that may pile up unsorted before they are sorted as a run
TAIL_ROWS = 200_000
#: sorted runs past which an append runs that rewrite by itself
MAX_RUNS = 64

# In-process writers by root, so that a reader in the same process shares the connection
# (DuckDB refuses a second, read-only, connection to a file this process writes).
_WRITERS: dict[Path, ChainStore] = {}
_WRITERS_LOCK = threading.Lock()


def open_writer_for(root: Path) -> ChainStore | None:
    if not _WRITERS:  # the common case (a server that is not loading): no path to resolve
        return None
    with _WRITERS_LOCK:
        return _WRITERS.get(root.resolve())


@dataclass(frozen=True)
class AppendResult:
    chain: str
    first_height: int
    last_height: int
    blocks: int
    txs: int
    new_addresses: int
    skipped: bool
    seconds: float

    @property
    def txs_per_second(self) -> float:
        return self.txs / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class StoreEvent:
    seq: int
    chain: str
    kind: str  # "append" or "truncate"
    first_height: int
    last_height: int
    txs: int
    at: datetime


def _pause(point: str) -> None:
    if os.environ.get(PAUSE_ENV) == point:
        print(f"PAUSED {point}", file=sys.stderr, flush=True)
        time.sleep(3600)


def check_block_links(batch: BlockRange) -> None:
    """Check that the batch's block hashes are canonical and that each block names the one
    before as its parent (InvalidInput otherwise); ``batch.linked_blocks`` remembers it."""
    blocks = batch.tables["blocks"]
    prefixed = get_chain(batch.chain).kind is ChainKind.ACCOUNT
    hash_bytes(blocks["hash"], prefixed=prefixed)  # canonical block hashes, or InvalidInput
    hashes, parents = as_array(blocks["hash"]), as_array(blocks["prev_hash"])
    if len(hashes) > 1:
        differs = pc.fill_null(pc.not_equal(parents[1:], hashes[:-1]), False)
        if pc.any(differs).as_py():
            i = int(pc.index(differs, True).as_py()) + 1
            raise InvalidInput(
                f"block {batch.first_height + i} of {batch.chain} does not follow block "
                f"{batch.first_height + i - 1} (its parent hash differs)"
            )
    batch.linked_blocks = blocks


class ChainStore:
    """The store opened for writing (and reading). Use as a context manager or ``close()``."""

    def __init__(self, root: Path, *, wait_s: float = 30.0, durable: bool = True) -> None:
        self.root = Path(root).resolve()
        self.durable = durable
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._intent = storage.IntentFile(self.root)
        self._closed = False
        self.con = self._acquire(wait_s)
        try:
            self._init_schema()
            self._recover()
        except BaseException:
            self.con.close()
            self._intent.withdraw()
            raise
        with _WRITERS_LOCK:
            _WRITERS[self.root] = self

    # --- opening and closing -----------------------------------------------------------------

    def _acquire(self, wait_s: float) -> duckdb.DuckDBPyConnection:
        self._intent.announce()
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return storage.connect(self.root, read_only=False)
            except storage.StoreBusy:
                if time.monotonic() >= deadline:
                    self._intent.withdraw()
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with _WRITERS_LOCK:
                if _WRITERS.get(self.root) is self:
                    del _WRITERS[self.root]
            try:
                self.con.execute("CHECKPOINT").fetchall()
            except duckdb.Error:  # pragma: no cover - closing anyway
                pass
            self.con.close()
            self._intent.withdraw()

    def __enter__(self) -> ChainStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _init_schema(self) -> None:
        con = self.con
        for statement in storage.SCHEMA:
            con.execute(statement).fetchall()
        meta = dict(storage.rows(con, "SELECT key, value FROM meta"))
        if not meta:
            con.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [["schema_version", storage.SCHEMA_VERSION], ["key_version", KEY_VERSION]],
            )
            return
        if meta.get("schema_version") != storage.SCHEMA_VERSION:
            raise IntegrityViolation(
                f"the chain store at {self.root} has schema version "
                f"{meta.get('schema_version')}; this version of chainsleuth reads "
                f"{storage.SCHEMA_VERSION}"
            )
        if meta.get("key_version") != KEY_VERSION:
            raise IntegrityViolation(
                f"the chain store at {self.root} was keyed with key version "
                f"{meta.get('key_version')}; this version uses {KEY_VERSION}: reload it"
            )

    def _recover(self) -> None:
        """Drop what an interrupted append left behind; rebuild the views for this root."""
        committed = {
            (self.root / p).resolve()
            for (p,) in storage.rows(self.con, "SELECT path FROM segments")
        }
        for path in storage.parquet_files(self.root, CHAINS):
            if path.resolve() not in committed:
                path.unlink(missing_ok=True)
        for chain in CHAINS:
            state = self.state(chain)
            self.flat(chain).cut(
                tx_count=state.tx_count,
                address_count=state.address_count,
                address_bytes=state.address_bytes,
            )
        self.con.execute("BEGIN TRANSACTION").fetchall()
        for chain in CHAINS:
            self._create_views(chain)
        self.con.execute("COMMIT").fetchall()

    # --- state --------------------------------------------------------------------------------

    def flat(self, chain: str) -> storage.FlatFiles:
        return storage.FlatFiles(self.root / chain)

    def state(self, chain: str) -> ChainState:
        chain = get_chain(chain).id
        with self._lock:
            row = storage.one(
                self.con,
                """SELECT first_height, tip_height, tip_hash, tx_count, address_count,
                          address_bytes, runs, tail_tx_from, tail_address_from, tail_rows
                   FROM chain_state WHERE chain = ?""",
                [chain],
            )
        if row is None:
            return ChainState.empty(chain)
        return ChainState(chain, *row)

    def tip(self, chain: str) -> int | None:
        """The height of the chain's last stored block, or None when it has none."""
        return self.state(chain).tip_height

    # --- append -------------------------------------------------------------------------------

    def append(self, batch: BlockRange) -> AppendResult:
        """Append the blocks of ``batch``, atomically. See the module docstring for the rules."""
        started = time.perf_counter()
        info = get_chain(batch.chain)
        if batch.chain != info.id:
            batch = BlockRange(
                info.id,
                batch.first_height,
                batch.last_height,
                batch.tables,
                batch.prepared,
                batch.linked_blocks,
            )
        batch.validate()
        with self._lock:
            self._check_open()
            state = self.state(info.id)
            if self._already_stored(state, batch):
                return AppendResult(
                    info.id,
                    batch.first_height,
                    batch.last_height,
                    0,
                    0,
                    0,
                    True,
                    time.perf_counter() - started,
                )
            con = self.con
            writer = SegmentWriter(self, state, batch)
            con.execute("BEGIN TRANSACTION").fetchall()
            try:
                if info.kind is ChainKind.UTXO:
                    encoded = encode_utxo(con, state, batch, writer.submit)
                else:
                    encoded = encode_account(con, state, batch, writer.submit)
                _pause("encoded")
                segments = writer.finish()
                flat = self.flat(info.id)
                n_tx = len(encoded.tx_hashes)
                flat.write_txs(state.tx_count, encoded.tx_hashes, encoded.tx_times)
                address_bytes = flat.write_addresses(
                    state.address_count,
                    state.address_bytes,
                    storage.as_string_array(writer.tables["addresses"]["address"]),
                )
                if self.durable:
                    flat.sync()
                _pause("files-written")
                self._insert_segments(segments)
                blocks = batch.tables["blocks"]
                last = blocks.num_rows - 1
                new = ChainState(
                    chain=info.id,
                    first_height=(
                        state.first_height if state.first_height is not None else batch.first_height
                    ),
                    tip_height=batch.last_height,
                    tip_hash=blocks["hash"][last].as_py(),
                    tx_count=state.tx_count + n_tx,
                    address_count=state.address_count + writer.tables["addresses"].num_rows,
                    address_bytes=address_bytes,
                    runs=state.runs,
                    tail_tx_from=state.tail_tx_from,
                    tail_address_from=state.tail_address_from,
                    tail_rows=state.tail_rows + encoded.index_rows,
                )
                if state.tail_rows == 0 and encoded.index_rows >= TAIL_ROWS:
                    # a big batch went in sorted: it is a run of its own
                    new.runs += 1
                    new.tail_rows = 0
                    new.tail_tx_from, new.tail_address_from = new.tx_count, new.address_count
                self._save_state(new, tip_time=blocks["time"][last].as_py())
                self._record_event(info.id, "append", batch.first_height, batch.last_height, n_tx)
                self._create_views(info.id)
                _pause("before-commit")
                con.execute("COMMIT").fetchall()
            except BaseException:
                storage.rollback(con)
                writer.abandon()
                raise
            _pause("after-commit")
            if new.tail_rows >= TAIL_ROWS:
                maintenance.sort_tail(self, info.id)
            if self.state(info.id).runs > MAX_RUNS:
                self.optimize(info.id, full=True)
            return AppendResult(
                info.id,
                batch.first_height,
                batch.last_height,
                blocks.num_rows,
                n_tx,
                writer.tables["addresses"].num_rows,
                False,
                time.perf_counter() - started,
            )

    def _check_open(self) -> None:
        if self._closed:
            raise IntegrityViolation("the chain store is closed")

    def _already_stored(self, state: ChainState, batch: BlockRange) -> bool:
        blocks = batch.tables["blocks"]
        if batch.linked_blocks is not blocks:  # not done ahead by ``prepare``
            check_block_links(batch)
        hashes, parents = as_array(blocks["hash"]), as_array(blocks["prev_hash"])
        tip = state.tip_height
        if tip is None:
            return False
        if batch.last_height <= tip:
            stored = [
                h
                for (h,) in storage.rows(
                    self.con,
                    "SELECT hash FROM blocks WHERE chain = ? AND height BETWEEN ? AND ? "
                    "ORDER BY height",
                    [state.chain, batch.first_height, batch.last_height],
                )
            ]
            if stored == hashes.to_pylist():
                return True
            raise Conflict(
                f"blocks {batch.first_height}..{batch.last_height} of {state.chain} are stored "
                "with other hashes (a re-org?): roll back with truncate_after first"
            )
        if batch.first_height <= tip:
            raise InvalidInput(
                f"blocks {batch.first_height}..{batch.last_height} overlap the stored tip "
                f"{tip} of {state.chain}: append from {tip + 1}"
            )
        if batch.first_height != tip + 1:
            raise InvalidInput(
                f"{state.chain} is stored up to block {tip}: the next batch must start at "
                f"{tip + 1}, not {batch.first_height}"
            )
        parent = parents[0].as_py() if len(parents) else None
        if parent is not None and parent != state.tip_hash:
            raise Conflict(
                f"block {batch.first_height} of {state.chain} names parent {parent} but "
                f"the stored block {tip} is {state.tip_hash} (a re-org?): roll back with "
                "truncate_after first"
            )
        return False

    def _write_parquet(self, table: pa.Table, path: Path) -> None:
        write_parquet(table, path, durable=self.durable)

    def _insert_segments(self, rows: list[list[Any]]) -> None:
        if rows:
            self.con.executemany(
                "INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def _save_state(self, state: ChainState, *, tip_time: datetime | None) -> None:
        self.con.execute("DELETE FROM chain_state WHERE chain = ?", [state.chain]).fetchall()
        self.con.execute(
            """INSERT INTO chain_state (chain, first_height, tip_height, tip_hash, tip_time,
                   tx_count, address_count, address_bytes, runs, tail_tx_from,
                   tail_address_from, tail_rows, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                state.chain,
                state.first_height,
                state.tip_height,
                state.tip_hash,
                tip_time,
                state.tx_count,
                state.address_count,
                state.address_bytes,
                state.runs,
                state.tail_tx_from,
                state.tail_address_from,
                state.tail_rows,
                datetime.now(UTC),
            ],
        ).fetchall()

    def _record_event(self, chain: str, kind: str, first: int, last: int, txs: int) -> None:
        self.con.execute(
            """INSERT INTO events
               SELECT coalesce(max(seq), 0) + 1, ?, ?, ?, ?, ?, ? FROM events""",
            [chain, kind, first, last, txs, datetime.now(UTC)],
        ).fetchall()

    def _create_views(self, chain: str) -> None:
        """Views ``<chain>_<table>`` over the committed segments (in the open transaction)."""
        kind = str(get_chain(chain).kind)
        for table, schema in stored_schemas(kind).items():
            files = [
                self.root / p
                for (p,) in storage.rows(
                    self.con,
                    "SELECT path FROM segments WHERE chain = ? AND tbl = ? ORDER BY first_height",
                    [chain, table],
                )
            ]
            self.con.execute(storage.view_sql(f"{chain}_{table}", schema, files)).fetchall()
        if kind == ChainKind.UTXO:
            self.con.execute(
                f"""CREATE OR REPLACE VIEW {chain}_outputs_spent AS
                SELECT o.*, i.tx_id AS spent_by_tx_id, i.n AS spent_by_input
                FROM {chain}_outputs o
                LEFT JOIN {chain}_inputs i ON i.prev_tx_id = o.tx_id AND i.prev_n = o.n"""
            ).fetchall()

    # --- keeping lookups fast, re-orgs (chainsleuth.chain.maintenance) ---------------------

    def optimize(self, chain: str | None = None, *, full: bool = False) -> None:
        """See ``chainsleuth.chain.maintenance.optimize``."""
        maintenance.optimize(self, chain, full=full)

    def truncate_after(self, chain: str, height: int) -> int:
        """See ``chainsleuth.chain.maintenance.truncate_after``."""
        return maintenance.truncate_after(self, chain, height)

    # --- reading ----------------------------------------------------------------------------

    def reader(self) -> ChainReader:
        """Lookups on this store, on a cursor of their own (use one per thread; close it)."""
        self._check_open()
        return ChainReader(storage.cursor(self.con), self.root)

    # --- what changed -------------------------------------------------------------------------

    def events(self, after_seq: int = 0) -> list[StoreEvent]:
        """Appends and truncations after ``after_seq``, oldest first (for incremental jobs)."""
        with self._lock:
            found = storage.rows(
                self.con,
                """SELECT seq, chain, kind, first_height, last_height, txs,
                          epoch(happened_at)::BIGINT
                   FROM events WHERE seq > ? ORDER BY seq""",
                [after_seq],
            )
        return [
            StoreEvent(
                seq=r[0],
                chain=r[1],
                kind=r[2],
                first_height=r[3],
                last_height=r[4],
                txs=r[5],
                at=datetime.fromtimestamp(r[6], UTC),
            )
            for r in found
        ]

    def changed_since(self, chain: str, height: int) -> np.ndarray:
        """The ids of the addresses touched by the blocks above ``height`` (sorted, unique)."""
        info = get_chain(chain)
        with self._lock:
            tables = (
                ["outputs", "inputs"]
                if info.kind is ChainKind.UTXO
                else ["txs", "token_transfers", "traces"]
            )
            columns = {
                "outputs": ["address_id"],
                "inputs": ["address_id"],
                "txs": ["from_id", "to_id", "created_contract_id"],
                "token_transfers": ["from_id", "to_id"],
                "traces": ["from_id", "to_id"],
            }
            ids: list[np.ndarray] = []
            for table in tables:
                files = [
                    str(self.root / p)
                    for (p,) in storage.rows(
                        self.con,
                        "SELECT path FROM segments WHERE chain = ? AND tbl = ? AND last_height > ?",
                        [info.id, table, height],
                    )
                ]
                if not files:
                    continue
                for column in columns[table]:  # fixed names
                    found = storage.arrow(
                        self.con,
                        f"""SELECT DISTINCT {column} AS id FROM read_parquet(?::VARCHAR[])
                            WHERE height > ? AND {column} IS NOT NULL""",
                        [files, height],
                    )
                    ids.append(found["id"].to_numpy())
        if not ids:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate(ids)).astype(np.int64)

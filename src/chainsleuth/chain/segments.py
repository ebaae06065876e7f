"""Writing a batch's Parquet segments (on a background thread while the encoder works)."""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from chainsleuth.chain import storage
from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.encode import ChainState
from chainsleuth.chain.schemas import STORED

if TYPE_CHECKING:
    from chainsleuth.chain.store import ChainStore

#: rows per Parquet row group: point reads by tx_id decode one group
PARQUET_ROW_GROUP = 32768


#: columns of random hex (transaction and block hashes): stored uncompressed and without
#: statistics. Random hex holds 4 bits a character, which only an entropy coder recovers:
#: zstd halves them but costs most of a bulk load's Parquet time, and min/max of random
#: values prune no row group.
HEX_COLUMNS = frozenset({"hash", "prev_hash"})
#: codec of the other columns. Their integers are delta-encoded first (``delta_column``),
#: which packs ids, heights and times (sorted or nearly so) to a few bits a value; on top of
#: that snappy writes files the size zstd level 1 wrote for about half the CPU (measured on
#: a 10M world's segments: 1.79 CPU-s and 202 MB with zstd-1, 0.93 CPU-s and 209 MB this way)
CODEC = "snappy"


def delta_column(field: pa.Field) -> bool:
    """Integers and timestamps (INT32/INT64 in Parquet) are stored DELTA_BINARY_PACKED."""
    return bool(pa.types.is_integer(field.type) or pa.types.is_timestamp(field.type))


def write_parquet(table: pa.Table, path: Path, *, durable: bool) -> None:
    names = table.column_names
    pq.write_table(
        table,
        path,
        compression={name: "none" if name in HEX_COLUMNS else CODEC for name in names},
        column_encoding={
            f.name: "DELTA_BINARY_PACKED"
            for f in table.schema
            if delta_column(f) and f.name not in HEX_COLUMNS
        },
        write_statistics=[name for name in names if name not in HEX_COLUMNS],
        use_dictionary=False,
        row_group_size=PARQUET_ROW_GROUP,
    )
    if durable:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class SegmentWriter:
    """Writes a batch's Parquet segments on a background thread while the encoder works.

    ``finish()`` waits for them and returns their manifest rows; ``abandon()`` waits and
    deletes whatever was written (the append failed).
    """

    def __init__(self, store: ChainStore, state: ChainState, batch: BlockRange) -> None:
        self.root = store.root
        self.durable = store.durable
        self.state = state
        self.batch = batch
        self.tables: dict[str, pa.Table] = {}
        self.paths: dict[str, Path] = {}
        self.segment_ids: dict[str, int] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chain-segments")
        self._futures: list[Future[None]] = []
        row = storage.one(store.con, "SELECT coalesce(max(segment_id), 0) FROM segments")
        self._next_id = int(row[0])

    def submit(self, name: str, table: pa.Table) -> None:
        self.tables[name] = table
        if table.num_rows == 0:
            return
        self._next_id += 1
        rel = storage.segment_path(
            self.state.chain, name, self.batch.first_height, self.batch.last_height, self._next_id
        )
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        self.paths[name] = path
        self.segment_ids[name] = self._next_id
        self._futures.append(self._pool.submit(write_parquet, table, path, durable=self.durable))

    def finish(self) -> list[list[Any]]:
        for future in self._futures:
            future.result()
        self._pool.shutdown()
        first_tx = self.state.tx_count
        last_tx = first_tx + self.tables["txs"].num_rows - 1
        now = datetime.now(UTC)
        return [
            [
                self.segment_ids[name],
                self.state.chain,
                name,
                self.batch.first_height,
                self.batch.last_height,
                first_tx,
                last_tx,
                str(path.relative_to(self.root)),
                self.tables[name].num_rows,
                path.stat().st_size,
                now,
            ]
            for name, path in self.paths.items()
        ]

    def abandon(self) -> None:
        for future in self._futures:
            try:
                future.result()
            except Exception:  # the append's own error is the one to report
                pass
        self._pool.shutdown()
        for path in self.paths.values():
            path.unlink(missing_ok=True)


def stored_schemas(kind: str) -> dict[str, pa.Schema]:
    """Every Parquet table of a kind of chain: ``STORED`` and the address segments."""
    return dict(STORED[kind], addresses=storage.ADDRESS_SEGMENT)

"""Writing a world folder: Parquet by block range, in a background thread, with checksums.

Chain generators hand over one chunk at a time; chunks are gathered until a file range is
complete, then written as one Parquet file per table
(``chains/<chain>/<table>/<first>-<last>.parquet``, heights zero-padded to 8 digits). All
file writing happens in one worker thread, in the order the jobs were queued, so the bytes
do not depend on timing; the queue is bounded, so memory stays bounded.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from chainsleuth.chain.schemas import SOURCE
from chainsleuth.world.presets import WorldParams

#: columns worth dictionary-encoding (few distinct values); others are written plain
DICTIONARY_COLUMNS = ["script_type", "method", "token", "miner", "status", "chain", "role"]
DICTIONARY_COLUMNS += ["wallet", "direction", "asset", "version", "coinbase"]


#: hashes and addresses are hex/base58/bech32 text that block compressors barely shrink;
#: uncompressed pages write ~4x and read ~2x faster than snappy's (see bench/)
COMPRESSION = "none"


@dataclass
class FileRecord:
    path: str  # relative to the world folder, with forward slashes
    sha256: str
    bytes: int
    rows: int


@dataclass
class RangeRecord:
    chain: str
    first: int
    last: int
    files: dict[str, str]  # table -> relative path
    rows: dict[str, int]


@dataclass
class ChainOutput:
    """What one chain generator wrote (returned to the parent process)."""

    chain: str
    files: list[FileRecord] = field(default_factory=list)
    ranges: list[RangeRecord] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write one table with the world's Parquet settings (deterministic bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = set(table.column_names)
    pq.write_table(
        table,
        path,
        compression=COMPRESSION,
        use_dictionary=[c for c in DICTIONARY_COLUMNS if c in names],
        write_statistics=[c for c in ("height", "time", "log_index", "n") if c in names],
        row_group_size=256 * 1024,
    )


def file_record(root: Path, path: Path, rows: int) -> FileRecord:
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return FileRecord(path.relative_to(root).as_posix(), digest, path.stat().st_size, rows)


class Worker:
    """One background thread running queued jobs in order; errors surface on the next call."""

    def __init__(self, depth: int = 3) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self.busy = 0.0  # seconds spent running jobs
        self._thread = threading.Thread(target=self._run, name="world-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if self._error is None:
                started = time.perf_counter()
                try:
                    job()
                except BaseException as exc:  # re-raised in the generating thread
                    self._error = exc
                self.busy += time.perf_counter() - started

    def submit(self, job: Callable[[], None]) -> None:
        self._check()
        self._queue.put(job)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._check()

    def _check(self) -> None:
        if self._error is not None:
            raise self._error


class ChainWriter:
    """The writing side of one chain generator (the ``Sink`` of ``utxo``/``account``)."""

    def __init__(
        self,
        root: Path,
        params: WorldParams,
        chain: str,
        kind: str,
        on_progress: Callable[[str, int], None] | None = None,
    ) -> None:
        self.root = root
        self.chain = chain
        self.kind = kind
        self.output = ChainOutput(chain)
        self.file_blocks = params.file_days(chain) * params.blocks_per_day(chain)
        self.total_blocks = params.days * params.blocks_per_day(chain)
        self._pending: list[dict[str, pa.Table]] = []
        self._pending_first: int | None = None
        self._worker = Worker()
        self._streams: dict[str, tuple[pq.ParquetWriter, Path, list[int]]] = {}
        self._on_progress = on_progress

    # --- Sink ------------------------------------------------------------------------------

    def chain_tables(self, chain: str, first: int, last: int, tables: dict[str, pa.Table]) -> None:
        if self._pending_first is None:
            self._pending_first = first
        self._pending.append(tables)
        range_end = (first // self.file_blocks + 1) * self.file_blocks - 1
        if last >= min(range_end, self.total_blocks - 1):
            self._flush_range(self._pending_first, last)

    def truth_addresses(self, chain: str, table: pa.Table) -> None:
        self.stream(f"truth/addresses_{chain}.parquet", table)

    def exchange_events(self, chain: str, table: pa.Table) -> None:
        self.stream(f"exchange/.events_{chain}.parquet", table)

    def progress(self, chain: str, txs: int) -> None:
        if self._on_progress is not None:
            self._on_progress(chain, txs)

    # --- files -----------------------------------------------------------------------------

    def _flush_range(self, first: int, last: int) -> None:
        parts, self._pending, self._pending_first = self._pending, [], None
        names = list(SOURCE[self.kind])
        record = RangeRecord(self.chain, first, last, {}, {})
        jobs: list[tuple[pa.Table, Path]] = []
        for name in names:
            tables = [p[name] for p in parts if name in p]
            table = pa.concat_tables(tables) if tables else SOURCE[self.kind][name].empty_table()
            rel = f"chains/{self.chain}/{name}/{first:08d}-{last:08d}.parquet"
            record.files[name] = rel
            record.rows[name] = table.num_rows
            jobs.append((table, self.root / rel))
        self.output.ranges.append(record)

        def job() -> None:
            for table, path in jobs:
                write_parquet(table, path)
                self.output.files.append(file_record(self.root, path, table.num_rows))

        self._worker.submit(job)

    def stream(self, rel: str, table: pa.Table) -> None:
        """Append a table to a Parquet file written over the whole run (one row group each)."""

        def job() -> None:
            entry = self._streams.get(rel)
            if entry is None:
                path = self.root / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                names = set(table.column_names)
                writer = pq.ParquetWriter(
                    path,
                    table.schema,
                    compression=COMPRESSION,
                    use_dictionary=[c for c in DICTIONARY_COLUMNS if c in names],
                    write_statistics=False,
                )
                entry = (writer, path, [0])
                self._streams[rel] = entry
            entry[0].write_table(table)
            entry[2][0] += table.num_rows

        self._worker.submit(job)

    def close(self) -> ChainOutput:
        if self._pending:
            assert self._pending_first is not None
            last = self._last_height_pending()
            self._flush_range(self._pending_first, last)

        def finish() -> None:
            for writer, path, rows in self._streams.values():
                writer.close()
                if not path.name.startswith("."):
                    self.output.files.append(file_record(self.root, path, rows[0]))

        self._worker.submit(finish)
        self._worker.close()
        self.output.files.sort(key=lambda f: f.path)
        self.output.extra["writer_seconds"] = self._worker.busy
        return self.output

    def abort(self) -> None:
        try:
            self._worker.close()
        except BaseException:  # the original error is being reported already
            pass

    def _last_height_pending(self) -> int:
        blocks = self._pending[-1]["blocks"]
        return int(blocks.column("height")[-1].as_py())

"""Reading what clustering needs from the chain store, a block range at a time.

Clustering never writes the chain store. It reads the manifest (which Parquet segments are
committed, the tip, the events) through a read-only DuckDB connection, or through the
writer's connection when this process holds the store open for writing (DuckDB allows no
second connection then), and reads the segments with ``read_parquet`` filtered on height,
so that memory is bounded by one chunk of blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from chainsleuth.chain import storage
from chainsleuth.chain.chains import ChainInfo, get_chain
from chainsleuth.chain.store import open_writer_for
from chainsleuth.core.errors import NotFound

#: roughly this many input (or transfer) rows per chunk
CHUNK_ROWS = 2_000_000


@contextmanager
def chain_connection(root: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the store's database: the in-process writer's, or a read-only one."""
    root = Path(root)
    writer = open_writer_for(root)
    if writer is not None:
        con = storage.cursor(writer.con)
    else:
        if not (root / storage.DB_FILE).exists():
            raise NotFound(f"no chain store at {root}: load a world or ingest blocks first")
        con = storage.connect(root, read_only=True)
    try:
        yield con
    finally:
        con.close()


@dataclass(frozen=True)
class ChainView:
    """What clustering knows of one chain of the store at the start of a run."""

    info: ChainInfo
    tip: int | None
    address_count: int
    last_event: int  # the newest event's seq (any chain)
    truncated_from: int | None  # lowest height a truncate event removed, if any

    @property
    def kind(self) -> str:
        return str(self.info.kind)


def chain_view(con: duckdb.DuckDBPyConnection, chain: str, after_event: int = 0) -> ChainView:
    info = get_chain(chain)
    row = storage.one(
        con, "SELECT tip_height, address_count FROM chain_state WHERE chain = ?", [info.id]
    )
    last = storage.one(con, "SELECT coalesce(max(seq), 0) FROM events")
    cut = storage.one(
        con,
        "SELECT min(first_height) FROM events WHERE chain = ? AND kind = 'truncate' AND seq > ?",
        [info.id, after_event],
    )
    return ChainView(
        info=info,
        tip=None if row is None else row[0],
        address_count=0 if row is None else int(row[1]),
        last_event=int(last[0]) if last else 0,
        truncated_from=None if cut is None or cut[0] is None else int(cut[0]),
    )


def segment_files(con: duckdb.DuckDBPyConnection, root: Path, chain: str, table: str) -> list[str]:
    return [
        str(Path(root) / p)
        for (p,) in storage.rows(
            con,
            "SELECT path FROM segments WHERE chain = ? AND tbl = ? ORDER BY first_height",
            [chain, table],
        )
    ]


def chunks(
    con: duckdb.DuckDBPyConnection, chain: str, table: str, first: int, last: int
) -> list[tuple[int, int]]:
    """Height ranges covering ``first..last`` with about ``CHUNK_ROWS`` rows of ``table``
    each (from the segments' row counts; a chunk never splits a block)."""
    if last < first:
        return []
    segs = storage.rows(
        con,
        """SELECT first_height, last_height, rows FROM segments
           WHERE chain = ? AND tbl = ? AND last_height >= ? AND first_height <= ?
           ORDER BY first_height""",
        [chain, table, first, last],
    )
    out: list[tuple[int, int]] = []
    for lo, hi, rows in segs:
        lo, hi = max(int(lo), first), min(int(hi), last)
        span = int(hi) - int(lo) + 1
        parts = max(1, int(rows) // CHUNK_ROWS + (1 if int(rows) % CHUNK_ROWS else 0))
        step = max(1, -(-span // parts))
        for start in range(lo, hi + 1, step):
            out.append((start, min(hi, start + step - 1)))
    if not out:
        out.append((first, last))
    return out


def column(table: object, name: str, dtype: type = np.int64, fill: int = -1) -> np.ndarray:
    """A column of an Arrow table as a numpy array, nulls as ``fill``."""
    col = table.column(name)  # type: ignore[attr-defined]
    if col.null_count:
        col = col.fill_null(fill)
    return np.asarray(col.to_numpy(), dtype=dtype)

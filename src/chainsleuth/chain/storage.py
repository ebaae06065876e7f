"""The chain store's files: the DuckDB database, the Parquet segments and two flat files.

Layout under the store's root (``settings.data_dir / "chains"``)::

    chainstore.duckdb                    manifest, dictionaries, lookup indexes, views
    writer.intent                        present while a writer waits for or holds the store
    btc/txs/000000000000-000000099999.1.parquet
    btc/outputs/...  btc/inputs/...  btc/blocks/...
    btc/addresses/...                    the dictionary's new addresses of each batch
    btc/txs.bin                          40 bytes per tx_id: hash, and time (int64 seconds)
    btc/addr.off  btc/addr.dat           address_id -> address text (end offsets, bytes)
    eth/txs/...  eth/token_transfers/...  eth/blocks/...

Only what the manifest (``segments``, ``chain_state``) names is committed. Parquet files are
written before the DuckDB transaction that names them commits; a file the manifest does not
name is an orphan of a crashed or failed append and is deleted when a writer opens the
store. The flat files are append-only arrays indexed by id: bytes past the committed
counts in ``chain_state`` are ignored by readers, overwritten by the next append and cut off
when a writer opens.

The flat files exist because DuckDB, a column store, answers "these 50 ids" in tens of
milliseconds, while an address page must show 50 transaction hashes in a few.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from chainsleuth.chain.keys import HASH_BYTES
from chainsleuth.core.errors import DatabaseNotReady, IntegrityViolation

#: bytes per transaction in ``txs.bin``: its hash, then its time
TX_RECORD = HASH_BYTES + 8

DB_FILE = "chainstore.duckdb"
INTENT_FILE = "writer.intent"
SCHEMA_VERSION = "1"
#: ``asset_id`` of a chain's native asset in the account index (tokens use their address_id)
NATIVE_ASSET = -1
#: a height above every block (open upper bound)
NO_HEIGHT = 1 << 62


class StoreBusy(DatabaseNotReady):
    """Another process holds the store (a load is running, or a reader keeps it open)."""

    code = "chain_store_busy"


#: The Parquet segments of the address dictionary: the addresses each batch added.
ADDRESS_SEGMENT = pa.schema(
    [
        pa.field("address_id", pa.int64(), nullable=False),
        pa.field("address", pa.string(), nullable=False),
        pa.field("first_seen_height", pa.int64()),
        pa.field("kind", pa.string()),
    ]
)


def as_string_array(values: pa.Array | pa.ChunkedArray) -> pa.StringArray:
    if isinstance(values, pa.ChunkedArray):
        values = pa.concat_arrays(values.chunks) if values.num_chunks != 1 else values.chunk(0)
    if not isinstance(values, pa.StringArray):  # pragma: no cover - the schema says string
        values = values.cast(pa.string())
    return values


def sql_literal(text: str) -> str:
    """A SQL string literal, for view definitions (DuckDB takes no parameters there).
    Only ever used with paths the store itself made."""
    return "'" + text.replace("'", "''") + "'"


SCHEMA: list[str] = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR NOT NULL, value VARCHAR NOT NULL)",
    """CREATE TABLE IF NOT EXISTS chain_state (
        chain VARCHAR NOT NULL,
        first_height BIGINT,
        tip_height BIGINT,
        tip_hash VARCHAR,
        tip_time TIMESTAMPTZ,
        tx_count BIGINT NOT NULL,
        address_count BIGINT NOT NULL,
        address_bytes BIGINT NOT NULL,
        runs INTEGER NOT NULL,
        tail_tx_from BIGINT NOT NULL,
        tail_address_from BIGINT NOT NULL,
        tail_rows BIGINT NOT NULL,
        updated_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS segments (
        segment_id BIGINT NOT NULL,
        chain VARCHAR NOT NULL,
        tbl VARCHAR NOT NULL,
        first_height BIGINT NOT NULL,
        last_height BIGINT NOT NULL,
        first_tx_id BIGINT NOT NULL,
        last_tx_id BIGINT NOT NULL,
        path VARCHAR NOT NULL,
        rows BIGINT NOT NULL,
        bytes BIGINT NOT NULL,
        committed_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS events (
        seq BIGINT NOT NULL,
        chain VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        first_height BIGINT NOT NULL,
        last_height BIGINT NOT NULL,
        txs BIGINT NOT NULL,
        happened_at TIMESTAMPTZ NOT NULL)""",
    # random hex barely compresses, and trying costs more than the insert itself; so do
    # 128-bit sums (a third of a bulk load's insert time went into analysing them)
    """CREATE TABLE IF NOT EXISTS blocks (
        chain VARCHAR NOT NULL,
        height BIGINT NOT NULL,
        hash VARCHAR NOT NULL USING COMPRESSION uncompressed,
        time TIMESTAMPTZ NOT NULL,
        first_tx_id BIGINT NOT NULL,
        tx_count INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS addresses (
        chain VARCHAR NOT NULL,
        address_id BIGINT NOT NULL,
        k1 BIGINT NOT NULL,
        k2 BIGINT NOT NULL,
        first_seen_height BIGINT,
        kind VARCHAR)""",
    "CREATE TABLE IF NOT EXISTS tx_keys (chain VARCHAR NOT NULL, k1 BIGINT NOT NULL, "
    "tx_id BIGINT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS tokens (
        chain VARCHAR NOT NULL,
        token_id BIGINT NOT NULL,
        symbol VARCHAR,
        name VARCHAR,
        decimals INTEGER)""",
    """CREATE TABLE IF NOT EXISTS utxos (
        chain VARCHAR NOT NULL,
        k1 BIGINT NOT NULL,
        k2 BIGINT NOT NULL,
        n INTEGER NOT NULL,
        tx_id BIGINT NOT NULL,
        address_id BIGINT,
        value BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS spends (
        chain VARCHAR NOT NULL,
        prev_tx_id BIGINT NOT NULL,
        prev_n INTEGER NOT NULL,
        tx_id BIGINT NOT NULL,
        n INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS utxo_address_txs (
        chain VARCHAR NOT NULL,
        address_id BIGINT NOT NULL,
        tx_id BIGINT NOT NULL,
        height BIGINT NOT NULL,
        received BIGINT NOT NULL,
        sent BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS account_address_txs (
        chain VARCHAR NOT NULL,
        address_id BIGINT NOT NULL,
        tx_id BIGINT NOT NULL,
        height BIGINT NOT NULL,
        asset_id BIGINT NOT NULL,
        received DECIMAL(38, 0) NOT NULL USING COMPRESSION uncompressed,
        sent DECIMAL(38, 0) NOT NULL USING COMPRESSION uncompressed)""",
    f"""CREATE OR REPLACE VIEW address_txs AS
        SELECT chain, address_id, tx_id, height, {NATIVE_ASSET}::BIGINT AS asset_id,
               received::DECIMAL(38, 0) AS received, sent::DECIMAL(38, 0) AS sent
        FROM utxo_address_txs
        UNION ALL
        SELECT chain, address_id, tx_id, height, asset_id, received, sent
        FROM account_address_txs""",
]

#: The index tables with the sort order ``optimize`` restores (zone maps need it).
SORTED_TABLES: dict[str, str] = {
    "utxo_address_txs": "chain, address_id, tx_id",
    "account_address_txs": "chain, address_id, tx_id, asset_id",
    "addresses": "chain, k1",
    "tx_keys": "chain, k1",
    "spends": "chain, prev_tx_id, prev_n",
    "utxos": "chain, k1, k2, n",
}


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def connect(root: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection to the store's database. Raises StoreBusy when another process holds
    a conflicting lock on the file (DuckDB allows one writing process, or many readers)."""
    try:
        return duckdb.connect(str(root / DB_FILE), read_only=read_only)
    except duckdb.Error as exc:
        if is_lock_error(exc):
            raise StoreBusy(busy_message(exc)) from exc
        raise


def busy_message(exc: BaseException) -> str:
    holder = ""
    text = str(exc)
    if "(PID " in text:
        holder = " (process " + text.split("(PID ", 1)[1].split(")", 1)[0] + ")"
    return (
        f"the chain store is in use by another process{holder}: a load may be running; "
        "try again when it has finished"
    )


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new cursor: its own DuckDB connection to the same database, for one thread."""
    return con.cursor()


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    return con.execute(sql, list(params)).fetchall()


def one(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    result = con.execute(sql, list(params)).fetchall()
    return result[0] if result else None


def arrow(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pa.Table:
    return con.sql(sql, params=list(params)).to_arrow_table()


# --- Parquet segments -------------------------------------------------------------------------


def segment_path(chain: str, table: str, first: int, last: int, segment_id: int) -> str:
    """A segment's path relative to the root: by chain, table and block range."""
    return f"{chain}/{table}/{first:012d}-{last:012d}.{segment_id}.parquet"


def parquet_files(root: Path, chains: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for chain in chains:
        base = root / chain
        if base.is_dir():
            found.extend(p for p in base.glob("*/*.parquet") if p.is_file())
            found.extend(p for p in base.glob("*/*.parquet.tmp") if p.is_file())
    return found


_DUCK_TYPES = {
    pa.int8(): "TINYINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.bool_(): "BOOLEAN",
    pa.string(): "VARCHAR",
}


def duck_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_dictionary(arrow_type):
        return duck_type(arrow_type.value_type)
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ"
    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision}, {arrow_type.scale})"
    try:
        return _DUCK_TYPES[arrow_type]
    except KeyError:  # pragma: no cover - the stored schemas use only the types above
        raise IntegrityViolation(f"no DuckDB type for {arrow_type}") from None


def view_sql(name: str, schema: pa.Schema, files: Sequence[Path]) -> str:
    """``CREATE OR REPLACE VIEW`` over the given Parquet files (typed and empty if none)."""
    if files:
        listing = ", ".join(sql_literal(str(f)) for f in files)
        body = f"SELECT * FROM read_parquet([{listing}])"
    else:
        cols = ", ".join(f"CAST(NULL AS {duck_type(f.type)}) AS {f.name}" for f in schema)
        body = f"SELECT {cols} WHERE false"
    return f"CREATE OR REPLACE VIEW {name} AS {body}"


# --- flat files ---------------------------------------------------------------------------------


class FlatFiles:
    """One chain's id-indexed flat files: transaction hashes and address texts.

    Reads use ``os.pread`` for ids that the caller took from the database, so they never
    look past what was committed.
    """

    #: read one span of the file instead of one read per id when the span is this small
    SPAN_BYTES = 32 * 1024 * 1024

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.tx_path = directory / "txs.bin"
        self.off_path = directory / "addr.off"
        self.dat_path = directory / "addr.dat"

    # writer side

    def cut(self, *, tx_count: int, address_count: int, address_bytes: int) -> None:
        """Drop what lies past the committed counts (left by an append that did not commit)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for path, size in (
            (self.tx_path, tx_count * TX_RECORD),
            (self.off_path, address_count * 8),
            (self.dat_path, address_bytes),
        ):
            with open(path, "ab") as fh:
                if fh.tell() > size:
                    fh.truncate(size)
                elif fh.tell() < size:
                    raise IntegrityViolation(
                        f"{path} holds {fh.tell()} bytes but the store committed {size}"
                    )

    def write_txs(self, first_tx_id: int, raw: np.ndarray, times: np.ndarray) -> None:
        """Records of tx ids ``first_tx_id...``: (n, 32) hashes and their times (seconds)."""
        records = np.empty((len(raw), TX_RECORD), dtype=np.uint8)
        records[:, :HASH_BYTES] = raw
        records[:, HASH_BYTES:] = times.astype("<i8").view(np.uint8).reshape(-1, 8)
        _pwrite(self.tx_path, first_tx_id * TX_RECORD, records.tobytes())

    def write_addresses(self, first_id: int, first_byte: int, texts: pa.StringArray) -> int:
        """Write addresses ``first_id...`` in order; returns the new end of ``addr.dat``."""
        n = len(texts)
        if n == 0:
            return first_byte
        offsets = np.frombuffer(
            texts.buffers()[1], dtype=np.int32, count=n + 1, offset=4 * texts.offset
        ).astype(np.int64)
        start, end = int(offsets[0]), int(offsets[-1])
        data = texts.buffers()[2].to_pybytes()[start:end]
        ends = offsets[1:] - start + first_byte
        _pwrite(self.dat_path, first_byte, data)
        _pwrite(self.off_path, first_id * 8, ends.astype("<i8").tobytes())
        return first_byte + len(data)

    def sync(self) -> None:
        for path in (self.tx_path, self.off_path, self.dat_path):
            if path.exists():
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    # reader side

    def tx_records(self, tx_ids: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hashes ((n, 32) uint8) and times (int64 seconds) of the given (committed) tx ids."""
        ids = np.asarray(tx_ids, dtype=np.int64)
        if ids.size and ids.min() < 0:
            raise IntegrityViolation("a negative transaction id")
        records = _gather_fixed(self.tx_path, ids, TX_RECORD, self.SPAN_BYTES)
        times = np.ascontiguousarray(records[:, HASH_BYTES:]).view("<i8").reshape(-1)
        return np.ascontiguousarray(records[:, :HASH_BYTES]), times.astype(np.int64)

    def tx_hashes(self, tx_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """An (n, 32) uint8 matrix of the hashes of the given (committed) tx ids."""
        return self.tx_records(tx_ids)[0]

    def addresses(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        """The texts of the given (committed) address ids."""
        idx = np.asarray(ids, dtype=np.int64)
        if idx.size == 0:
            return []
        if idx.min() < 0:
            raise IntegrityViolation("a negative address id")
        ends = _gather_fixed(self.off_path, idx, 8, self.SPAN_BYTES).view("<i8").reshape(-1)
        prev = idx - 1
        starts = np.zeros(idx.size, dtype=np.int64)
        has_prev = prev >= 0
        if has_prev.any():
            starts[has_prev] = (
                _gather_fixed(self.off_path, prev[has_prev], 8, self.SPAN_BYTES)
                .view("<i8")
                .reshape(-1)
            )
        lo, hi = int(starts.min()), int(ends.max())
        fd = os.open(self.dat_path, os.O_RDONLY)
        try:
            if hi - lo <= max(_SMALL_SPAN, min(self.SPAN_BYTES, 64 * 64 * idx.size)):
                blob = os.pread(fd, hi - lo, lo)
                return [
                    blob[s - lo : e - lo].decode()
                    for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
                ]
            return [
                os.pread(fd, e - s, s).decode()
                for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
            ]
        finally:
            os.close(fd)


_SMALL_SPAN = 64 * 1024


def flat_files(root: str | os.PathLike[str], chain: str) -> FlatFiles:
    """``FlatFiles(root / chain)``, made once per store and chain (the paths are all it
    holds; a hot path asks for them several times a request)."""
    return _flat_files(os.fspath(root), chain)


@functools.lru_cache(maxsize=64)
def _flat_files(root: str, chain: str) -> FlatFiles:
    return FlatFiles(Path(root) / chain)


def _pwrite(path: Path, offset: int, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, offset)
            view = view[written:]
            offset += written
    finally:
        os.close(fd)


def _gather_fixed(path: Path, ids: np.ndarray, width: int, span_limit: int) -> np.ndarray:
    """Records ``ids`` of a file of fixed-width records, as an (n, width) uint8 matrix."""
    out = np.empty((ids.size, width), dtype=np.uint8)
    if ids.size == 0:
        return out
    fd = os.open(path, os.O_RDONLY)
    try:
        lo, hi = int(ids.min()), int(ids.max()) + 1
        # one read of the whole span when it is small, or dense enough to beat many reads
        if (hi - lo) * width <= max(_SMALL_SPAN, min(span_limit, 64 * width * ids.size)):
            blob = os.pread(fd, (hi - lo) * width, lo * width)
            if len(blob) != (hi - lo) * width:
                raise IntegrityViolation(f"{path} is shorter than the store committed")
            out[:] = np.frombuffer(blob, dtype=np.uint8).reshape(-1, width)[ids - lo]
        else:
            for i, record in enumerate(ids.tolist()):
                blob = os.pread(fd, width, record * width)
                if len(blob) != width:
                    raise IntegrityViolation(f"{path} is shorter than the store committed")
                out[i] = np.frombuffer(blob, dtype=np.uint8)
    finally:
        os.close(fd)
    return out


class IntentFile:
    """``writer.intent``: tells readers in other processes to let go of the database."""

    def __init__(self, root: Path) -> None:
        self.path = root / INTENT_FILE

    def announce(self) -> None:
        self.path.write_text(str(os.getpid()))

    def withdraw(self) -> None:
        try:
            if self.path.read_text().strip() == str(os.getpid()):
                self.path.unlink()
        except FileNotFoundError:
            pass

    def waiting_writer(self) -> int | None:
        """The pid of a live writer (not this process) that wants the store, if any."""
        try:
            pid = int(self.path.read_text().strip() or "0")
        except (FileNotFoundError, ValueError):
            return None
        if pid <= 0 or pid == os.getpid():
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK").fetchall()
    except duckdb.Error:
        pass

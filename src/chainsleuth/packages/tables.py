"""The rows of a gathered item and what reading one needs (shared by ``gather``,
``onchain`` and ``build``).

A :class:`Table` holds plain values (str, int, bool, None: times as ISO text, amounts as
integers and also as decimal text): as Python rows for the small items, as Arrow columns
(:attr:`Table.data`) for the long ones (ledger, deposits, withdrawals, logins), which are
read from the driver's cursor straight into columns and formatted by Arrow's kernels
(:func:`fetch_columns`, :func:`times`, :func:`amounts`, :func:`displays`). The item's
digest is the SHA-256 of its header and its CSV rows (:func:`csv_body`), the very bytes the
package's CSV file is made of: what the agency receives is what the reviewer saw, on either
backend.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Executable
from sqlalchemy.orm import Session

from chainsleuth.chain.lookups import ChainReader
from chainsleuth.exchange.kyc import KycKeys
from chainsleuth.packages.enums import Category
from chainsleuth.tracing import service as tracing_service

Row = tuple[Any, ...]
#: the Arrow types of amounts, narrowest first (:func:`amounts`)
AMOUNTS = (pa.decimal128(38, 0), pa.decimal256(76, 0))
#: rows turned into CSV text per Arrow batch (string offsets stay far below 2 GiB)
CSV_CHUNK = 50_000


@dataclass
class Table:
    """Rows of one item in plain values: ``rows`` (Python tuples), or ``data`` (Arrow
    columns named as ``columns``; ``rows`` is then empty)."""

    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    data: pa.Table | None = None

    def __len__(self) -> int:
        return self.data.num_rows if self.data is not None else len(self.rows)

    def plain(self) -> list[Row]:
        """The rows as Python tuples (amount decimals as integers)."""
        if self.data is None:
            return self.rows
        columns = [_python(c) for c in self.data.columns]
        return list(zip(*columns, strict=True)) if columns else []

    def head(self, n: int) -> Table:
        if self.data is None:
            return Table(self.columns, self.rows[:n])
        return Table(self.columns, data=self.data.slice(0, n))

    def column(self, name: str) -> list[Any]:
        """One column's plain values."""
        if self.data is not None:
            return _python(self.data.column(name))
        i = self.columns.index(name)
        return [r[i] for r in self.rows]


def _python(values: pa.ChunkedArray | pa.Array) -> list[Any]:
    out = values.to_pylist()
    if pa.types.is_decimal(values.type):
        return [None if v is None else int(v) for v in out]
    return out  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Scope:
    """What one item reads: a customer, a category, a chain, a time range."""

    customer_id: str
    category: Category
    chain: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def lead(self) -> tuple[list[str], tuple[Any, ...]]:
        """The columns (and values) that lead each of the item's rows in a package: the
        customer, and the chain of an on-chain item."""
        if self.category.on_chain:
            return ["customer_id", "chain"], (self.customer_id, self.chain)
        return ["customer_id"], (self.customer_id,)


@dataclass
class Sources:
    """What reading needs besides the database: the KYC keys, the chain store, tracing."""

    keys: KycKeys
    balances_at: datetime
    reader: ChainReader | None = None
    tracing: tracing_service.TracingContext | None = None
    #: decrypt KYC records (building a package) or show them masked (gathering)
    reveal: bool = False


def _value(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return v


# --- reading columns -------------------------------------------------------------------------


def fetch_columns(session: Session, stmt: Executable) -> list[Sequence[Any]]:
    """The result of ``stmt`` as columns of the driver's values. The statement is bound and
    run by SQLAlchemy (its bind processing applies); the rows are fetched from the DBAPI
    cursor, without building a result row object per row."""
    result = session.connection().execute(stmt)
    try:
        width = len(result.keys())
        rows = result.cursor.fetchall()
    finally:
        result.close()
    if not rows:
        return [() for _ in range(width)]
    return list(zip(*rows, strict=True))


def texts(values: Sequence[Any]) -> pa.Array:
    return pa.array(values, pa.string())


def ints(values: Sequence[Any]) -> pa.Array:
    return pa.array(values, pa.int64())


def bools(values: Sequence[Any]) -> pa.Array:
    """Booleans as read (SQLite gives 0 and 1)."""
    return pc.cast(pa.array(values), pa.bool_())


def amounts(values: Sequence[Any]) -> pa.Array:
    """Amounts as read (decimal text on SQLite, ``Decimal`` on PostgreSQL) as Arrow
    decimals: 38 digits (wei amounts pass 2**63), else 76; as digit text beyond that."""
    text, longest = None, 0
    if isinstance(next((v for v in values if v is not None), None), str):
        text = pa.array(values, pa.string())
        longest = pc.max(pc.utf8_length(pc.utf8_ltrim(text, "-"))).as_py() or 0
    for kind in AMOUNTS:
        try:
            if text is None:
                return pa.array(values, kind)
            if longest <= kind.precision:  # a cast of longer text would not fail, but wrap
                return pc.cast(text, kind)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
            continue
    return pa.array([None if v is None else str(int(v)) for v in values], pa.string())


_STORED_TIME = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$"


def times(values: Sequence[Any]) -> pa.Array:
    """Naive UTC times as read (text on SQLite, datetimes on PostgreSQL) as ISO 8601 text
    with the UTC offset, as ``datetime.isoformat()`` writes it."""
    raw = pa.array(values)
    if pa.types.is_null(raw.type):
        return pa.array(values, pa.string())
    if pa.types.is_timestamp(raw.type):
        text = pc.cast(pc.cast(raw, pa.timestamp("us")), pa.string())
    elif pa.types.is_string(raw.type) and pc.all(
        pc.match_substring_regex(raw, _STORED_TIME)
    ).as_py() in (True, None):
        text = raw
    else:  # another form of text: parsed value by value
        return pa.array([None if v is None else _iso_utc(v) for v in values], pa.string())
    # "YYYY-MM-DD HH:MM:SS.ffffff" -> "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00"
    day = pc.utf8_slice_codeunits(text, 0, 10)
    clock = pc.utf8_slice_codeunits(text, 11, 19)
    micro = pc.utf8_slice_codeunits(text, 19, 26)
    micro = pc.if_else(pc.equal(micro, ".000000"), "", micro)
    return pc.binary_join_element_wise(day, "T", clock, micro, "+00:00", "")


def _iso_utc(v: Any) -> str:
    value = v if isinstance(v, datetime) else datetime.fromisoformat(str(v))
    return value.replace(tzinfo=None).isoformat() + "+00:00"


def displays(values: pa.Array, assets: pa.Array, scales: dict[str, int]) -> pa.Array:
    """``format_amount`` of each amount in the decimals of its row's asset (``scales``; 0
    for an asset not there), computed on the amounts' digit text, one pass per scale."""
    text = pc.cast(values, pa.string())
    per_row = pc.fill_null(assets, "")
    present = [a for a in pc.unique(per_row).to_pylist() if a is not None]
    negative = pc.starts_with(text, "-")
    magnitude = pc.utf8_ltrim(text, "-")
    shown: dict[int, pa.Array] = {}
    for d in sorted({scales.get(a, 0) for a in present}):
        if d == 0:
            shown[d] = text
            continue
        padded = pc.utf8_lpad(magnitude, d + 1, "0")
        whole = pc.utf8_slice_codeunits(padded, 0, -d)
        frac = pc.utf8_rtrim(pc.utf8_slice_codeunits(padded, -d), "0")
        body = pc.if_else(pc.equal(frac, ""), whole, pc.binary_join_element_wise(whole, frac, "."))
        shown[d] = pc.if_else(negative, pc.binary_join_element_wise("-", body, ""), body)
    if len(shown) == 1:
        return next(iter(shown.values()))
    out = pa.nulls(len(values), pa.string())
    for asset in present:
        out = pc.if_else(pc.equal(per_row, asset), shown[scales.get(asset, 0)], out)
    return out


# --- CSV and the digest -----------------------------------------------------------------------

_NEEDS_QUOTES = '[,"\r\n]'


def _csv_field(value: Any) -> str:
    """One field as ``csv.writer`` writes it (QUOTE_MINIMAL)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([value, ""])
    return buf.getvalue()[:-1]


def _csv_cells(values: pa.Array) -> pa.Array:
    """A column's CSV fields (no nulls), as ``csv.writer`` writes the plain values."""
    kind = values.type
    if pa.types.is_null(kind):
        cells = pc.cast(values, pa.string())
    elif pa.types.is_boolean(kind):
        cells = pc.if_else(values, "True", "False")
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        cells = values
        quoted = pc.match_substring_regex(values, _NEEDS_QUOTES)
        if pc.any(quoted).as_py():
            escaped = pc.binary_join_element_wise(
                '"', pc.replace_substring(values, '"', '""'), '"', ""
            )
            cells = pc.if_else(quoted, escaped, values)
    elif pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        cells = pc.cast(values, pa.string())
    else:
        raise TypeError(f"no CSV form for Arrow type {kind}")
    return pc.fill_null(cells, "")


def string_bytes(values: pa.Array) -> bytes:
    """The concatenated UTF-8 text of a string array without nulls."""
    _validity, offsets, data = values.buffers()
    if data is None or offsets is None or not len(values):
        return b""
    bounds = memoryview(offsets).cast("i")  # int32 offsets of a string array
    first = bounds[values.offset]
    last = bounds[values.offset + len(values)]
    return memoryview(data)[first:last].tobytes()


def csv_header(columns: Sequence[str]) -> bytes:
    return _csv_text([tuple(columns)])


def _csv_text(rows: Iterable[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def csv_body(table: Table, lead: Sequence[Any] = ()) -> bytes:
    """The table's rows as CSV (UTF-8, CRLF, as ``csv.writer`` writes them), each led by
    the values of ``lead``."""
    lead = tuple(lead)
    if table.data is None:
        return _csv_text(lead + tuple(r) for r in table.rows)
    first = [_csv_field(v) for v in lead]
    out = []
    data = table.data
    for k in range(0, data.num_rows, CSV_CHUNK):
        part = data.slice(k, CSV_CHUNK)
        cells = [_csv_cells(c.combine_chunks()) for c in part.columns]
        line = pc.binary_join_element_wise(*first, *cells, ",")
        out.append(string_bytes(pc.binary_join_element_wise(line, "\r\n", "")))
    return b"".join(out)


def digest(table: Table, body: bytes | None = None) -> str:
    """SHA-256 of a table's content: its header (JSON), then its CSV rows (``body``, when
    the caller made them already, with the lead it writes)."""
    h = hashlib.sha256()
    h.update(json.dumps(table.columns).encode())
    h.update(b"\n")
    h.update(csv_body(table) if body is None else body)
    return h.hexdigest()

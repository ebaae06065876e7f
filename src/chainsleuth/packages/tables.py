"""The rows of a gathered item and what reading one needs (shared by ``gather``,
``onchain`` and ``build``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from chainsleuth.chain.lookups import ChainReader
from chainsleuth.exchange.kyc import KycKeys
from chainsleuth.packages.enums import Category
from chainsleuth.tracing import service as tracing_service

Row = tuple[Any, ...]


@dataclass
class Table:
    """Rows of one item: column names and rows as read (the driver's values: naive UTC
    times, amounts as the backend returns them). ``fmt`` turns rows as read into plain
    values (str, int, bool, None: times as ISO text, amounts as integers and also as
    decimal text), column by column; the digest is taken over the rows as read, so that
    gathering needs no formatting."""

    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    fmt: Callable[[list[Row]], list[Row]] | None = None

    def plain(self) -> list[Row]:
        if self.fmt is None or not self.rows:
            return self.rows
        return self.fmt(self.rows)

    def head(self, n: int) -> Table:
        return Table(self.columns, self.rows[:n], self.fmt)


@dataclass(frozen=True)
class Scope:
    """What one item reads: a customer, a category, a chain, a time range."""

    customer_id: str
    category: Category
    chain: str | None = None
    since: datetime | None = None
    until: datetime | None = None


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


def iso_utc(values: Iterable[datetime | None]) -> list[str | None]:
    """Naive UTC times (as read) as ISO 8601 text with the UTC offset."""
    return [None if v is None else v.isoformat() + "+00:00" for v in values]


def integers(values: Iterable[Any]) -> list[int | None]:
    """Amounts as read (decimal text on SQLite, ``Decimal`` on PostgreSQL) as integers."""
    return [None if v is None else int(v) for v in values]


def digest(table: Table) -> str:
    """SHA-256 of a table's content as read: the header, then the ``repr`` of the rows in
    chunks of 5,000 (plain values, integers, decimals and datetimes: unambiguous and stable
    for a given backend, which is where gathering and building read them)."""
    h = hashlib.sha256()
    h.update(json.dumps(table.columns).encode())
    rows = table.rows
    for k in range(0, len(rows), 5000):
        h.update(repr(rows[k : k + 5000]).encode())
    return h.hexdigest()

"""``chainsleuth exchange import DIR``: the exchange's export (CSV or Parquet) into the database.

The format is the world's ``exchange/`` folder (``src/chainsleuth/world/FORMAT.md``): one
file per table, ``<table>.csv`` or ``<table>.parquet`` with the same columns. The whole
export is read and checked first (every column, amount, address, hash, time and reference);
the first problem is one :class:`InvalidInput` naming the file and line, and nothing is
written. Then one transaction: rows the database lacks are inserted, rows that differ are
updated, identical rows are left alone (bulk statements, not one ORM object per row), the
linked accounts are rebuilt, and one audit entry records the import. Importing the same
export twice changes nothing; rows missing from a newer export are kept (an export may be a
part of the records).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.service import Actor
from chainsleuth.core.models import Base, utcnow
from chainsleuth.exchange import links as link_service
from chainsleuth.exchange.kyc import KycKeys, mask
from chainsleuth.exchange.models import Account, Customer, ExchangeImport, KycIndex
from chainsleuth.exchange.parse import BATCH, SPECS, TABLES, Known, find_files, parse_file

#: the columns that tell a customer changed (the encrypted record differs at every write)
CUSTOMER_COMPARE = [
    "customer_type",
    "residence_country",
    "kyc_level",
    "kyc_status",
    "risk_rating",
    "registered_at",
    "source_digest",
]
#: (stage, done, total): how far an import is
Progress = Callable[[str, int, int], None]


# --- writing -----------------------------------------------------------------------------


@dataclass
class TableCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged}


@dataclass
class ImportResult:
    source: str
    digest: str
    tables: dict[str, TableCounts]
    links: int | None  # None when nothing changed (links left as they were)
    import_id: int | None

    @property
    def changed(self) -> int:
        return sum(c.added + c.updated for c in self.tables.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "digest": self.digest,
            "tables": {k: v.as_dict() for k, v in self.tables.items()},
            "links": self.links,
            "import_id": self.import_id,
        }


def _existing(
    session: Session, model: type[Base], key: tuple[str, ...], cols: list[str]
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    table = model.__table__
    stmt = select(*(table.c[c] for c in (*key, *cols)))
    n = len(key)
    return {tuple(r[:n]): tuple(r[n:]) for r in session.execute(stmt)}


def _write(
    session: Session,
    model: type[Base],
    rows: list[dict[str, Any]],
    *,
    key: tuple[str, ...],
    compare: list[str],
    progress: Progress | None,
    label: str,
    prepare: Callable[[list[dict[str, Any]]], None] | None = None,
) -> tuple[TableCounts, list[dict[str, Any]], list[dict[str, Any]]]:
    """Insert what is new, update what differs; returns counts, inserted and updated rows."""
    existing = _existing(session, model, key, compare)
    new, changed = [], []
    for row in rows:
        k = tuple(row[c] for c in key)
        old = existing.get(k)
        if old is None:
            new.append(row)
        elif old != tuple(row[c] for c in compare):
            changed.append(row)
    counts = TableCounts(len(new), len(changed), len(rows) - len(new) - len(changed))
    if prepare is not None:
        prepare(new)
        prepare(changed)
        for row in changed:  # an update keeps the row's creation time
            row.pop("created_at", None)
    total, done = len(new) + len(changed), 0
    for i in range(0, len(new), BATCH):
        session.execute(insert(model), new[i : i + BATCH])
        done += len(new[i : i + BATCH])
        if progress is not None:
            progress(label, done, total)
    for i in range(0, len(changed), BATCH):
        session.execute(update(model), changed[i : i + BATCH])
        done += len(changed[i : i + BATCH])
        if progress is not None:
            progress(label, done, total)
    return counts, new, changed


def import_export(
    session: Session,
    *,
    directory: Path,
    keys: KycKeys,
    actor: Actor,
    progress: Progress | None = None,
) -> ImportResult:
    """Read, check and import one export in the caller's session; commits when it changed
    anything, and writes nothing at all when any row is bad."""
    files = find_files(directory)
    digest = hashlib.sha256()
    for table in TABLES:
        if table in files:
            digest.update(f"{files[table].name}\x00{len(files[table].data)}\x00".encode())
            digest.update(files[table].data)

    # 1. read and check everything (rows may refer to the database's rows and the export's)
    known = Known(customers=set(session.scalars(select(Customer.id))))
    known.accounts.update(
        (r[0], (r[1], r[2]))
        for r in session.execute(select(Account.id, Account.customer_id, Account.asset))
    )
    parsed: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        src = files.get(table)
        if src is None:
            continue
        if progress is not None:
            progress(f"reading {src.name}", 0, 0)
        parsed[table] = parse_file(src, known, progress)
        if table == "customers":
            known.customers.update(r["id"] for r in parsed[table])
        elif table == "accounts":
            known.accounts.update((r["id"], (r["customer_id"], r["asset"])) for r in parsed[table])

    # 2. write, in the caller's transaction
    now = utcnow()
    counts: dict[str, TableCounts] = {}
    for row in parsed["customers"]:
        row["source_digest"] = keys.row_digest(
            [row[c] for c in ("customer_type", "kyc_level", "kyc_status", "risk_rating")]
            + [row["registered_at"], row["_record"]]
        )
    digests: dict[str, list[tuple[str, str]]] = {}

    def seal(rows: list[dict[str, Any]]) -> None:
        """Encrypt, mask and index the records about to be written."""
        for row in rows:
            record = row.pop("_record")
            row["kyc"], row["kyc_key_version"] = keys.encrypt(record)
            row["masked"] = mask(record)
            row["created_at"] = row["updated_at"] = now
            digests[row["id"]] = keys.digests(record)

    counts["customers"], _, changed = _write(
        session,
        Customer,
        parsed["customers"],
        key=("id",),
        compare=CUSTOMER_COMPARE,
        progress=progress,
        label="writing customers",
        prepare=seal,
    )
    ids = [r["id"] for r in changed]
    for i in range(0, len(ids), 500):
        session.execute(delete(KycIndex).where(KycIndex.customer_id.in_(ids[i : i + 500])))
    index_rows = [
        {"customer_id": cid, "field": f, "digest": d} for cid, ds in digests.items() for f, d in ds
    ]
    for i in range(0, len(index_rows), BATCH):
        session.execute(insert(KycIndex), index_rows[i : i + BATCH])

    for table in TABLES[1:]:
        if table not in parsed:
            continue
        spec = SPECS[table]
        cols = [c for c in parsed[table][0] if c not in spec.key] if parsed[table] else []
        counts[table], _, _ = _write(
            session,
            spec.model,
            parsed[table],
            key=spec.key,
            compare=cols,
            progress=progress,
            label=f"writing {table}",
        )

    result = ImportResult(str(directory), digest.hexdigest(), counts, None, None)
    if result.changed == 0:
        session.rollback()
        return result
    if progress is not None:
        progress("linking accounts", 0, 0)
    result.links = link_service.rebuild(session)
    record = ExchangeImport(
        imported_at=now,
        imported_by=actor.name,
        source=str(directory),
        digest=result.digest,
        counts={k: v.as_dict() for k, v in counts.items()} | {"links": result.links},
    )
    session.add(record)
    session.flush()
    result.import_id = record.id
    audit.record(
        session,
        actor=actor,
        action="exchange.import",
        object_type="exchange_import",
        object_id=record.id,
        details={"source": directory.name, "digest": result.digest, **record.counts},
    )
    session.commit()
    return result

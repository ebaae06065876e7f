"""Benchmark of gathering and building a response package for a very active subject.

One customer with ``--txs`` transactions (half deposits, half withdrawals, each with its
ledger entry, so twice as many ledger rows) and a thousand logins is inserted in bulk into
a fresh database (SQLite in a temporary folder, or ``--database-url``). Then, timed:
gathering every item of the subject, ticking everything, and building the signed package
(cover letter PDF, one CSV per category, the XLSX workbook, manifest and signature).
The target of issue 7 is under 10 s for 100,000 transactions.

The baseline, measured in the same run on the same rows: the same items gathered
row by row as ORM objects (``session.scalars(select(Model))``) and the workbook written with
openpyxl's write-only mode, the obvious way to do both.

    .venv/bin/python bench/gather_package.py                 # 100,000 transactions
    .venv/bin/python bench/gather_package.py --txs 20000
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.core.config import Environment, Settings
from chainsleuth.core.db import Database
from chainsleuth.exchange.kyc import KycKeys, mask
from chainsleuth.exchange.models import (
    Account,
    Customer,
    Deposit,
    DepositAddress,
    LedgerEntry,
    Login,
    Withdrawal,
)
from chainsleuth.orgs.models import Agency
from chainsleuth.packages import service as package_service
from chainsleuth.packages import xlsx
from chainsleuth.packages.gather import Subject

ACTOR = Actor.system("bench")
CID = "C000000001"
BTC = f"{CID}-BTC"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
RECORD = {
    "first_name": "Ada", "last_name": "Benchmark", "date_of_birth": "1980-02-03",
    "email": "ada@example.org", "phone": "+44 20 7946 0000", "nationality": "GB",
    "address_line": "1 Test Street", "city": "London", "document_type": "passport",
    "document_number": "P1234567",
}  # fmt: skip


def seed(session: Session, keys: KycKeys, txs: int) -> int:
    agency = Agency(name="Bench Agency", country="GB", email_domains=["bench.example"])
    session.add(agency)
    sealed, version = keys.encrypt(RECORD)
    session.add(
        Customer(
            id=CID, customer_type="individual", residence_country="GB", kyc=sealed,
            kyc_key_version=version, masked=mask(RECORD), source_digest="bench",
        )
    )  # fmt: skip
    session.flush()
    session.add(Account(id=BTC, customer_id=CID, asset="BTC", status="active"))
    session.add(DepositAddress(chain="btc", address="1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
                               customer_id=CID))  # fmt: skip
    session.flush()
    half = txs // 2
    dep, wd, led = [], [], []
    balance = 0
    for i in range(txs):
        t = T0 + timedelta(seconds=60 * i)
        if i % 2 == 0:
            amount = 100_000 + i
            balance += amount
            dep.append({"id": f"D{i:09d}", "customer_id": CID, "account_id": BTC, "chain": "btc",
                        "asset": "BTC", "tx_hash": f"{i:064x}", "output_index": 0,
                        "address": "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "amount": amount,
                        "credited_at": t})  # fmt: skip
            kind, signed, ref = "deposit", amount, f"D{i:09d}"
        else:
            amount = 50_000
            balance -= amount
            wd.append({"id": f"W{i:09d}", "customer_id": CID, "account_id": BTC, "chain": "btc",
                       "asset": "BTC", "tx_hash": f"{i:064x}", "output_index": 1,
                       "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "amount": amount,
                       "fee": 1000, "requested_at": t, "sent_at": t, "status": "sent"})  # fmt: skip
            kind, signed, ref = "withdrawal", -amount, f"W{i:09d}"
        led.append({"id": f"L{i:09d}", "account_id": BTC, "customer_id": CID, "asset": "BTC",
                    "time": t, "kind": kind, "amount": signed, "balance_after": balance,
                    "reference": ref})  # fmt: skip
    for model, rows in ((Deposit, dep), (Withdrawal, wd), (LedgerEntry, led)):
        for k in range(0, len(rows), 10_000):
            session.execute(insert(model), rows[k : k + 10_000])
    session.execute(
        insert(Login),
        [{"id": f"S{i:09d}", "customer_id": CID, "time": T0 + timedelta(hours=i),
          "ip": f"198.51.100.{i % 250}", "ip_country": "GB", "device_id": f"{i % 3:032x}",
          "user_agent": "bench", "success": True, "mfa": True} for i in range(1000)],
    )  # fmt: skip
    session.commit()
    assert half
    return agency.id


def ours(
    session: Session, settings: Settings, agency_id: int
) -> tuple[float, float, float, int, int]:
    """Gather (wall s), build (wall s), CPU s of both, rows, package bytes."""
    spec = package_service.GatherSpec(
        agency_id=agency_id, reference="LER-BENCH-1", legal_basis="Benchmark order",
        subjects=[Subject("customer_id", CID)],
    )  # fmt: skip
    src = package_service.sources(settings)
    c0 = time.process_time()
    t0 = time.perf_counter()
    g = package_service.gather(session, actor=ACTOR, src=src, spec=spec)
    package_service.select_items(
        session, actor=ACTOR, gathering=g, item_ids=[i.id for i in g.items]
    )
    t1 = time.perf_counter()
    pkg = package_service.approve(session, actor=ACTOR, settings=settings, gathering=g, src=src)
    t2 = time.perf_counter()
    cpu = time.process_time() - c0
    return t1 - t0, t2 - t1, cpu, sum(i.rows for i in g.items), pkg.size


def _attrs(obj: Any, cols: list[str]) -> list[Any]:
    return [getattr(obj, c) for c in cols]


Tables = dict[str, tuple[list[str], list[list[Any]]]]


def baseline(session: Session) -> tuple[float, float, float, int, Tables]:
    """Row by row: ORM objects per item, then CSV and an openpyxl workbook. Wall s, CPU s,
    the workbook's CPU s alone, rows, and the tables (for the workbook comparison)."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    tables: dict[str, tuple[list[str], list[list[Any]]]] = {}
    for name, model, col, order in (
        ("deposits", Deposit, Deposit.customer_id, Deposit.credited_at),
        ("withdrawals", Withdrawal, Withdrawal.customer_id, Withdrawal.requested_at),
        ("ledger", LedgerEntry, LedgerEntry.customer_id, LedgerEntry.time),
        ("logins", Login, Login.customer_id, Login.time),
        ("accounts", Account, Account.customer_id, Account.id),
    ):
        cols = [c.key for c in model.__table__.columns]  # type: ignore[attr-defined]
        rows = [_attrs(o, cols) for o in session.scalars(select(model).where(col == CID)
                                                         .order_by(order))]  # fmt: skip
        tables[name] = (cols, rows)
    n = 0
    for _name, (cols, rows) in tables.items():
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(cols)
        w.writerows(rows)
        n += len(rows)
    c1 = time.process_time()
    wb = openpyxl.Workbook(write_only=True)
    for name, (cols, rows) in tables.items():
        ws = wb.create_sheet(name)
        ws.append(cols)
        for r in rows:
            ws.append([str(v) if isinstance(v, datetime) else v for v in r])
    wb.save(io.BytesIO())
    session.rollback()
    end = time.process_time()
    return time.perf_counter() - t0, end - c0, end - c1, n, tables


def our_workbook(tables: Tables) -> float:
    """CPU s of our streaming writer (packages/xlsx.py) on the baseline's tables."""
    c0 = time.process_time()
    book = xlsx.Workbook(io.BytesIO())
    for name, (cols, rows) in tables.items():
        book.add_sheet(name, cols, [[str(v) if isinstance(v, datetime) else v for v in r]
                                    for r in rows])  # fmt: skip
    book.close()
    return time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--txs", type=int, default=100_000, help="transactions of the subject")
    parser.add_argument("--database-url", help="a migrated database (default: SQLite, temporary)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
        settings = Settings(
            env=Environment.DEVELOPMENT, data_dir=folder / "data", database_url=url,
            secret_key="bench-secret-" + "x" * 40,  # type: ignore[arg-type]
        )  # fmt: skip
        db = Database(url)
        db.upgrade()
        keys = KycKeys.from_settings(settings)
        with db.session() as session:
            t = time.perf_counter()
            agency_id = seed(session, keys, args.txs)
            print(f"seeded {args.txs:,} transactions in {time.perf_counter() - t:.1f} s "
                  f"({db.engine.dialect.name})")  # fmt: skip
        with db.session() as session:
            gather_s, build_s, cpu_s, rows, size = ours(session, settings, agency_id)
        with db.session() as session:
            base_s, base_cpu, base_book_cpu, base_rows, tables = baseline(session)
        book_cpu = our_workbook(tables)
        db.dispose()
    total = gather_s + build_s
    print(f"chainsleuth: gather {gather_s:.2f} s + build {build_s:.2f} s = {total:.2f} s wall, "
          f"{cpu_s:.2f} CPU-s ({rows:,} rows, package {size / 1e6:.1f} MB)  target < 10 s: "
          f"{'met' if total < 10 else 'NOT met'}")  # fmt: skip
    print(f"baseline (ORM row by row + openpyxl): {base_s:.2f} s wall, {base_cpu:.2f} CPU-s "
          f"({base_rows:,} rows)")  # fmt: skip
    print(f"speed-up: {base_s / total:.1f}x wall, {base_cpu / cpu_s:.1f}x CPU")
    print(f"workbook alone, same tables: packages/xlsx.py {book_cpu:.2f} CPU-s, "
          f"openpyxl write-only {base_book_cpu:.2f} CPU-s")  # fmt: skip
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

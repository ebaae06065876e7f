"""Benchmark of the exchange's records: importing an export and the subject search.

Imports a world's ``exchange/`` export into a fresh database (SQLite in a temporary folder,
or ``--database-url``), imports it again (nothing changes), then times subject searches by
e-mail, phone, name, address and transaction hash.

The baselines, measured in the same run on the same rows: the import written as one ORM
object per row (``session.add``), and an e-mail search that decrypts every KYC record and
compares (what a search without blind indexes must do).

    .venv/bin/python bench/exchange.py --world data/world          # the demo world
    .venv/bin/python bench/exchange.py --txs 200000                # generate a world first
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from chainsleuth.audit.service import Actor
from chainsleuth.core.db import Database
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.importer import import_export
from chainsleuth.exchange.kyc import KycKeys, mask
from chainsleuth.exchange.models import Customer
from chainsleuth.exchange.parse import SPECS, TABLES, Known, find_files, parse_file

ACTOR = Actor.system("bench")


def fresh_db(url: str | None, folder: Path, name: str) -> Database:
    db = Database(url or f"sqlite:///{folder / name}.db")
    db.upgrade()
    return db


def orm_import(db: Database, export: Path, keys: KycKeys) -> float:
    """The baseline: the same rows, parsed the same way, written one ORM object at a time."""
    t0 = time.perf_counter()
    files = find_files(export)
    known = Known()
    with db.session() as session:
        for table in TABLES:
            if table not in files:
                continue
            rows = parse_file(files[table], known, None)
            if table == "customers":
                known.customers.update(r["id"] for r in rows)
            if table == "accounts":
                known.accounts.update((r["id"], (r["customer_id"], r["asset"])) for r in rows)
            model = SPECS[table].model
            for row in rows:
                if table == "customers":
                    record = row.pop("_record")
                    row["kyc"], row["kyc_key_version"] = keys.encrypt(record)
                    row["masked"] = mask(record)
                    row["source_digest"] = ""
                session.add(model(**row))
            session.flush()  # no relationships declared: write in foreign-key order
        session.commit()
    return time.perf_counter() - t0


def queries(export: Path, n: int) -> list[str]:
    rnd = random.Random(7)

    def rows(name: str) -> list[dict[str, str]]:
        with (export / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    customers, deposits = rows("customers"), rows("deposits")
    withdrawals = rows("withdrawals")
    out = []
    for _ in range(n):
        c = rnd.choice(customers)
        out += [
            c["email"],
            c["phone"],
            f"{c['first_name']} {c['last_name']}".strip(),
            rnd.choice(deposits)["tx_hash"],
            rnd.choice(withdrawals)["address"],
        ]
    return [q for q in out if q.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", type=Path, help="a world folder (default: generate one)")
    parser.add_argument("--txs", type=int, default=35_000, help="size of a generated world")
    parser.add_argument("--database-url", help="PostgreSQL URL of an empty database")
    parser.add_argument("--queries", type=int, default=100, help="customers to search for")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-exchange-"))
    world = args.world
    if world is None:
        from chainsleuth.world.generate import generate_world
        from chainsleuth.world.presets import params_for

        world = tmp / "world"
        generate_world(world, params_for(txs=args.txs, seed=5), jobs=1)
    export = world / "exchange"
    keys = KycKeys(b"bench-secret-" + b"k" * 40)
    rows = sum(1 for t in TABLES for _ in (export / f"{t}.csv").open()) - len(TABLES)
    print(f"export: {export} ({rows:,} rows)")

    db = fresh_db(args.database_url, tmp, "bulk")
    with db.session() as session:
        t0 = time.perf_counter()
        result = import_export(session, directory=export, keys=keys, actor=ACTOR)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = import_export(session, directory=export, keys=keys, actor=ACTOR)
        second = time.perf_counter() - t0
    assert again.changed == 0
    print(f"import (bulk statements):        {first:7.2f} s  {rows / first:10,.0f} rows/s")
    print(f"re-import (nothing changed):     {second:7.2f} s  ({result.links:,} links)")
    if args.database_url is None:
        base = fresh_db(None, tmp, "orm")
        orm = orm_import(base, export, keys)
        print(f"baseline: one ORM object a row:  {orm:7.2f} s  {rows / orm:10,.0f} rows/s")
        base.dispose()

    qs = queries(export, args.queries)
    times: list[float] = []
    with db.session() as session:
        for q in qs:
            t0 = time.perf_counter()
            exchange_service.search(session, keys=keys, q=q)
            times.append(time.perf_counter() - t0)
        print(
            f"subject search ({len(qs)} queries): median {statistics.median(times) * 1e3:.2f} ms,"
            f" max {max(times) * 1e3:.2f} ms"
        )
        emails = [q for q in qs if "@" in q][:20]
        scan: list[float] = []
        records: list[Any] = session.execute(
            select(Customer.id, Customer.kyc, Customer.kyc_key_version)
        ).all()
        for email in emails:
            t0 = time.perf_counter()
            _ = [cid for cid, tok, v in records if keys.decrypt(tok, v).get("email") == email]
            scan.append(time.perf_counter() - t0)
        print(
            f"baseline: decrypt-and-scan e-mail search: median "
            f"{statistics.median(scan) * 1e3:.2f} ms ({len(records):,} records)"
        )
    db.dispose()


if __name__ == "__main__":
    main()

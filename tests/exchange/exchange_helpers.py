"""Helpers of the exchange tests: small exports cut from the world's, the world's truth
about its mules, and an import as the test system actor."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.core.config import Settings
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.importer import ImportResult, import_export
from chainsleuth.exchange.parse import TABLES

IMPORTER = Actor.system("test-import")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def header_of(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh))


def cut_export(src: Path, dst: Path, customers: set[str]) -> Path:
    """The rows of ``src`` about ``customers`` only, as a complete export in ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        path = src / f"{table}.csv"
        rows = [r for r in read_csv(path) if r["customer_id"] in customers]
        write_csv(dst / path.name, rows, header_of(path))
    return dst


def mule_customers(world: Path) -> set[str]:
    """Exchange A's customers that the ground truth says are money mules (and the recruiter
    whose phone logs into their accounts)."""
    ids = pq.read_table(world / "truth" / "exchange_customers.parquet").to_pylist()
    actors = {
        a["actor_id"]: a
        for a in pq.read_table(world / "truth" / "actors.parquet").to_pylist()
        if a["type"] == "mule"
    }
    return {r["customer_id"] for r in ids if r["actor_id"] in actors}


def import_dir(session: Session, settings: Settings, directory: Path) -> ImportResult:
    return import_export(
        session,
        directory=directory,
        keys=exchange_service.keys_for(settings),
        actor=IMPORTER,
    )

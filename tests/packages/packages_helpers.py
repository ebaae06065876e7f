"""What the package tests share: a small cut of the world's exchange export, the world in a
chain store with what a tracer knows of it, and a request-free gathering spec."""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from reportlab.pdfgen import canvas
from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.auth import tokens as token_service
from chainsleuth.auth.enums import ROLE_PERMISSIONS
from chainsleuth.exchange.parse import TABLES
from chainsleuth.tracing.config import Services
from chainsleuth.tracing.service import MappingCategories, TracingContext
from factories import SYSTEM, Account, bearer

IMPORTER = Actor.system("test-import")
_seq = itertools.count(1)


@dataclass
class Store:
    """The world in a chain store, with what a tracer knows of it."""

    root: Path
    services: Services
    categories: dict[tuple[str, str], str]

    def context(self) -> TracingContext:
        return TracingContext(services=self.services, categories=MappingCategories(self.categories))


#: categories of the world's actors that a labels provider would know
LABELLED = (
    "exchange", "otc_broker", "mixer", "coinjoin", "darknet_market", "ransomware", "scam",
    "stolen_funds", "sanctioned", "bridge", "dex", "defi",
)  # fmt: skip


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def cut_export(src: Path, dst: Path, customers: set[str]) -> Path:
    """The rows of ``src`` about ``customers`` only, as a complete export in ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        path = src / f"{table}.csv"
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            rows = [r for r in reader if r["customer_id"] in customers]
        with (dst / path.name).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
    return dst


def mule_customers(world: Path) -> set[str]:
    ids = pq.read_table(world / "truth" / "exchange_customers.parquet").to_pylist()
    mules = {
        a["actor_id"]
        for a in pq.read_table(world / "truth" / "actors.parquet").to_pylist()
        if a["type"] == "mule"
    }
    return {r["customer_id"] for r in ids if r["actor_id"] in mules}


def truth_categories(world: Path) -> dict[tuple[str, str], str]:
    con = duckdb.connect()
    try:
        rows = con.execute(
            """SELECT a.chain, a.address, b.category
               FROM read_parquet(?::VARCHAR[]) a JOIN read_parquet(?) b USING (actor_id)
               WHERE b.category IN (SELECT unnest(?::VARCHAR[]))""",
            [
                [str(world / "truth" / f"addresses_{c}.parquet") for c in ("btc", "eth")],
                str(world / "truth" / "actors.parquet"),
                list(LABELLED),
            ],
        ).fetchall()
    finally:
        con.close()
    return {(c, a): k for c, a, k in rows}


def zip_csv(path: Path, name: str) -> list[dict[str, Any]]:
    with zipfile.ZipFile(path) as zf:
        return list(csv.DictReader(io.StringIO(zf.read(name).decode("utf-8"))))


def zip_names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as zf:
        return set(zf.namelist())


@dataclass
class Caller:
    """A user with an API token."""

    account: Account
    token: str
    #: read once: touching the expired ORM user would open a transaction (SQLite: a lock)
    id: int

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


def with_token(session: Session, account: Account) -> Caller:
    issued = token_service.create(
        session,
        actor=SYSTEM,
        user=account.user,
        name="tests",
        scopes=sorted(ROLE_PERMISSIONS[account.user.role]),
        days=30,
    )
    caller = Caller(account, issued.token, account.user.id)
    session.commit()
    return caller


def pdf_bytes(text: str = "Order to produce records") -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, text)
    c.showPage()
    c.save()
    return buf.getvalue()


def submit(client: TestClient, officer: Caller, subjects: str, **fields: Any) -> int:
    data = {
        "type": "information_request",
        "legal_basis": "Section 9 of the Proceeds of Crime Act",
        "jurisdiction": "England and Wales",
        "case_reference": f"CASE-{next(_seq)}",
        "deadline": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
        "subjects": subjects,
    }
    data.update(fields)
    r = client.post(
        "/api/v1/requests",
        data=data,
        files={"document": ("order.pdf", pdf_bytes(), "application/pdf")},
        headers=officer.headers,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def to_review(client: TestClient, investigator: Caller, rid: int) -> None:
    for status, extra in (
        ("triage", {}),
        ("assigned", {"assignee_id": investigator.id}),
        ("gathering", {}),
        ("legal_review", {}),
    ):
        r = client.post(
            f"/api/v1/requests/{rid}/transitions",
            json={"status": status, **extra},
            headers=investigator.headers,
        )
        assert r.status_code == 200, r.text


def approve_request(client: TestClient, reviewer: Caller, rid: int) -> None:
    r = client.post(f"/api/v1/requests/{rid}/approvals", json={}, headers=reviewer.headers)
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text

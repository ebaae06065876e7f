"""Benchmark: with 100,000 requests in the database, the officer's and the investigator's
request lists (first page, with filters) load in under 200 ms (median), on SQLite and on
PostgreSQL.

Requests are bulk-inserted (one subject each) across the world's 28 agencies over two years.
Timed through the service and the presentation layer the API and the pages use
(``queries.list_requests`` + ``present.summaries``): the officer's list (own agency, newest
first), the queue unfiltered, by status, by type and country, and the SLA-warning view.

The baseline, in the same run on the same data: (1) the same lists with the list indexes
dropped, and (2) offset pagination with a total count (page 100 of the unfiltered queue),
what a naive list does.

    .venv/bin/python bench/requests_list.py                   # 100,000; SQLite and PostgreSQL
    .venv/bin/python bench/requests_list.py --requests 20000 --backend sqlite --runs 10
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from chainsleuth.auth.enums import Role  # noqa: E402
from chainsleuth.auth.models import User  # noqa: E402
from chainsleuth.core.db import Database  # noqa: E402
from chainsleuth.orgs.models import Agency  # noqa: E402
from chainsleuth.requests import present, queries  # noqa: E402
from chainsleuth.requests.enums import (  # noqa: E402
    SLA_WARNING_SHARE,
    NotificationState,
    RequestStatus,
    RequestType,
    VerificationState,
)
from chainsleuth.requests.models import LeRequest, LeRequestSubject  # noqa: E402
from chainsleuth.world.agencies import AGENCIES  # noqa: E402

LIST_INDEXES = [
    "ix_le_requests_agency_received",
    "ix_le_requests_received",
    "ix_le_requests_status_received",
    "ix_le_requests_type_received",
    "ix_le_requests_open_sla",
]
STATUS_WEIGHTS = {
    RequestStatus.CLOSED: 70,
    RequestStatus.DELIVERED: 8,
    RequestStatus.REJECTED: 4,
    RequestStatus.RECEIVED: 3,
    RequestStatus.TRIAGE: 4,
    RequestStatus.ASSIGNED: 3,
    RequestStatus.GATHERING: 4,
    RequestStatus.LEGAL_REVIEW: 3,
    RequestStatus.APPROVED: 1,
    RequestStatus.MORE_INFO_NEEDED: 1,
}
TYPE_WEIGHTS = [45, 20, 10, 5, 3, 12, 3, 2, 0]


def populate(db: Database, n: int, seed: int = 7) -> list[int]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    with db.session() as s:
        agencies = []
        for i, (name, country, domain, kind) in enumerate(AGENCIES):
            agency = Agency(name=name, country=country, email_domains=[domain], kind=kind)
            agency.external_id = f"AG{i + 1:03d}"
            s.add(agency)
            agencies.append(agency)
        s.flush()
        ids = [a.id for a in agencies]
        statuses = list(STATUS_WEIGHTS)
        weights = list(STATUS_WEIGHTS.values())
        types = list(RequestType)
        batch: list[dict[str, object]] = []
        subjects: list[dict[str, object]] = []
        for i in range(1, n + 1):
            kind = rng.choices(types, TYPE_WEIGHTS)[0]
            received = now - timedelta(seconds=rng.randint(0, 730 * 86400))
            status = rng.choices(statuses, weights)[0]
            # the open ones are recent
            if status.is_open:
                received = now - timedelta(seconds=rng.randint(0, 30 * 86400))
            due = received + kind.sla
            open_ = status.is_open
            batch.append(
                {
                    "id": i,
                    "reference": f"LER-{received.year}-{i:06d}",
                    "agency_id": rng.choice(ids),
                    "officer_name": "Officer",
                    "type": kind.value,
                    "status": status.value,
                    "is_open": open_,
                    "legal_basis": "Production order",
                    "jurisdiction": "GB",
                    "case_reference": f"CASE-{rng.randint(1, n // 3)}",
                    "description": "",
                    "nondisclosure": False,
                    "emergency": kind.is_emergency,
                    "subjects_digest": f"{i:064x}",
                    "subject_count": 1,
                    "received_at": received,
                    "acknowledged_at": received,
                    "responded_at": None if open_ else due - timedelta(hours=1),
                    "sla_due_at": due,
                    "sla_warn_at": received + (due - received) * SLA_WARNING_SHARE,
                    "sender_verified": True,
                    "verification_state": VerificationState.NOT_REQUIRED.value,
                    "notification_state": NotificationState.SENT.value,
                    "created_at": received,
                    "updated_at": received,
                }
            )
            subjects.append(
                {
                    "request_id": i,
                    "position": 0,
                    "kind": "customer_id",
                    "value": f"C{rng.randint(0, 10**9 - 1):09d}",
                }
            )
            if len(batch) == 10_000:
                s.execute(insert(LeRequest), batch)
                s.execute(insert(LeRequestSubject), subjects)
                batch, subjects = [], []
        if batch:
            s.execute(insert(LeRequest), batch)
            s.execute(insert(LeRequestSubject), subjects)
        s.commit()
        if db.engine.dialect.name == "postgresql":
            s.execute(text("SELECT setval('le_requests_id_seq', :n)"), {"n": n})
            s.commit()
    analyze(db)
    return ids


def analyze(db: Database) -> None:
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE le_requests"
            )
        else:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


def timed(fn: Callable[[], object], runs: int) -> float:
    fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(out)


def scenarios(s: Session, agency_id: int) -> dict[str, Callable[[], object]]:
    officer = User(role=Role.LE_OFFICER, agency_id=agency_id, organisation_id=None)
    staff = User(role=Role.INVESTIGATOR, agency_id=None, organisation_id=None)

    def page(user: User, **flt: object) -> Callable[[], object]:
        def run() -> object:
            rows, _ = queries.list_requests(s, user=user, flt=queries.ListFilter(**flt))  # type: ignore[arg-type]
            out = present.summaries(s, rows)
            s.rollback()
            return out

        return run

    return {
        "officer: own agency": page(officer),
        "officer: own agency, status": page(officer, status=RequestStatus.CLOSED),
        "queue: all": page(staff),
        "queue: status triage": page(staff, status=RequestStatus.TRIAGE),
        "queue: type + country": page(staff, type=RequestType.SUBPOENA, country="US"),
        "queue: SLA warning": page(staff, sla_warning=True),
    }


def offset_baseline(s: Session) -> Callable[[], object]:
    def run() -> object:
        total = s.scalar(select(func.count()).select_from(LeRequest))
        rows = s.execute(
            select(LeRequest, Agency.name, Agency.country)
            .join(Agency, Agency.id == LeRequest.agency_id)
            .order_by(LeRequest.received_at.desc(), LeRequest.id.desc())
            .offset(50 * 99)
            .limit(50)
        ).all()
        out = present.summaries(s, [(r, n, c) for r, n, c in rows])
        s.rollback()
        return total, out

    return run


def run_backend(name: str, url: str, n: int, runs: int) -> None:
    db = Database(url)
    db.upgrade()
    t0 = time.perf_counter()
    ids = populate(db, n)
    print(f"\n[{name}] {n:,} requests bulk-inserted in {time.perf_counter() - t0:.1f} s")
    with db.session() as s:
        busiest = s.execute(
            select(LeRequest.agency_id, func.count())
            .group_by(LeRequest.agency_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()[0]
        ours = {k: timed(fn, runs) for k, fn in scenarios(s, busiest or ids[0]).items()}
        offset = timed(offset_baseline(s), runs)
    with db.engine.begin() as conn:
        for ix in LIST_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX {ix}")
    analyze(db)
    with db.session() as s:
        bare = {k: timed(fn, runs) for k, fn in scenarios(s, busiest or ids[0]).items()}
    print(f"{'list (first page, 50 rows)':32} {'ours ms':>9} {'no index ms':>12}  target 200 ms")
    for k in ours:
        flag = "ok" if ours[k] < 200 else "SLOW"
        print(f"{k:32} {ours[k]:9.1f} {bare[k]:12.1f}  {flag}")
    print(f"{'baseline: offset page 100 + count':32} {offset:9.1f}")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend in ("sqlite", "both"):
            run_backend("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.requests, args.runs)
        if args.backend in ("postgresql", "both"):
            from harness import PostgresServer

            with PostgresServer() as pg:
                pg.create_database("bench")
                run_backend("PostgreSQL", pg.url("bench"), args.requests, args.runs)


if __name__ == "__main__":
    main()

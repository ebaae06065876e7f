"""Benchmark: a case with 10,000 timeline events and 1,000 evidence files opens fast.

Builds a case (its first events and files through the services: timeline with audit
entries, files stored and hashed by ``add_evidence``; the rest inserted in bulk in the same
shape, to keep the set-up short), then times, through the whole app (routing,
authentication, queries, templates), ``GET /cases/{id}`` (the page) and
``GET /api/v1/cases/{id}`` (the JSON API). The target: under 300 ms median each.

The baseline, in the same run on the same database: the case loaded unpaginated through
the ORM (every event and every evidence row as objects, serialised), which is what a page
that shows everything at once would have to do before it renders anything.

    .venv/bin/python bench/case_page.py                     # 10,000 events, 1,000 files
    .venv/bin/python bench/case_page.py --events 2000 --files 200 --runs 10
    .venv/bin/python bench/case_page.py --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from chainsleuth.app import create_app
from chainsleuth.audit.enums import Channel
from chainsleuth.audit.service import Actor
from chainsleuth.auth import service as user_service
from chainsleuth.auth import tokens as token_service
from chainsleuth.auth.enums import Permission, Role
from chainsleuth.auth.schemas import UserCreate
from chainsleuth.cases import evidence as case_evidence
from chainsleuth.cases import service as case_service
from chainsleuth.cases.enums import EventKind
from chainsleuth.cases.models import CaseEvent, CaseEvidence
from chainsleuth.cases.schemas import EventRead, EvidenceRead
from chainsleuth.core.config import Environment, Settings
from chainsleuth.core.db import Database
from chainsleuth.core.models import utcnow


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm up
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(name: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{name:<44} median {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms"


#: this many events and files go through the services (timeline + audit entry, hashing);
#: the rest is inserted in bulk, in the same shape, to keep the set-up short
THROUGH_SERVICES = 200


def build(db: Database, data_dir: Path, events: int, files: int) -> tuple[int, str]:
    with db.session() as session:
        user = user_service.create_user(
            session,
            actor=Actor.system("bench"),
            data=UserCreate(
                username="bench",
                email="bench@example.org",
                full_name="Bench B.",
                role=Role.INVESTIGATOR,
                password="case-timing-password-2026",
            ),
        )
        actor = Actor(user_id=user.id, name=user.username, channel=Channel.API)
        case = case_service.open_case(
            session, actor=actor, title="Benchmark case", type="ransomware", severity="high"
        )
        t0 = time.perf_counter()
        real_files = min(files, THROUGH_SERVICES)
        for i in range(real_files):
            case_evidence.add_evidence(
                session,
                data_dir=data_dir,
                actor=actor,
                case=case,
                file_name=f"exhibit-{i}.txt",
                stream=io.BytesIO(f"exhibit {i}\n".encode() * 64),
                content_type="text/plain",
            )
        folder = data_dir / case_evidence.EVIDENCE_DIR / f"case-{case.id}"
        rows = []
        for i in range(real_files, files):
            content = f"exhibit {i}\n".encode() * 64
            path = folder / f"bulk-{i:06d}"
            path.write_bytes(content)
            rows.append(
                {
                    "case_id": case.id,
                    "file_name": f"exhibit-{i}.txt",
                    "content_type": "text/plain",
                    "size": len(content),
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "storage_path": str(path.relative_to(data_dir)),
                    "description": "",
                    "uploaded_by_id": user.id,
                    "uploaded_by": user.username,
                    "uploaded_at": utcnow(),
                }
            )
        if rows:
            session.execute(insert(CaseEvidence), rows)
            session.execute(
                insert(CaseEvent),
                [
                    {
                        "case_id": case.id,
                        "ts": utcnow(),
                        "actor_id": user.id,
                        "actor": user.username,
                        "kind": "evidence_added",
                        "summary": f"evidence {r['file_name']}",
                        "details": {"sha256": r["sha256"]},
                        "audit_seq": 0,
                    }
                    for r in rows
                ],
            )
        session.commit()
        print(f"  {files:,} evidence files stored and hashed in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        notes = events - 1 - files  # with the opening and one event per file: ``events``
        for i in range(min(notes, THROUGH_SERVICES)):
            case_service._event(
                session,
                actor=actor,
                case=case,
                kind=EventKind.NOTE_ADDED,
                summary=f"note {i}: followed the funds one hop further",
                details={"i": i},
            )
        bulk = [
            {
                "case_id": case.id,
                "ts": utcnow(),
                "actor_id": user.id,
                "actor": user.username,
                "kind": "note_added",
                "summary": f"note {i}: followed the funds one hop further",
                "details": {"i": i},
                "audit_seq": 0,
            }
            for i in range(THROUGH_SERVICES, notes)
        ]
        for start in range(0, len(bulk), 2000):
            session.execute(insert(CaseEvent), bulk[start : start + 2000])
        session.commit()
        took = time.perf_counter() - t0
        print(f"  {max(notes, 0):,} more timeline events in {took:.1f} s")
        token = token_service.create(
            session,
            actor=actor,
            user=user,
            name="bench",
            scopes=[Permission.CASES_READ, Permission.CASES_WORK],
            days=1,
        ).token
        session.commit()
        return case.id, token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="case-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        settings = Settings(
            env=Environment.TEST,
            data_dir=data_dir,
            database_url=args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}",
            secret_key="bench-secret-key-" + "x" * 40,  # type: ignore[arg-type]
            rate_limit_api="1000000/minute",
        )
        db = Database.from_settings(settings)
        db.upgrade()
        backend = db.engine.dialect.name
        print(f"building the case on {backend} ...")
        case_id, token = build(db, data_dir, args.events, args.files)
        headers = {"Authorization": f"Bearer {token}"}

        with TestClient(create_app(settings, db)) as client:

            def page() -> None:
                r = client.get(f"/cases/{case_id}", headers=headers)
                assert r.status_code == 200, r.text[:300]

            def page_timeline() -> None:
                r = client.get(f"/cases/{case_id}?tab=timeline", headers=headers)
                assert r.status_code == 200

            def page_evidence() -> None:
                r = client.get(f"/cases/{case_id}?tab=evidence", headers=headers)
                assert r.status_code == 200

            def api() -> None:
                r = client.get(f"/api/v1/cases/{case_id}", headers=headers)
                assert r.status_code == 200
                body = r.json()
                assert body["timeline"]["total"] == args.events
                assert body["evidence"]["total"] == args.files

            results = {
                "GET /cases/{id} (page, summary tab)": timed(page, args.runs),
                "GET /cases/{id}?tab=timeline": timed(page_timeline, args.runs),
                "GET /cases/{id}?tab=evidence": timed(page_evidence, args.runs),
                "GET /api/v1/cases/{id} (JSON)": timed(api, args.runs),
            }

        def baseline() -> None:
            with db.session() as session:
                evs = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)).all()
                fs = session.scalars(
                    select(CaseEvidence).where(CaseEvidence.case_id == case_id)
                ).all()
                [EventRead.model_validate(e).model_dump_json() for e in evs]
                [EvidenceRead.model_validate(f).model_dump_json() for f in fs]

        base = timed(baseline, max(3, args.runs // 3))
        db.dispose()

    print(
        f"\ncase with {args.events:,} timeline events and {args.files:,} evidence files, "
        f"{backend}, {args.runs} runs each"
    )
    for name, ms in results.items():
        verdict = "OK" if statistics.median(ms) < 300 else "over the 300 ms target"
        print(summary(name, ms) + f"   {verdict}")
    print(summary("baseline: all events + files via the ORM", base) + "   (no app, no HTML)")


if __name__ == "__main__":
    main()

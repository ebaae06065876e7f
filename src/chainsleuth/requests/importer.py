"""Importing a history of requests: the world generator's ``agencies/requests.csv``.

Agencies come first (``agencies.csv`` beside it, through the orgs service, idempotent);
each request is matched by its source id (``external_id``), so a second run adds nothing.
Every row is checked before anything is written: one bad row refuses the file, naming the
row. One transaction with one audit entry for the file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.service import Actor
from chainsleuth.auth.enums import Role
from chainsleuth.auth.models import User
from chainsleuth.core.errors import InvalidInput
from chainsleuth.core.models import as_utc
from chainsleuth.orgs import importer as agency_importer
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.models import Agency
from chainsleuth.requests import service as request_service
from chainsleuth.requests import subjects as subject_parser
from chainsleuth.requests.enums import NotificationState, RequestStatus, RequestType, SubjectKind
from chainsleuth.requests.models import LeRequest
from chainsleuth.requests.schemas import RequestCreate

#: the world's request statuses in this workflow
STATUS_MAP = {
    "open": RequestStatus.TRIAGE,
    "in_review": RequestStatus.LEGAL_REVIEW,
    "responded": RequestStatus.DELIVERED,
    "closed": RequestStatus.CLOSED,
    **{s.value: s for s in RequestStatus},
}
SUBJECT_TYPES = {
    "address": SubjectKind.ADDRESS,
    "transaction": SubjectKind.TX_HASH,
    "customer": SubjectKind.CUSTOMER_ID,
    "email": SubjectKind.EMAIL,
    **{k.value: k for k in SubjectKind},
}
REQUIRED = ("request_id", "agency_id", "type", "legal_basis", "case_reference", "received_at")
MAX_ROWS = 500_000


@dataclass
class ImportResult:
    added: int = 0
    unchanged: int = 0
    agencies: dict[str, int] | None = None


def requests_csv(path: Path) -> Path:
    if path.is_file():
        return path
    for candidate in (path / "requests.csv", path / "agencies" / "requests.csv"):
        if candidate.is_file():
            return candidate
    raise InvalidInput(f"no requests.csv in {path}")


def _time(text: str, what: str) -> datetime:
    try:
        value = as_utc(datetime.fromisoformat(text.strip()))
    except ValueError as exc:
        raise InvalidInput(f"{what}: {text!r} is not a date and time") from exc
    assert value is not None
    return value


def _officers(folder: Path) -> dict[str, dict[str, str]]:
    file = folder / "officers.csv"
    if not file.is_file():
        return {}
    with file.open(newline="", encoding="utf-8-sig") as fh:
        return {r["officer_id"]: r for r in csv.DictReader(fh) if r.get("officer_id")}


@dataclass
class _Row:
    line: int
    external_id: str
    agency: Agency
    data: RequestCreate
    status: RequestStatus
    received: datetime
    deadline: datetime | None
    subjects: list[subject_parser.Subject]
    officer_name: str | None
    officer_email: str | None


def _parse(
    line: int, raw: dict[str, str], agencies: dict[str, Agency], officers: dict[str, Any]
) -> _Row:
    missing = [c for c in REQUIRED if not (raw.get(c) or "").strip()]
    if missing:
        raise InvalidInput(f"missing {', '.join(missing)}")
    agency = agencies.get(raw["agency_id"].strip())
    if agency is None:
        raise InvalidInput(f"unknown agency {raw['agency_id']!r}")
    try:
        kind = RequestType(raw["type"].strip())
    except ValueError as exc:
        raise InvalidInput(f"unknown request type {raw['type']!r}") from exc
    status = STATUS_MAP.get((raw.get("status") or "received").strip())
    if status is None:
        raise InvalidInput(f"unknown status {raw.get('status')!r}")
    received = _time(raw["received_at"], "received_at")
    deadline = _time(raw["due_at"], "due_at") if (raw.get("due_at") or "").strip() else None
    try:
        items = json.loads(raw.get("subjects") or "[]")
        if not isinstance(items, list):
            raise ValueError("not a list")
    except ValueError as exc:
        raise InvalidInput("subjects: not a JSON list") from exc
    subjects = []
    for item in items:
        kind_name = str(item.get("type", "")) if isinstance(item, dict) else ""
        subject_kind = SUBJECT_TYPES.get(kind_name)
        if subject_kind is None:
            raise InvalidInput(f"subjects: unknown subject type {kind_name!r}")
        subjects.append(
            subject_parser.canonical(
                subject_kind,
                str(item.get("value", "")),
                chain=item.get("chain"),
                date_of_birth=item.get("date_of_birth"),
            )
        )
    data = RequestCreate(
        type=kind,
        legal_basis=raw["legal_basis"].strip()[:500],
        jurisdiction=agency.country,
        case_reference=raw["case_reference"].strip()[:100],
    )
    officer = officers.get((raw.get("officer_id") or "").strip())
    name = f"{officer['first_name']} {officer['last_name']}" if officer else None
    return _Row(
        line,
        raw["request_id"].strip()[:64],
        agency,
        data,
        status,
        received,
        deadline,
        subjects,
        name,
        (officer or {}).get("email"),
    )


def import_requests(
    session: Session,
    *,
    actor: Actor,
    path: Path,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    file = requests_csv(path)
    folder = file.parent
    result = ImportResult()
    if (folder / "agencies.csv").is_file():
        rows = agency_importer.read_agencies(folder / "agencies.csv")
        result.agencies = org_service.import_agencies(
            session, actor=actor, rows=rows, source=str(folder / "agencies.csv")
        )
    agencies = {
        a.external_id: a
        for a in session.scalars(select(Agency).where(Agency.external_id.is_not(None)))
        if a.external_id
    }
    officers = _officers(folder)
    parsed: list[_Row] = []
    bad: list[str] = []
    try:
        with file.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
            if missing:
                raise InvalidInput(f"{file.name}: missing column(s) {', '.join(missing)}")
            for line, raw in enumerate(reader, start=2):
                if line > MAX_ROWS:
                    raise InvalidInput(f"{file.name}: more than {MAX_ROWS} rows")
                try:
                    parsed.append(_parse(line, raw, agencies, officers))
                except InvalidInput as exc:
                    bad.append(f"line {line}: {exc.message}")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{file.name} is not UTF-8 text") from exc
    except csv.Error as exc:
        raise InvalidInput(f"{file.name}: not a valid CSV file ({exc})") from exc
    if bad:
        session.rollback()
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise InvalidInput(f"{file.name}: {len(bad)} bad row(s): " + "; ".join(bad[:3]) + more)
    known = set(
        session.scalars(select(LeRequest.external_id).where(LeRequest.external_id.is_not(None)))
    )
    users = {u.email: u for u in session.scalars(select(User).where(User.role == Role.LE_OFFICER))}
    for i, row in enumerate(parsed, start=1):
        if row.external_id in known:
            result.unchanged += 1
            continue
        known.add(row.external_id)
        user = users.get(row.officer_email or "")
        req = request_service.create_request(
            session,
            agency=row.agency,
            data=row.data,
            subjects=row.subjects,
            digest=subject_parser.digest(row.subjects),
            now=row.received,
            deadline=row.deadline,
            nd_until=None,
            parent_id=None,
            duplicate=None,
            officer=user,
            sender_verified=False,
            status=row.status,
            external_id=row.external_id,
            officer_name=row.officer_name,
        )
        if row.status in (RequestStatus.DELIVERED, RequestStatus.CLOSED):
            req.responded_at = row.deadline or row.received
            if row.status is RequestStatus.CLOSED:
                req.closed_at = req.responded_at
            request_service.add_notification_step(
                session, req, NotificationState.CANCELLED, "imported history: handled outside"
            )
            req.notification_due_at = None
        result.added += 1
        if progress and i % 200 == 0:
            progress(i, len(parsed))
    audit.record(
        session,
        actor=actor,
        action="request.import",
        object_type="le_request",
        details={"source": str(file), "added": result.added, "unchanged": result.unchanged},
    )
    session.commit()
    if progress:
        progress(len(parsed), len(parsed))
    return result

"""Reads of requests, always scoped: one request (another agency's is not found), the
lists (keyset pages, newest first, with the staff queue's filters), the SLA warnings,
documents and the two-way messages."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.service import Actor
from chainsleuth.auth.models import User
from chainsleuth.auth.scoping import ensure_visible, visibility
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import ChainsleuthError, InvalidInput, NotFound
from chainsleuth.core.models import utcnow
from chainsleuth.orgs.models import Agency
from chainsleuth.requests import documents
from chainsleuth.requests.enums import MessageDirection, RequestStatus, RequestType
from chainsleuth.requests.models import LeRequest, LeRequestDocument, LeRequestMessage

PAGE_SIZE = 50


def load(session: Session, *, user: User, request_id: int) -> LeRequest:
    """A request the user may see; another agency's is reported as not found."""
    req = ensure_visible(user, session.get(LeRequest, request_id), what="request")
    return req


def load_by_reference(session: Session, *, user: User, reference: str) -> LeRequest:
    req = session.scalar(select(LeRequest).where(LeRequest.reference == reference.strip()))
    return ensure_visible(user, req, what="request")


def find(session: Session, ref: str) -> LeRequest:
    """A request by reference or id, for the CLI (staff, unscoped)."""
    text = ref.strip()
    req = (
        session.get(LeRequest, int(text))
        if text.isdigit()
        else session.scalar(select(LeRequest).where(LeRequest.reference == text))
    )
    if req is None:
        raise NotFound(f"no request {ref!r}")
    return req


@dataclass(frozen=True)
class ListFilter:
    status: RequestStatus | None = None
    type: RequestType | None = None
    agency_id: int | None = None
    country: str | None = None
    sla_warning: bool = False
    q: str = ""


def _cursor_decode(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    try:
        ts, _, rid = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(ts).astimezone(UTC), int(rid)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor: not a cursor this list gave out") from exc


def _cursor_encode(req: LeRequest) -> str:
    return base64.urlsafe_b64encode(f"{req.received_at.isoformat()}|{req.id}".encode()).decode()


def list_statement(
    user: User, flt: ListFilter, *, now: datetime | None = None
) -> Select[LeRequest, str, str]:
    now = now or utcnow()
    stmt: Select[LeRequest, str, str] = select(LeRequest, Agency.name, Agency.country).join(
        Agency, Agency.id == LeRequest.agency_id
    )
    condition = visibility(user, LeRequest)
    if condition is not None:
        stmt = stmt.where(condition)
    if flt.status is not None:
        stmt = stmt.where(LeRequest.status == flt.status.value)
    if flt.type is not None:
        stmt = stmt.where(LeRequest.type == flt.type.value)
    if flt.agency_id is not None:
        stmt = stmt.where(LeRequest.agency_id == flt.agency_id)
    if flt.country:
        stmt = stmt.where(Agency.country == flt.country.strip().upper())
    if flt.sla_warning:
        stmt = stmt.where(LeRequest.is_open.is_(True), LeRequest.sla_warn_at <= now)
    if flt.q.strip():
        text = flt.q.strip()
        stmt = stmt.where(or_(LeRequest.reference == text, LeRequest.case_reference == text))
    return stmt


def list_requests(
    session: Session,
    *,
    user: User,
    flt: ListFilter,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[tuple[LeRequest, str, str]], str | None]:
    """One page, newest first (keyset on received_at, id), and the cursor of the next."""
    stmt = list_statement(user, flt)
    after = _cursor_decode(cursor)
    if after is not None:
        ts, rid = after
        stmt = stmt.where(
            or_(LeRequest.received_at < ts, and_(LeRequest.received_at == ts, LeRequest.id < rid))
        )
    stmt = stmt.order_by(LeRequest.received_at.desc(), LeRequest.id.desc()).limit(limit + 1)
    rows = [(r, name, country) for r, name, country in session.execute(stmt).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_cursor_encode(rows[-1][0]) if more and rows else None)


def due(session: Session, *, now: datetime | None = None, limit: int = 500) -> list[LeRequest]:
    """Open requests past 80 % of their SLA, the most urgent first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(LeRequest)
            .where(LeRequest.is_open.is_(True), LeRequest.sla_warn_at <= now)
            .order_by(LeRequest.sla_due_at, LeRequest.id)
            .limit(limit)
        )
    )


def references(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(LeRequest.id, LeRequest.reference).where(LeRequest.id.in_(ids))
    ).all()
    return {row[0]: row[1] for row in rows}


def documents_of(session: Session, req: LeRequest) -> list[LeRequestDocument]:
    return list(
        session.scalars(
            select(LeRequestDocument)
            .where(LeRequestDocument.request_id == req.id)
            .order_by(LeRequestDocument.id)
        )
    )


def document(session: Session, *, req: LeRequest, document_id: int) -> LeRequestDocument:
    doc = session.get(LeRequestDocument, document_id)
    if doc is None or doc.request_id != req.id:
        raise NotFound("no such document")
    return doc


def download(
    session: Session, *, settings: Settings, actor: Actor, req: LeRequest, document_id: int
) -> tuple[LeRequestDocument, bytes]:
    doc = document(session, req=req, document_id=document_id)
    data = documents.read(settings, doc.storage_path, doc.sha256)
    audit.record(
        session,
        actor=actor,
        action="request.document_download",
        object_type="le_request",
        object_id=req.id,
        details={"document_id": doc.id, "sha256": doc.sha256},
    )
    session.commit()
    return doc, data


def messages_of(session: Session, req: LeRequest) -> list[LeRequestMessage]:
    return list(
        session.scalars(
            select(LeRequestMessage)
            .where(LeRequestMessage.request_id == req.id)
            .order_by(LeRequestMessage.created_at, LeRequestMessage.id)
        )
    )


def post_message(
    session: Session, *, user: User, actor: Actor, req: LeRequest, body: str
) -> LeRequestMessage:
    """A message on the request: from the agency (officer) or to it (staff)."""
    text = body.strip()
    if not text:
        raise InvalidInput("message: it is empty")
    if len(text) > 10_000:
        raise InvalidInput("message: at most 10,000 characters")
    direction = (
        MessageDirection.TO_AGENCY if user.role.is_internal else MessageDirection.FROM_AGENCY
    )
    if direction is MessageDirection.FROM_AGENCY and user.agency_id != req.agency_id:
        raise NotFound("no such request")
    message = LeRequestMessage(
        request_id=req.id,
        direction=direction.value,
        author_id=user.id,
        author_name=user.full_name,
        body=text,
    )
    session.add(message)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="request.message",
        object_type="le_request",
        object_id=req.id,
        details={"message_id": message.id, "direction": direction.value, "length": len(text)},
    )
    session.commit()
    return message


def safe(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """Run a domain call for a page: (result, None) or (None, the error's message)."""
    try:
        return fn(*args, **kwargs), None
    except ChainsleuthError as exc:
        return None, exc.message


def count_by_officer(session: Session, officer_id: int) -> int:
    return int(
        session.scalar(select(func.count(LeRequest.id)).where(LeRequest.officer_id == officer_id))
        or 0
    )

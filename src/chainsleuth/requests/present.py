"""Requests as the API and the pages show them: what an officer may see, and for staff the
verification, approvals, sender confidence and notification state besides."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from chainsleuth.auth.models import User
from chainsleuth.core.models import utcnow
from chainsleuth.officers import service as officer_service
from chainsleuth.orgs.models import Agency
from chainsleuth.requests import flows, notify, queries
from chainsleuth.requests.enums import RequestStatus, RequestType
from chainsleuth.requests.models import LeRequest
from chainsleuth.requests.schemas import (
    ApprovalRead,
    DocumentRead,
    MessageRead,
    NoticeRead,
    NotificationStepRead,
    RequestRead,
    RequestSummary,
    SubjectRead,
    VerificationRead,
)
from chainsleuth.requests.service import sla_breached, sla_warning


def summary(
    req: LeRequest, agency_name: str, country: str, refs: dict[int, str] | None = None
) -> RequestSummary:
    now = utcnow()
    kind = RequestType(req.type)
    return RequestSummary(
        id=req.id,
        reference=req.reference,
        type=kind,
        type_label=kind.label,
        status=RequestStatus(req.status),
        agency_id=req.agency_id,
        agency_name=agency_name,
        country=country,
        case_reference=req.case_reference,
        emergency=req.emergency,
        received_at=req.received_at,
        sla_due_at=req.sla_due_at,
        sla_warning=sla_warning(req, now),
        sla_breached=sla_breached(req, now),
        possible_duplicate_of=(refs or {}).get(req.duplicate_of_id or 0),
    )


def summaries(session: Session, rows: list[tuple[LeRequest, str, str]]) -> list[RequestSummary]:
    refs = queries.references(session, {r.duplicate_of_id for r, _, _ in rows if r.duplicate_of_id})
    return [summary(r, name, country, refs) for r, name, country in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def detail(session: Session, req: LeRequest, *, user: User) -> RequestRead:
    agency = session.get(Agency, req.agency_id)
    refs = queries.references(session, {i for i in (req.duplicate_of_id, req.parent_id) if i})
    base = summary(req, agency.name if agency else "?", agency.country if agency else "", refs)
    read = RequestRead(
        **base.model_dump(),
        legal_basis=req.legal_basis,
        jurisdiction=req.jurisdiction,
        description=req.description,
        deadline=req.deadline,
        nondisclosure=req.nondisclosure,
        nondisclosure_until=req.nondisclosure_until,
        parent_reference=refs.get(req.parent_id or 0),
        officer_name=req.officer_name,
        acknowledged_at=req.acknowledged_at,
        responded_at=req.responded_at,
        closed_at=req.closed_at,
        subjects=[SubjectRead.model_validate(s) for s in req.subjects],
        documents=[DocumentRead.model_validate(d) for d in queries.documents_of(session, req)],
        messages=[MessageRead.model_validate(m) for m in queries.messages_of(session, req)],
    )
    if not user.role.is_internal:
        return read
    read.allowed_transitions = flows.allowed(req)
    assignee = session.get(User, req.assignee_id) if req.assignee_id else None
    read.assignee = assignee.full_name if assignee else None
    read.sender_verified = (
        officer_service.is_verified_sender(session, user_id=req.officer_id)
        if req.officer_id
        else False
    )
    read.sender_confidence = (
        _plain(
            officer_service.sender_confidence(
                session,
                user_id=req.officer_id,
                requests_made=queries.count_by_officer(session, req.officer_id),
            )
        )
        if req.officer_id
        else None
    )
    read.verification_state = req.verification_state
    read.verifications = [
        VerificationRead.model_validate(v) for v in flows.verifications_of(session, req)
    ]
    read.approvals = [ApprovalRead.model_validate(a) for a in flows.approvals_of(session, req)]
    read.notification_state = req.notification_state
    read.notification_due_at = req.notification_due_at
    read.notified_at = req.notified_at
    read.notification_steps = [
        NotificationStepRead.model_validate(n) for n in notify.history(session, req)
    ]
    read.notices = [NoticeRead.model_validate(n) for n in notify.notices_of(session, req)]
    return read

"""Requests: intake (reference, acknowledgement, duplicates, SLA clock), scoped reads,
lists, documents and messages. The workflow and its rules are in ``flows``.

An officer sees only the requests of the officer's own agency: every read goes through
``load`` (or ``scoped`` lists), and another agency's request is reported as not found.
Intake is all or nothing: the request, its subjects, documents and audit entry are one
transaction, and a refused submission leaves no file behind.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.service import Actor
from chainsleuth.auth.models import User
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import ChainsleuthError, InvalidInput, PermissionDenied
from chainsleuth.core.models import as_utc, utcnow
from chainsleuth.officers import service as officer_service
from chainsleuth.orgs.models import Agency
from chainsleuth.requests import documents
from chainsleuth.requests import subjects as subject_parser
from chainsleuth.requests.documents import StoredFiles, Upload
from chainsleuth.requests.enums import (
    SLA_WARNING_SHARE,
    DocumentKind,
    NotificationState,
    RequestStatus,
    RequestType,
    VerificationState,
)
from chainsleuth.requests.models import (
    LeRequest,
    LeRequestDocument,
    LeRequestNotification,
    LeRequestSubject,
)
from chainsleuth.requests.schemas import Acknowledgement, RequestCreate
from chainsleuth.requests.subjects import Subject

PAGE_SIZE = 50


# --- small helpers ------------------------------------------------------------------------


def reference_for(request_id: int, received_at: datetime) -> str:
    return f"LER-{received_at.year}-{request_id:06d}"


def sla_clock(
    kind: RequestType, received_at: datetime, deadline: datetime | None
) -> tuple[datetime, datetime]:
    """(due, warn): due after the type's SLA or at the deadline if earlier; warn at 80 %."""
    due = received_at + kind.sla
    if deadline is not None and deadline < due:
        due = max(deadline, received_at + timedelta(minutes=1))
    warn = received_at + (due - received_at) * SLA_WARNING_SHARE
    return due, warn


def sla_warning(req: LeRequest, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return req.is_open and req.sla_warn_at <= now


def sla_breached(req: LeRequest, now: datetime | None = None) -> bool:
    now = now or utcnow()
    end = req.responded_at or req.closed_at
    return (end or now) > req.sla_due_at and (req.is_open or end is not None)


def add_notification_step(
    session: Session, req: LeRequest, state: NotificationState, reason: str
) -> None:
    previous = req.notification_state if req.id is not None else None
    req.notification_state = state.value
    session.add(
        LeRequestNotification(
            request_id=req.id, state_from=previous, state=state.value, reason=reason[:300]
        )
    )


def initial_notification(
    kind: RequestType, nondisclosure: bool, until: datetime | None
) -> tuple[NotificationState, datetime | None, str]:
    if nondisclosure:
        return NotificationState.HELD, until, "a non-disclosure order runs"
    if kind.is_emergency:
        return NotificationState.DEFERRED, None, "emergency: notice deferred until closure"
    return NotificationState.QUEUED, None, "notify by default once the request is delivered"


# --- intake -------------------------------------------------------------------------------


@dataclass
class Submission:
    """What an officer sends: the form, the subjects (text and/or file), the signed PDF."""

    data: RequestCreate
    subjects_text: str = ""
    subjects_file: Upload | None = None
    document: Upload | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _refuse(
    session: Session,
    *,
    actor: Actor,
    action: str,
    reason: str,
    user: User | None = None,
    **details: Any,
) -> None:
    """An attempt that looks like abuse: audited (in its own transaction), never stored."""
    session.rollback()
    audit.record(
        session,
        actor=actor,
        action=action,
        outcome=Outcome.DENIED,
        object_type="le_request",
        details={"reason": reason, **details},
    )
    session.commit()
    if user is not None:  # the caller (and the error handler) still read the user
        session.refresh(user)


def _officer_agency(session: Session, user: User, actor: Actor) -> Agency:
    if user.agency_id is None:
        raise PermissionDenied("only a law-enforcement officer of an agency may submit requests")
    agency = session.get(Agency, user.agency_id)
    if agency is None or not getattr(agency, "is_active", True):
        reason = "the officer's agency is not a registered, active agency"
        _refuse(session, actor=actor, action="request.refused", reason=reason, user=user)
        raise InvalidInput(f"unknown agency: {reason}")
    if not officer_service.is_verified_sender(session, user_id=user.id):
        reason = "the sender is not a verified officer (verification pending, lapsed or revoked)"
        _refuse(
            session,
            actor=actor,
            action="request.refused",
            reason=reason,
            user=user,
            agency_id=agency.id,
        )
        raise PermissionDenied(
            "your officer account is not verified: complete the verification before sending"
            " requests"
        )
    return agency


def _check_document(
    session: Session, settings: Settings, upload: Upload, *, actor: Actor, user: User
) -> None:
    """The signed document must be a readable PDF within the size limit; a refused upload
    (something else dressed as the legal document, or an oversized one) is audited with
    its name, size and SHA-256, so that repeated attempts can be seen."""
    try:
        documents.check_pdf(settings, upload)
    except ChainsleuthError as exc:
        _refuse(
            session,
            actor=actor,
            action="request.upload_refused",
            reason=exc.message,
            user=user,
            filename=(upload.filename or "")[:200],
            size=len(upload.data),
            sha256=hashlib.sha256(upload.data).hexdigest(),
        )
        raise


def _check_form(data: RequestCreate, now: datetime) -> tuple[datetime | None, datetime | None]:
    deadline = as_utc(data.deadline)
    if deadline is not None and deadline <= now:
        raise InvalidInput("deadline: the deadline is in the past")
    until = as_utc(data.nondisclosure_until)
    if data.nondisclosure:
        if until is not None and until <= now:
            raise InvalidInput("nondisclosure until: the end of the non-disclosure order is past")
    elif until is not None:
        raise InvalidInput("nondisclosure until: given without a non-disclosure order")
    start, end = as_utc(data.time_from), as_utc(data.time_until)
    if start is not None and end is not None and start > end:
        raise InvalidInput("time range: it ends before it starts")
    return deadline, until


def _parent(
    session: Session, data: RequestCreate, agency: Agency, actor: Actor, user: User
) -> int | None:
    if not data.parent_reference:
        if data.type is RequestType.FOLLOW_UP:
            raise InvalidInput("parent reference: a follow-up names the request it follows")
        return None
    parent = session.scalar(select(LeRequest).where(LeRequest.reference == data.parent_reference))
    if parent is None or parent.agency_id != agency.id:
        if parent is not None:
            _refuse(
                session,
                actor=actor,
                action="request.refused",
                reason="follow-up to another agency's request",
                user=user,
                parent_reference=data.parent_reference,
            )
        raise InvalidInput(f"parent reference: no request {data.parent_reference!r} of your agency")
    return parent.id


def _subjects(settings: Settings, sub: Submission) -> tuple[list[Subject], bytes | None]:
    tf, tu = as_utc(sub.data.time_from), as_utc(sub.data.time_until)
    found = subject_parser.parse_text(sub.subjects_text, time_from=tf, time_until=tu)
    raw: bytes | None = None
    if sub.subjects_file is not None and sub.subjects_file.data:
        documents.check_size(settings, sub.subjects_file, what="subjects file")
        raw = sub.subjects_file.data
        found += subject_parser.parse_file(
            sub.subjects_file.filename, raw, time_from=tf, time_until=tu
        )
    unique: dict[str, Subject] = {}
    for s in found:
        unique.setdefault(s.key, s)
    if not unique:
        raise InvalidInput("subjects: name at least one subject (text or a CSV/XLSX file)")
    return list(unique.values()), raw


def find_duplicate(
    session: Session, *, agency_id: int, case_reference: str, digest: str
) -> LeRequest | None:
    return session.scalar(
        select(LeRequest)
        .where(
            LeRequest.agency_id == agency_id,
            LeRequest.case_reference == case_reference,
            LeRequest.subjects_digest == digest,
        )
        .order_by(LeRequest.id)
        .limit(1)
    )


def submit(
    session: Session, *, settings: Settings, user: User, actor: Actor, submission: Submission
) -> Acknowledgement:
    """Take in a request from an officer; all checks first, then one transaction."""
    now = utcnow()
    data = submission.data
    agency = _officer_agency(session, user, actor)
    deadline, nd_until = _check_form(data, now)
    parent_id = _parent(session, data, agency, actor, user)
    subjects, subjects_raw = _subjects(settings, submission)
    if submission.document is None or not submission.document.data:
        if data.type is not RequestType.FOLLOW_UP:
            raise InvalidInput("document: attach the signed legal document (PDF)")
    else:
        _check_document(session, settings, submission.document, actor=actor, user=user)
    digest = subject_parser.digest(subjects)
    duplicate = find_duplicate(
        session, agency_id=agency.id, case_reference=data.case_reference, digest=digest
    )
    files = StoredFiles()
    try:
        req = create_request(
            session,
            agency=agency,
            data=data,
            subjects=subjects,
            digest=digest,
            now=now,
            deadline=deadline,
            nd_until=nd_until,
            parent_id=parent_id,
            duplicate=duplicate,
            officer=user,
            sender_verified=True,
        )
        for kind, upload in (
            (DocumentKind.SIGNED_ORDER, submission.document),
            (DocumentKind.SUBJECTS_FILE, submission.subjects_file if subjects_raw else None),
        ):
            if upload is None or not upload.data:
                continue
            add_document(session, settings, req, kind, upload, user.id, files)
        audit.record(
            session,
            actor=actor,
            action="request.submit",
            object_type="le_request",
            object_id=req.id,
            details={
                "reference": req.reference,
                "type": req.type,
                "agency_id": agency.id,
                "subjects": len(subjects),
                "possible_duplicate_of": duplicate.reference if duplicate else None,
                "sla_due_at": req.sla_due_at.isoformat(),
            },
        )
        session.commit()
    except BaseException:
        session.rollback()
        files.discard()
        raise
    return acknowledgement(req, duplicate)


def acknowledgement(req: LeRequest, duplicate: LeRequest | None) -> Acknowledgement:
    message = (
        f"Request {req.reference} received; we will respond by {req.sla_due_at:%Y-%m-%d %H:%M} UTC."
    )
    if duplicate is not None:
        message += f" It looks like a duplicate of {duplicate.reference} and is linked to it."
    return Acknowledgement(
        id=req.id,
        reference=req.reference,
        status=RequestStatus(req.status),
        received_at=req.received_at,
        acknowledged_at=req.acknowledged_at or req.received_at,
        sla_due_at=req.sla_due_at,
        subject_count=req.subject_count,
        possible_duplicate_of=duplicate.reference if duplicate else None,
        message=message,
    )


def create_request(
    session: Session,
    *,
    agency: Agency,
    data: RequestCreate,
    subjects: Sequence[Subject],
    digest: str,
    now: datetime,
    deadline: datetime | None,
    nd_until: datetime | None,
    parent_id: int | None,
    duplicate: LeRequest | None,
    officer: User | None,
    sender_verified: bool,
    status: RequestStatus = RequestStatus.RECEIVED,
    external_id: str | None = None,
    officer_name: str | None = None,
) -> LeRequest:
    kind = data.type
    due, warn = sla_clock(kind, now, deadline)
    state, due_notice, reason = initial_notification(kind, data.nondisclosure, nd_until)
    open_ = status not in (RequestStatus.CLOSED, RequestStatus.DELIVERED, RequestStatus.REJECTED)
    req = LeRequest(
        reference=f"pending-{uuid.uuid4().hex}",
        external_id=external_id,
        agency_id=agency.id,
        officer_id=officer.id if officer else None,
        officer_name=officer.full_name if officer else officer_name,
        type=kind.value,
        status=status.value,
        is_open=open_,
        legal_basis=data.legal_basis,
        jurisdiction=data.jurisdiction,
        case_reference=data.case_reference,
        description=data.description,
        deadline=deadline,
        nondisclosure=data.nondisclosure,
        nondisclosure_until=nd_until,
        emergency=kind.is_emergency,
        parent_id=parent_id,
        duplicate_of_id=duplicate.id if duplicate else None,
        subjects_digest=digest,
        subject_count=len(subjects),
        received_at=now,
        acknowledged_at=now,
        sla_due_at=due,
        sla_warn_at=warn,
        sender_verified=sender_verified,
        verification_state=(
            VerificationState.PENDING
            if kind.needs_second_channel
            else VerificationState.NOT_REQUIRED
        ).value,
        notification_state=state.value,
        notification_due_at=due_notice,
    )
    session.add(req)
    session.flush()
    req.reference = reference_for(req.id, now)
    for position, s in enumerate(subjects):
        session.add(
            LeRequestSubject(
                request_id=req.id,
                position=position,
                kind=s.kind.value,
                value=s.value,
                chain=s.chain,
                date_of_birth=s.date_of_birth,
                time_from=s.time_from,
                time_until=s.time_until,
            )
        )
    session.add(
        LeRequestNotification(request_id=req.id, state_from=None, state=state.value, reason=reason)
    )
    session.flush()
    return req


def add_document(
    session: Session,
    settings: Settings,
    req: LeRequest,
    kind: DocumentKind,
    upload: Upload,
    user_id: int | None,
    files: StoredFiles,
) -> LeRequestDocument:
    sha, path = documents.store(settings, upload.data, files)
    doc = LeRequestDocument(
        request_id=req.id,
        kind=kind.value,
        filename=documents.safe_filename(upload.filename),
        content_type=documents.PDF_TYPE
        if kind is DocumentKind.SIGNED_ORDER
        else (upload.content_type or "application/octet-stream")[:100],
        size=len(upload.data),
        sha256=sha,
        storage_path=path,
        uploaded_by=user_id,
    )
    session.add(doc)
    session.flush()
    return doc

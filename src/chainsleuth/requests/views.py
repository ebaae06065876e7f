"""JSON API of law-enforcement requests (``/api/v1/requests``).

Officers (``requests:submit``) submit requests (multipart: the form, the subjects as text
and/or a CSV/XLSX file, the signed PDF) and see their own agency's requests, documents and
messages; every object of another agency is 404. Staff (``requests:work``) see the queue,
move requests through the workflow and message the officer; legal reviewers
(``requests:approve``) record call-backs and approvals.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response

from chainsleuth.auth.enums import Permission
from chainsleuth.auth.models import User
from chainsleuth.core.errors import InvalidInput, PermissionDenied
from chainsleuth.core.models import RowId
from chainsleuth.requests import flows, present, queries
from chainsleuth.requests import service as request_service
from chainsleuth.requests.documents import Upload
from chainsleuth.requests.enums import RequestStatus, RequestType
from chainsleuth.requests.models import LeRequest
from chainsleuth.requests.schemas import (
    Acknowledgement,
    ApprovalCreate,
    MessageCreate,
    MessageRead,
    RequestCreate,
    RequestPage,
    RequestRead,
    RequestSummary,
    TransitionCreate,
    VerificationCreate,
    VerificationRead,
)
from chainsleuth.requests.service import Submission
from chainsleuth.requests.subjects import SubjectsInvalid
from chainsleuth.web.deps import CurrentPrincipal, Principal, SessionDep, SettingsDep, requires
from chainsleuth.web.errors import error_response
from chainsleuth.web.forms import parse

router = APIRouter(prefix="/requests", tags=["requests"])

CanSubmit = Annotated[Principal, Depends(requires(Permission.REQUESTS_SUBMIT))]
CanWork = Annotated[Principal, Depends(requires(Permission.REQUESTS_WORK))]
CanApprove = Annotated[Principal, Depends(requires(Permission.REQUESTS_APPROVE))]


def requests_reader(principal: CurrentPrincipal) -> Principal:
    """Officers (their agency's requests) and staff who work on requests."""
    if principal.can(Permission.REQUESTS_SUBMIT) or principal.can(Permission.REQUESTS_WORK):
        return principal
    raise PermissionDenied(
        "you do not have permission to do this (needs requests:submit or requests:work)"
    )


CanRead = Annotated[Principal, Depends(requests_reader)]


def load_request(
    principal: CanRead, db: SessionDep, request_id: Annotated[RowId, Path()]
) -> LeRequest:
    return queries.load(db, user=principal.user, request_id=request_id)


RequestDep = Annotated[LeRequest, Depends(load_request)]


async def read_upload(upload: UploadFile | None) -> Upload | None:
    if upload is None or not upload.filename:
        return None
    data = await upload.read()
    return Upload(
        filename=upload.filename,
        data=data,
        content_type=upload.content_type or "application/octet-stream",
    )


@router.post("", status_code=201, response_model=Acknowledgement)
async def submit_request(
    request: Request,
    principal: CanSubmit,
    db: SessionDep,
    settings: SettingsDep,
    type: Annotated[str, Form(max_length=32)],
    legal_basis: Annotated[str, Form(max_length=500)],
    jurisdiction: Annotated[str, Form(max_length=200)],
    case_reference: Annotated[str, Form(max_length=100)],
    deadline: Annotated[str, Form(max_length=40)] = "",
    nondisclosure: Annotated[bool, Form()] = False,
    nondisclosure_until: Annotated[str, Form(max_length=40)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    parent_reference: Annotated[str, Form(max_length=40)] = "",
    time_from: Annotated[str, Form(max_length=40)] = "",
    time_until: Annotated[str, Form(max_length=40)] = "",
    subjects: Annotated[str, Form(max_length=200_000)] = "",
    subjects_file: Annotated[UploadFile | None, File()] = None,
    document: Annotated[UploadFile | None, File()] = None,
) -> Acknowledgement | Response:
    """Submit a request: a reference and an acknowledgement at once. Subjects one per line
    (``kind: value``) and/or a CSV/XLSX file; the signed legal document as a PDF."""
    data = parse(
        RequestCreate,
        type=type,
        legal_basis=legal_basis,
        jurisdiction=jurisdiction,
        case_reference=case_reference,
        deadline=deadline or None,
        nondisclosure=nondisclosure,
        nondisclosure_until=nondisclosure_until or None,
        description=description,
        parent_reference=parent_reference,
        time_from=time_from or None,
        time_until=time_until or None,
    )
    submission = Submission(
        data=data,
        subjects_text=subjects,
        subjects_file=await read_upload(subjects_file),
        document=await read_upload(document),
    )
    try:
        return request_service.submit(
            db,
            settings=settings,
            user=principal.user,
            actor=principal.actor(),
            submission=submission,
        )
    except SubjectsInvalid as exc:  # the same error envelope, with every bad row listed
        return error_response(request, 422, exc.code, exc.message, exc.rows)


@router.get("")
def list_requests(
    principal: CanRead,
    db: SessionDep,
    status: RequestStatus | None = None,
    type: RequestType | None = None,
    agency_id: Annotated[RowId | None, Query()] = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    sla_warning: bool = False,
    q: Annotated[str, Query(max_length=100)] = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = queries.PAGE_SIZE,
) -> RequestPage:
    """Requests, newest first: an officer's agency's own, or the staff queue with filters."""
    flt = queries.ListFilter(
        status=status,
        type=type,
        agency_id=agency_id,
        country=country,
        sla_warning=sla_warning,
        q=q,
    )
    rows, next_cursor = queries.list_requests(
        db, user=principal.user, flt=flt, cursor=cursor, limit=limit
    )
    return RequestPage(items=present.summaries(db, rows), next_cursor=next_cursor)


@router.get("/due")
def due_requests(_: CanWork, db: SessionDep) -> list[RequestSummary]:
    """Open requests past 80 % of their SLA, the most urgent first."""
    from chainsleuth.orgs.models import Agency

    rows = []
    for req in queries.due(db):
        agency = db.get(Agency, req.agency_id)
        rows.append((req, agency.name if agency else "?", agency.country if agency else ""))
    return present.summaries(db, rows)


@router.get("/{request_id:int}")
def get_request(principal: CanRead, req: RequestDep, db: SessionDep) -> RequestRead:
    """A request: subjects, documents, messages; for staff also the verification, the
    approvals, the sender's confidence and the customer-notification state."""
    return present.detail(db, req, user=principal.user)


@router.get("/{request_id:int}/documents/{document_id:int}")
def download_document(
    principal: CanRead,
    req: RequestDep,
    db: SessionDep,
    settings: SettingsDep,
    document_id: Annotated[RowId, Path()],
) -> Response:
    """A document of the request (the signed order or the subjects file); audited."""
    doc, data = queries.download(
        db, settings=settings, actor=principal.actor(), req=req, document_id=document_id
    )
    return Response(
        data,
        media_type=doc.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{doc.filename}"',
            "X-Content-SHA256": doc.sha256,
        },
    )


@router.get("/{request_id:int}/messages")
def list_messages(req: RequestDep, db: SessionDep) -> list[MessageRead]:
    return [MessageRead.model_validate(m) for m in queries.messages_of(db, req)]


@router.post("/{request_id:int}/messages", status_code=201)
def post_message(
    principal: CanRead, req: RequestDep, db: SessionDep, data: MessageCreate
) -> MessageRead:
    """A message to the officer (staff) or to the exchange (officer); audited."""
    message = queries.post_message(
        db, user=principal.user, actor=principal.actor(), req=req, body=data.body
    )
    return MessageRead.model_validate(message)


def _assignee(db: SessionDep, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    user = db.get(User, user_id)
    if user is None:
        raise InvalidInput(f"assignee: no user with id {user_id}")
    return user


@router.post("/{request_id:int}/transitions")
def transition(
    principal: CanWork, req: RequestDep, db: SessionDep, data: TransitionCreate
) -> RequestRead:
    """Move the request one step of the workflow; 409 with the reason when not allowed."""
    flows.transition(
        db,
        req=req,
        to=data.status,
        actor=principal.actor(),
        permissions=principal.permissions,
        note=data.note,
        assignee=_assignee(db, data.assignee_id),
    )
    return present.detail(db, req, user=principal.user)


@router.post("/{request_id:int}/verifications", status_code=201)
def verify(
    principal: CanApprove, req: RequestDep, db: SessionDep, data: VerificationCreate
) -> VerificationRead:
    """Record a second-channel call-back to the agency's registered number."""
    check = flows.record_verification(
        db,
        req=req,
        reviewer=principal.user,
        actor=principal.actor(),
        phone_number=data.phone_number,
        contact_name=data.contact_name,
        outcome=data.outcome,
        note=data.note,
    )
    return VerificationRead.model_validate(check)


@router.post("/{request_id:int}/approvals")
def approve(
    principal: CanApprove, req: RequestDep, db: SessionDep, data: ApprovalCreate
) -> RequestRead:
    """A legal reviewer's decision (two distinct approvers for emergency/freeze/seizure)."""
    flows.record_approval(
        db,
        req=req,
        approver=principal.user,
        actor=principal.actor(),
        permissions=principal.permissions,
        decision=data.decision,
        note=data.note,
    )
    return present.detail(db, req, user=principal.user)

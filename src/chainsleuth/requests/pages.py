"""HTML pages: the officer portal (``/portal/requests``: list, new, detail with messages)
and the staff queue (``/requests``: filters, detail with subjects, documents, the sender's
confidence, call-back and approval actions, workflow buttons, messages).

Every page reads through the same scoped queries as the API: an officer of another agency
gets the 404 page. Forms carry the CSRF token; refused input re-renders the form with the
reason (and every bad subject row).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from chainsleuth.auth.enums import Permission
from chainsleuth.auth.models import User
from chainsleuth.core.errors import ChainsleuthError, InvalidInput
from chainsleuth.orgs import service as org_service
from chainsleuth.requests import flows, present, queries
from chainsleuth.requests import service as request_service
from chainsleuth.requests.enums import (
    ApprovalDecision,
    CallbackOutcome,
    RequestStatus,
    RequestType,
    SubjectKind,
)
from chainsleuth.requests.schemas import RequestCreate
from chainsleuth.requests.service import Submission
from chainsleuth.requests.subjects import SubjectsInvalid
from chainsleuth.requests.views import read_upload
from chainsleuth.web.deps import Principal, SessionDep, SettingsDep, requires
from chainsleuth.web.forms import parse
from chainsleuth.web.templating import render

router = APIRouter()

CanSubmit = Annotated[Principal, Depends(requires(Permission.REQUESTS_SUBMIT))]
CanWork = Annotated[Principal, Depends(requires(Permission.REQUESTS_WORK))]
CanApprove = Annotated[Principal, Depends(requires(Permission.REQUESTS_APPROVE))]


def _see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


# --- the officer portal --------------------------------------------------------------------


@router.get("/portal/requests")
def portal_list(
    request: Request,
    principal: CanSubmit,
    db: SessionDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    notice: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    rows, next_cursor = queries.list_requests(
        db, user=principal.user, flt=queries.ListFilter(), cursor=cursor
    )
    return render(
        request,
        "requests/portal_list.html",
        {"items": present.summaries(db, rows), "next_cursor": next_cursor, "notice": notice},
    )


def _new_page(
    request: Request,
    *,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    bad_rows: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "requests/portal_new.html",
        {
            "types": list(RequestType),
            "kinds": list(SubjectKind),
            "v": values or {},
            "error": error,
            "bad_rows": bad_rows or [],
        },
        status_code=status_code,
    )


@router.get("/portal/requests/new")
def portal_new(request: Request, _: CanSubmit) -> Response:
    return _new_page(request)


@router.post("/portal/requests/new")
async def portal_submit(
    request: Request,
    principal: CanSubmit,
    db: SessionDep,
    settings: SettingsDep,
    type: Annotated[str, Form(max_length=32)] = "",
    legal_basis: Annotated[str, Form(max_length=500)] = "",
    jurisdiction: Annotated[str, Form(max_length=200)] = "",
    case_reference: Annotated[str, Form(max_length=100)] = "",
    deadline: Annotated[str, Form(max_length=40)] = "",
    nondisclosure: Annotated[str, Form(max_length=10)] = "",
    nondisclosure_until: Annotated[str, Form(max_length=40)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    parent_reference: Annotated[str, Form(max_length=40)] = "",
    time_from: Annotated[str, Form(max_length=40)] = "",
    time_until: Annotated[str, Form(max_length=40)] = "",
    subjects: Annotated[str, Form(max_length=200_000)] = "",
    subjects_file: Annotated[UploadFile | None, File()] = None,
    document: Annotated[UploadFile | None, File()] = None,
) -> Response:
    values = {
        "type": type,
        "legal_basis": legal_basis,
        "jurisdiction": jurisdiction,
        "case_reference": case_reference,
        "deadline": deadline,
        "nondisclosure": nondisclosure,
        "nondisclosure_until": nondisclosure_until,
        "description": description,
        "parent_reference": parent_reference,
        "time_from": time_from,
        "time_until": time_until,
        "subjects": subjects,
    }
    try:
        data = parse(
            RequestCreate,
            type=type,
            legal_basis=legal_basis,
            jurisdiction=jurisdiction,
            case_reference=case_reference,
            deadline=deadline or None,
            nondisclosure=bool(nondisclosure),
            nondisclosure_until=nondisclosure_until or None,
            description=description,
            parent_reference=parent_reference,
            time_from=time_from or None,
            time_until=time_until or None,
        )
        ack = request_service.submit(
            db,
            settings=settings,
            user=principal.user,
            actor=principal.actor(),
            submission=Submission(
                data=data,
                subjects_text=subjects,
                subjects_file=await read_upload(subjects_file),
                document=await read_upload(document),
            ),
        )
    except SubjectsInvalid as exc:
        return _new_page(
            request, values=values, error=exc.message, bad_rows=exc.rows, status_code=422
        )
    except InvalidInput as exc:
        status = 413 if exc.code == "payload_too_large" else 422
        return _new_page(request, values=values, error=exc.message, status_code=status)
    return _see_other(f"/portal/requests/{ack.id}?ack=1")


@router.get("/portal/requests/{request_id:int}")
def portal_detail(
    request: Request,
    principal: CanSubmit,
    db: SessionDep,
    request_id: int,
    ack: Annotated[int, Query(ge=0, le=1)] = 0,
    error: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    req = queries.load(db, user=principal.user, request_id=request_id)
    detail = present.detail(db, req, user=principal.user)
    notice = (
        f"Request {detail.reference} received and acknowledged; we will respond by "
        f"{detail.sla_due_at:%Y-%m-%d %H:%M} UTC"
        if ack
        else None
    )
    if ack and detail.possible_duplicate_of:
        notice = f"{notice}. It looks like a duplicate of {detail.possible_duplicate_of}"
    return render(
        request,
        "requests/portal_detail.html",
        {"r": detail, "notice": notice, "error": error or None, "base": "/portal/requests"},
    )


@router.post("/portal/requests/{request_id:int}/messages")
def portal_message(
    principal: CanSubmit,
    db: SessionDep,
    request_id: int,
    body: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    req = queries.load(db, user=principal.user, request_id=request_id)
    _, error = queries.safe(
        queries.post_message, db, user=principal.user, actor=principal.actor(), req=req, body=body
    )
    suffix = "?" + urlencode({"error": error}) if error else ""
    return _see_other(f"/portal/requests/{request_id}{suffix}#messages")


@router.get("/portal/requests/{request_id:int}/documents/{document_id:int}")
def portal_document(
    principal: CanSubmit, db: SessionDep, settings: SettingsDep, request_id: int, document_id: int
) -> Response:
    return _download(principal, db, settings, request_id, document_id)


def _download(
    principal: Principal, db: SessionDep, settings: SettingsDep, request_id: int, document_id: int
) -> Response:
    req = queries.load(db, user=principal.user, request_id=request_id)
    doc, data = queries.download(
        db, settings=settings, actor=principal.actor(), req=req, document_id=document_id
    )
    return Response(
        data,
        media_type=doc.content_type,
        headers={"Content-Disposition": f'attachment; filename="{doc.filename}"'},
    )


# --- the staff queue -----------------------------------------------------------------------


def _enum(cls: Any, value: str) -> Any:
    if not value:
        return None
    try:
        return cls(value)
    except ValueError as exc:
        raise InvalidInput(f"unknown {cls.__name__} {value!r}") from exc


@router.get("/requests")
def queue(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    status: Annotated[str, Query(max_length=32)] = "",
    type: Annotated[str, Query(max_length=32)] = "",
    agency: Annotated[str, Query(max_length=12)] = "",
    country: Annotated[str, Query(max_length=2)] = "",
    sla: Annotated[str, Query(max_length=3)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    flt = queries.ListFilter(
        status=_enum(RequestStatus, status),
        type=_enum(RequestType, type),
        agency_id=int(agency) if agency.isdigit() else None,
        country=country or None,
        sla_warning=bool(sla),
        q=q,
    )
    rows, next_cursor = queries.list_requests(db, user=principal.user, flt=flt, cursor=cursor)
    params = {
        "status": status,
        "type": type,
        "agency": agency,
        "country": country,
        "sla": sla,
        "q": q,
    }
    return render(
        request,
        "requests/queue.html",
        {
            "items": present.summaries(db, rows),
            "next_cursor": next_cursor,
            "f": params,
            "statuses": list(RequestStatus),
            "types": list(RequestType),
            "agencies": org_service.list_agencies(db),
        },
    )


@router.get("/requests/{request_id:int}")
def staff_detail(
    request: Request,
    principal: CanWork,
    db: SessionDep,
    request_id: int,
    error: Annotated[str, Query(max_length=500)] = "",
    notice: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    req = queries.load(db, user=principal.user, request_id=request_id)
    detail = present.detail(db, req, user=principal.user)
    staff = _staff(db)
    return render(
        request,
        "requests/detail.html",
        {
            "r": detail,
            "error": error or None,
            "notice": notice or None,
            "base": "/requests",
            "staff": staff,
            "can_approve": principal.can(Permission.REQUESTS_APPROVE),
            "needs_callback": RequestType(req.type).needs_second_channel,
            "gate": flows.approval_gate(db, req),
            "outcomes": list(CallbackOutcome),
            "decisions": list(ApprovalDecision),
            "agency": org_service.require_agency(db, req.agency_id),
        },
    )


def _staff(db: SessionDep) -> list[User]:
    users = db.scalars(select(User).where(User.is_active.is_(True)).order_by(User.username))
    return [u for u in users if u.role.is_internal]


def _back(request_id: int, error: str | None, notice: str) -> Response:
    query = urlencode({"error": error} if error else {"notice": notice})
    return _see_other(f"/requests/{request_id}?{query}")


@router.post("/requests/{request_id:int}/transition")
def staff_transition(
    principal: CanWork,
    db: SessionDep,
    request_id: int,
    status: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    assignee_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    req = queries.load(db, user=principal.user, request_id=request_id)
    try:
        to = _enum(RequestStatus, status)
        if to is None:
            raise InvalidInput("status: choose the next status")
        assignee = db.get(User, int(assignee_id)) if assignee_id.isdigit() else None
        flows.transition(
            db,
            req=req,
            to=to,
            actor=principal.actor(),
            permissions=principal.permissions,
            note=note,
            assignee=assignee,
        )
    except ChainsleuthError as exc:
        db.rollback()
        return _back(request_id, exc.message, "")
    return _back(request_id, None, f"moved to {to.label.lower()}")


@router.post("/requests/{request_id:int}/verification")
def staff_verification(
    principal: CanApprove,
    db: SessionDep,
    request_id: int,
    phone_number: Annotated[str, Form(max_length=40)] = "",
    contact_name: Annotated[str, Form(max_length=200)] = "",
    outcome: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    req = queries.load(db, user=principal.user, request_id=request_id)
    try:
        result = _enum(CallbackOutcome, outcome)
        if result is None or len(phone_number.strip()) < 6 or len(contact_name.strip()) < 2:
            raise InvalidInput("give the number called, whom you spoke to and the outcome")
        flows.record_verification(
            db,
            req=req,
            reviewer=principal.user,
            actor=principal.actor(),
            phone_number=phone_number,
            contact_name=contact_name,
            outcome=result,
            note=note,
        )
    except ChainsleuthError as exc:
        db.rollback()
        return _back(request_id, exc.message, "")
    return _back(request_id, None, f"call-back recorded: {result.value}")


@router.post("/requests/{request_id:int}/approval")
def staff_approval(
    principal: CanApprove,
    db: SessionDep,
    request_id: int,
    decision: Annotated[str, Form(max_length=16)] = "approve",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    req = queries.load(db, user=principal.user, request_id=request_id)
    try:
        flows.record_approval(
            db,
            req=req,
            approver=principal.user,
            actor=principal.actor(),
            permissions=principal.permissions,
            decision=_enum(ApprovalDecision, decision) or ApprovalDecision.APPROVE,
            note=note,
        )
    except ChainsleuthError as exc:
        db.rollback()
        return _back(request_id, exc.message, "")
    return _back(request_id, None, f"decision recorded; the request is {req.status}")


@router.post("/requests/{request_id:int}/messages")
def staff_message(
    principal: CanWork,
    db: SessionDep,
    request_id: int,
    body: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    req = queries.load(db, user=principal.user, request_id=request_id)
    _, error = queries.safe(
        queries.post_message, db, user=principal.user, actor=principal.actor(), req=req, body=body
    )
    return _back(request_id, error, "message sent to the officer")


@router.get("/requests/{request_id:int}/documents/{document_id:int}")
def staff_document(
    principal: CanWork, db: SessionDep, settings: SettingsDep, request_id: int, document_id: int
) -> Response:
    return _download(principal, db, settings, request_id, document_id)

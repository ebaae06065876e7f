"""JSON API: officer sign-up and its links (public), approval and re-verification (admins),
sender confidence (request reviewers), the outbox (administrators, outside production)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel

from chainsleuth.auth.enums import Permission
from chainsleuth.core.errors import NotFound
from chainsleuth.core.models import RowId
from chainsleuth.officers import mail
from chainsleuth.officers import service as officer_service
from chainsleuth.officers.enums import OfficerStatus
from chainsleuth.officers.schemas import (
    ActivateIn,
    ConfidenceRead,
    DecisionIn,
    OfficerRead,
    OfficerSignup,
    ReverifyIn,
    SignupAccepted,
    TokenIn,
)
from chainsleuth.web.deps import (
    CurrentPrincipal,
    Principal,
    SessionDep,
    SettingsDep,
    client_ip,
    requires,
)
from chainsleuth.web.ratelimit import limit_signin

router = APIRouter(tags=["officers"])

CanApprove = Annotated[Principal, Depends(requires(Permission.OFFICERS_APPROVE))]
CanReview = Annotated[Principal, Depends(requires(Permission.REQUESTS_WORK))]
Limited = [Depends(limit_signin)]


class Message(BaseModel):
    message: str


class OfficerMe(BaseModel):
    officer: OfficerRead | None
    verified_sender: bool
    problems: list[str]


class MailRead(BaseModel):
    id: int
    to: str
    subject: str
    body: str
    template: str
    status: str


def base_url(request: Request) -> str:
    return str(request.base_url)


SIGNUP_MESSAGE = (
    "we have sent a verification link to your official e-mail address: open it within 24 hours"
)
REVERIFY_MESSAGE = "if an approved officer has this address, a new verification link is on its way"


@router.post("/officers/signup", status_code=status.HTTP_201_CREATED, dependencies=Limited)
def signup(
    data: OfficerSignup, request: Request, db: SessionDep, settings: SettingsDep
) -> SignupAccepted:
    officer = officer_service.signup(
        db, settings=settings, data=data, base_url=base_url(request), ip=client_ip(request)
    )
    return SignupAccepted(
        id=officer.id,
        status=OfficerStatus(officer.status),
        agency=officer.agency.name,
        message=SIGNUP_MESSAGE,
    )


@router.post("/officers/verify", dependencies=Limited)
def verify(data: TokenIn, request: Request, db: SessionDep) -> OfficerRead:
    officer = officer_service.verify_email(db, token=data.token, ip=client_ip(request))
    return OfficerRead.model_validate(officer)


@router.post("/officers/activate", dependencies=Limited)
def activate(data: ActivateIn, request: Request, db: SessionDep) -> Message:
    officer_service.activate(db, token=data.token, password=data.password, ip=client_ip(request))
    return Message(message="your password is set: sign in to set up your second factor")


@router.post("/officers/reverify", status_code=status.HTTP_202_ACCEPTED, dependencies=Limited)
def reverify(data: ReverifyIn, request: Request, db: SessionDep, settings: SettingsDep) -> Message:
    officer_service.request_reverification(
        db,
        settings=settings,
        email=str(data.email),
        base_url=base_url(request),
        ip=client_ip(request),
    )
    return Message(message=REVERIFY_MESSAGE)


@router.get("/officers/me")
def me(principal: CurrentPrincipal, db: SessionDep) -> OfficerMe:
    officer = officer_service.officer_for_user(db, user_id=principal.user.id)
    return OfficerMe(
        officer=OfficerRead.model_validate(officer) if officer else None,
        verified_sender=officer_service.is_verified_sender(db, user_id=principal.user.id),
        problems=officer_service.sender_problems(db, user_id=principal.user.id),
    )


@router.get("/officers")
def list_officers(
    _: CanApprove,
    db: SessionDep,
    status: OfficerStatus | None = None,
    agency_id: RowId | None = None,
) -> list[OfficerRead]:
    rows = officer_service.list_officers(
        db, status=str(status) if status else None, agency_id=agency_id
    )
    return [OfficerRead.model_validate(o) for o in rows]


@router.get("/officers/due")
def due(_: CanApprove, db: SessionDep, within_days: int = 14) -> list[OfficerRead]:
    return [
        OfficerRead.model_validate(o)
        for o in officer_service.due(db, within_days=max(0, min(within_days, 3650)))
    ]


@router.get("/officers/{officer_id}")
def get_officer(officer_id: RowId, _: CanApprove, db: SessionDep) -> OfficerRead:
    return OfficerRead.model_validate(officer_service.require_officer(db, officer_id))


@router.post("/officers/{officer_id}/approve")
def approve(
    officer_id: RowId,
    request: Request,
    principal: CanApprove,
    db: SessionDep,
    settings: SettingsDep,
    data: DecisionIn | None = None,
) -> OfficerRead:
    officer = officer_service.approve(
        db,
        settings=settings,
        actor=principal.actor(),
        officer_id=officer_id,
        base_url=base_url(request),
        note=data.note if data else "",
    )
    return OfficerRead.model_validate(officer)


@router.post("/officers/{officer_id}/reject")
def reject(
    officer_id: RowId,
    data: DecisionIn,
    principal: CanApprove,
    db: SessionDep,
    settings: SettingsDep,
) -> OfficerRead:
    officer = officer_service.reject(
        db, settings=settings, actor=principal.actor(), officer_id=officer_id, note=data.note
    )
    return OfficerRead.model_validate(officer)


@router.get("/senders/{user_id}/confidence")
def confidence(user_id: RowId, _: CanReview, db: SessionDep) -> ConfidenceRead:
    return ConfidenceRead.model_validate(officer_service.sender_confidence(db, user_id=user_id))


@router.get("/mail/outbox")
def outbox(
    _: CanApprove, db: SessionDep, settings: SettingsDep, to: str | None = None, limit: int = 100
) -> list[MailRead]:
    if settings.is_production:
        raise NotFound("no such page")
    mails = mail.outbox(db, settings=settings, to=to, limit=max(1, min(limit, 1000)))
    return [
        MailRead(
            id=m.id, to=m.to, subject=m.subject, body=m.body, template=m.template, status=m.status
        )
        for m in mails
    ]

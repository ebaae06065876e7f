"""HTML pages: the public officer sign-up and its links, the administrators' approval queue
and, outside production, the mail outbox."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from chainsleuth.auth.enums import Permission
from chainsleuth.core.errors import ChainsleuthError, InvalidInput, NotFound
from chainsleuth.core.models import RowId
from chainsleuth.officers import mail
from chainsleuth.officers import service as officer_service
from chainsleuth.officers.enums import OfficerStatus, TokenPurpose
from chainsleuth.officers.schemas import OfficerSignup
from chainsleuth.web.deps import Principal, SessionDep, SettingsDep, client_ip, requires
from chainsleuth.web.forms import parse
from chainsleuth.web.ratelimit import limit_signin
from chainsleuth.web.templating import render

router = APIRouter()

LINK_RE = re.compile(r"https?://[^\s<>\"]+")
CanApprove = Annotated[Principal, Depends(requires(Permission.OFFICERS_APPROVE))]
Limited = [Depends(limit_signin)]


def _base_url(request: Request) -> str:
    return str(request.base_url)


# --- public: sign-up, links --------------------------------------------------------------------


@router.get("/officers/signup")
def signup_page(request: Request) -> Response:
    return render(request, "officers/signup.html", {"form": {}})


@router.post("/officers/signup", dependencies=Limited)
def signup_submit(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    full_name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    username: Annotated[str, Form(max_length=64)] = "",
    title: Annotated[str, Form(max_length=100)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    form = {"full_name": full_name, "email": email, "username": username, "title": title}
    form["phone"] = phone
    try:
        data = parse(
            OfficerSignup,
            full_name=full_name,
            email=email,
            username=username,
            title=title,
            phone=phone or None,
        )
        officer = officer_service.signup(
            db, settings=settings, data=data, base_url=_base_url(request), ip=client_ip(request)
        )
    except ChainsleuthError as exc:
        return render(
            request,
            "officers/signup.html",
            {"form": form, "error": exc.message},
            status_code=409 if exc.code == "conflict" else 422,
        )
    return render(
        request,
        "officers/message.html",
        {
            "heading": "Check your e-mail",
            "notice": f"we have sent a link to {officer.email}: open it within 24 hours to "
            f"confirm your address; an administrator then reviews your sign-up for "
            f"{officer.agency.name}",
        },
    )


def _link_page(
    request: Request,
    db: SessionDep,
    token: str,
    purposes: tuple[TokenPurpose, ...],
    template: str,
) -> Response:
    try:
        officer = officer_service.check_link(db, token=token, purposes=purposes)
    except InvalidInput as exc:
        return render(
            request,
            "officers/message.html",
            {"heading": "This link does not work", "error": exc.message, "reverify": True},
            status_code=410 if "expired" in exc.message or "used" in exc.message else 404,
        )
    return render(request, template, {"officer": officer, "token": token})


@router.get("/officers/verify")
def verify_page(request: Request, db: SessionDep, token: str = "") -> Response:
    return _link_page(
        request,
        db,
        token,
        (TokenPurpose.SIGNUP, TokenPurpose.REVERIFY),
        "officers/verify.html",
    )


@router.post("/officers/verify", dependencies=Limited)
def verify_submit(
    request: Request, db: SessionDep, token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    try:
        officer = officer_service.verify_email(db, token=token, ip=client_ip(request))
    except InvalidInput as exc:
        return render(
            request,
            "officers/message.html",
            {"heading": "This link does not work", "error": exc.message, "reverify": True},
            status_code=422,
        )
    if officer.status == OfficerStatus.PENDING_APPROVAL:
        notice = (
            "your address is confirmed: an administrator reviews your sign-up and you will "
            "get an e-mail when it is approved"
        )
    else:
        notice = "your address is verified again: you can sign in and send requests"
    return render(
        request, "officers/message.html", {"heading": "Address confirmed", "notice": notice}
    )


@router.get("/officers/activate")
def activate_page(request: Request, db: SessionDep, token: str = "") -> Response:
    return _link_page(request, db, token, (TokenPurpose.ACTIVATE,), "officers/activate.html")


@router.post("/officers/activate", dependencies=Limited)
def activate_submit(
    request: Request,
    db: SessionDep,
    token: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    confirm: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    try:
        officer = officer_service.check_link(db, token=token, purposes=(TokenPurpose.ACTIVATE,))
    except InvalidInput as exc:
        return render(
            request,
            "officers/message.html",
            {"heading": "This link does not work", "error": exc.message},
            status_code=422,
        )
    try:
        if password != confirm:
            raise InvalidInput("the passwords do not match")
        officer_service.activate(db, token=token, password=password, ip=client_ip(request))
    except InvalidInput as exc:
        return render(
            request,
            "officers/activate.html",
            {"error": exc.message, "token": token, "officer": officer},
            status_code=422,
        )
    return render(
        request,
        "officers/message.html",
        {
            "heading": "Password set",
            "notice": "your password is set: sign in, then set up your second factor",
        },
    )


@router.get("/officers/reverify")
def reverify_page(request: Request) -> Response:
    return render(request, "officers/reverify.html", {})


@router.post("/officers/reverify", dependencies=Limited)
def reverify_submit(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    if "@" not in email:
        return render(
            request,
            "officers/reverify.html",
            {"error": "enter your official e-mail address"},
            status_code=422,
        )
    officer_service.request_reverification(
        db, settings=settings, email=email, base_url=_base_url(request), ip=client_ip(request)
    )
    return render(
        request,
        "officers/message.html",
        {
            "heading": "Check your e-mail",
            "notice": "if an approved officer has this address, a new verification link is "
            "on its way: open it within 24 hours",
        },
    )


# --- administrators ----------------------------------------------------------------------------


def _queue(
    request: Request,
    db: SessionDep,
    *,
    status: str = "",
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    wanted = status if status in {s.value for s in OfficerStatus} else ""
    return render(
        request,
        "officers/admin.html",
        {
            "officers": officer_service.list_officers(db, status=wanted or None),
            "statuses": list(OfficerStatus),
            "status": wanted,
            "due": officer_service.due(db, within_days=14),
            "is_lapsed": officer_service.is_lapsed,
            "show_outbox": not request.app.state.settings.is_production,
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/admin/officers")
def officers_page(request: Request, _: CanApprove, db: SessionDep, status: str = "") -> Response:
    return _queue(request, db, status=status)


@router.post("/admin/officers/{officer_id}/{action}")
def officer_action(
    request: Request,
    officer_id: RowId,
    action: str,
    principal: CanApprove,
    db: SessionDep,
    settings: SettingsDep,
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    actor = principal.actor()
    try:
        if action == "approve":
            officer = officer_service.approve(
                db,
                settings=settings,
                actor=actor,
                officer_id=officer_id,
                base_url=_base_url(request),
                note=note,
            )
            notice = f"{officer.full_name} is approved: an activation link has been mailed"
        elif action == "reject":
            officer = officer_service.reject(
                db, settings=settings, actor=actor, officer_id=officer_id, note=note
            )
            notice = f"the sign-up of {officer.full_name} is rejected"
        elif action == "reverify":
            officer = officer_service.require_officer(db, officer_id)
            if officer.status != OfficerStatus.APPROVED:
                raise InvalidInput("only approved officers are re-verified")
            officer_service.send_reverification(
                db, settings=settings, actor=actor, officer=officer, base_url=_base_url(request)
            )
            db.commit()
            notice = f"a new verification link has been mailed to {officer.email}"
        else:
            raise NotFound(f"unknown action {action!r}")
    except NotFound:
        raise
    except ChainsleuthError as exc:
        code = 409 if exc.code == "conflict" else 422
        return _queue(request, db, error=exc.message, status_code=code)
    return _queue(request, db, notice=notice)


@router.get("/admin/outbox")
def outbox_page(
    request: Request, _: CanApprove, db: SessionDep, settings: SettingsDep, to: str = ""
) -> Response:
    if settings.is_production:
        raise NotFound("no such page")
    return render(
        request,
        "officers/outbox.html",
        {
            "mails": mail.outbox(db, settings=settings, to=to or None),
            "to": to,
            "links": lambda body: LINK_RE.findall(body),
        },
    )

"""HTML pages: sign-in, second factor, home, own account, user administration."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.auth import mfa
from chainsleuth.auth import service as user_service
from chainsleuth.auth import sessions as session_service
from chainsleuth.auth import tokens as token_service
from chainsleuth.auth.enums import ROLE_PERMISSIONS, Permission, Role
from chainsleuth.auth.models import User, WebSession
from chainsleuth.auth.schemas import UserCreate
from chainsleuth.core.errors import (
    AccountLocked,
    ChainsleuthError,
    InvalidInput,
    NotAuthenticated,
)
from chainsleuth.core.models import RowId
from chainsleuth.freezes import reports as freeze_reports
from chainsleuth.orgs import service as org_service
from chainsleuth.web.deps import (
    SESSION_COOKIE,
    CurrentPrincipal,
    Principal,
    SessionDep,
    SettingsDep,
    WebSessionDep,
    client_ip,
    requires,
)
from chainsleuth.web.forms import parse
from chainsleuth.web.ratelimit import limit_signin
from chainsleuth.web.templating import render

router = APIRouter()

CanManageUsers = Annotated[Principal, Depends(requires(Permission.USERS_MANAGE))]


def safe_next(target: str | None) -> str:
    """Only paths on this site: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _next_query(target: str | None) -> str:
    """``next=...`` for a redirect URL, encoded so that its own query string survives."""
    return "next=" + quote(safe_next(target), safe="/")


def _with_session_cookie(response: Response, token: str, *, secure: bool, max_age: int) -> Response:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=secure,
        max_age=max_age,
        path="/",
    )
    return response


def _signed_in(request: Request, new: session_service.NewSession, target: str) -> Response:
    settings = request.app.state.settings
    response = RedirectResponse(safe_next(target), status_code=303)
    return _with_session_cookie(
        response,
        new.token,
        secure=settings.cookie_secure,
        max_age=settings.session_max_hours * 3600,
    )


# --- sign-in -------------------------------------------------------------------------------


@router.get("/login")
def login_page(
    request: Request, web_session: WebSessionDep, next: str = "/", expired: bool = False
) -> Response:
    if web_session is not None and web_session.mfa_passed:
        return RedirectResponse(safe_next(next), status_code=303)
    notice = "Your session has expired: please sign in again." if expired else None
    return render(request, "auth/login.html", {"next": safe_next(next), "notice": notice})


@router.post("/login", dependencies=[Depends(limit_signin)])
def login_submit(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    try:
        if not username or not password:
            raise InvalidInput("enter your username and password")
        new = session_service.login(
            db,
            settings=settings,
            username=username,
            password=password,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    except (NotAuthenticated, InvalidInput) as exc:
        status = (
            422 if isinstance(exc, InvalidInput) else 423 if isinstance(exc, AccountLocked) else 401
        )
        return render(
            request,
            "auth/login.html",
            {"next": safe_next(next), "error": exc.message, "username": username},
            status_code=status,
        )
    if new.record.mfa_passed:
        return _signed_in(request, new, next)
    target = "/mfa" if new.record.user.mfa_enabled else "/mfa/enrol"
    return _signed_in(request, new, f"{target}?{_next_query(next)}")


def pending_session(web_session: WebSessionDep) -> WebSession:
    if web_session is None:
        raise NotAuthenticated("you are not signed in")
    return web_session


PendingSession = Annotated[WebSession, Depends(pending_session)]


@router.get("/mfa")
def mfa_page(request: Request, web_session: PendingSession, next: str = "/") -> Response:
    if web_session.mfa_passed:
        return RedirectResponse(safe_next(next), status_code=303)
    if not web_session.user.mfa_enabled:
        return RedirectResponse(f"/mfa/enrol?{_next_query(next)}", status_code=303)
    return render(request, "auth/mfa.html", {"next": safe_next(next)})


@router.post("/mfa", dependencies=[Depends(limit_signin)])
def mfa_submit(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    web_session: PendingSession,
    code: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    if web_session.mfa_passed:
        return RedirectResponse(safe_next(next), status_code=303)
    try:
        new = session_service.verify_second_factor(
            db, settings=settings, web_session=web_session, code=code, ip=client_ip(request)
        )
    except NotAuthenticated as exc:
        if isinstance(exc, AccountLocked):
            response = render(
                request, "auth/login.html", {"next": "/", "error": exc.message}, status_code=423
            )
            response.delete_cookie(SESSION_COOKIE)
            return response
        return render(
            request,
            "auth/mfa.html",
            {"next": safe_next(next), "error": exc.message},
            status_code=401,
        )
    return _signed_in(request, new, next)


@router.get("/mfa/enrol")
def mfa_enrol_page(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    web_session: PendingSession,
    next: str = "/",
) -> Response:
    user = web_session.user
    if user.mfa_enabled and not web_session.mfa_passed:
        return RedirectResponse(f"/mfa?{_next_query(next)}", status_code=303)
    if user.mfa_enabled:
        return RedirectResponse("/account", status_code=303)
    return _enrol_page(request, db, settings, user, next=next)


def _enrol_page(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    user: User,
    *,
    next: str,
    error: str | None = None,
) -> Response:
    secret = user_service.pending_mfa_secret(settings, user)
    if secret is None:
        secret = user_service.start_mfa_enrolment(db, settings=settings, user=user)
    uri = mfa.provisioning_uri(secret, username=user.username)
    return render(
        request,
        "auth/mfa_enrol.html",
        {"secret": secret, "qr_svg": mfa.qr_svg(uri), "next": safe_next(next), "error": error},
        status_code=401 if error else 200,
    )


@router.post("/mfa/enrol", dependencies=[Depends(limit_signin)])
def mfa_enrol_submit(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    web_session: PendingSession,
    code: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    user = web_session.user
    if user.mfa_enabled:
        return RedirectResponse("/account", status_code=303)
    actor = audit.Actor(user_id=user.id, name=user.username, ip=client_ip(request))
    ok = user_service.confirm_mfa_enrolment(
        db, settings=settings, actor=actor, user=user, code=code
    )
    if not ok:
        return _enrol_page(
            request, db, settings, user, next=next, error="that code does not match: try again"
        )
    new = session_service.complete(
        db, settings=settings, web_session=web_session, ip=client_ip(request), action="auth.mfa"
    )
    return _signed_in(request, new, next)


@router.post("/logout")
def logout(request: Request, db: SessionDep, web_session: WebSessionDep) -> Response:
    if web_session is not None:
        session_service.logout(db, web_session=web_session, ip=client_ip(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- home and own account ------------------------------------------------------------------


@router.get("/")
def home(request: Request, principal: CurrentPrincipal, db: SessionDep) -> Response:
    user = principal.user
    context: dict[str, Any] = {
        "my_events": audit.search(db, flt=audit.AuditFilter(actor_id=user.id), limit=8),
        "token_count": sum(1 for t in token_service.list_for(db, user=user) if not t.revoked_at),
        "permissions": sorted(str(p) for p in principal.permissions),
    }
    if principal.can(Permission.USERS_MANAGE):
        by_role = user_service.role_counts(db)
        context["users_by_role"] = [(role, by_role.get(role, 0)) for role in Role]
        context["locked_users"] = user_service.locked_users(db)
        context["no_mfa"] = user_service.count_missing_mfa(db)
    if principal.can(Permission.AUDIT_READ):
        events = [
            ev
            for outcome in (Outcome.DENIED, Outcome.FAILURE)
            for ev in audit.search(db, flt=audit.AuditFilter(outcome=outcome), limit=8)
        ]
        context["security_events"] = sorted(events, key=lambda ev: ev.seq, reverse=True)[:8]
    if user.agency_id is not None or user.organisation_id is not None:
        context["colleagues"] = [
            u for u in user_service.list_visible(db, viewer=user) if u.id != user.id
        ]
    if principal.can(Permission.FREEZES_READ):
        context["freezes_due"] = freeze_reports.due_soon(db, days=7)[:10]
    return render(request, "home.html", context)


@router.get("/account")
def account(request: Request, principal: CurrentPrincipal, db: SessionDep) -> Response:
    return _account_page(request, principal, db)


def _account_page(
    request: Request,
    principal: Principal,
    db: SessionDep,
    *,
    new_token: str | None = None,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "auth/account.html",
        {
            "tokens": token_service.list_for(db, user=principal.user),
            "grantable": sorted(ROLE_PERMISSIONS[principal.user.role]),
            "new_token": new_token,
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
    )


@router.post("/account/password")
def change_password(
    request: Request,
    principal: CurrentPrincipal,
    db: SessionDep,
    current: Annotated[str, Form(max_length=256)] = "",
    new: Annotated[str, Form(max_length=256)] = "",
    confirm: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    from chainsleuth.auth.passwords import verify_password

    user = principal.user
    try:
        if not verify_password(user.password_hash, current):
            raise InvalidInput("your current password is not right")
        if new != confirm:
            raise InvalidInput("the new passwords do not match")
        user_service.set_password(db, actor=principal.actor(), user=user, password=new)
    except InvalidInput as exc:
        return _account_page(request, principal, db, error=exc.message, status_code=422)
    return _account_page(request, principal, db, notice="Your password has been changed.")


@router.post("/account/tokens")
def create_token(
    request: Request,
    principal: CurrentPrincipal,
    db: SessionDep,
    name: Annotated[str, Form(max_length=100)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    days: Annotated[int, Form(ge=1, le=366)] = 90,
) -> Response:
    try:
        if not name.strip():
            raise InvalidInput("give the token a name")
        try:
            perms = [Permission(s) for s in scopes or []]
        except ValueError as exc:
            raise InvalidInput("unknown scope") from exc
        issued = token_service.create(
            db, actor=principal.actor(), user=principal.user, name=name, scopes=perms, days=days
        )
    except ChainsleuthError as exc:
        return _account_page(request, principal, db, error=exc.message, status_code=422)
    return _account_page(request, principal, db, new_token=issued.token)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    request: Request, token_id: RowId, principal: CurrentPrincipal, db: SessionDep
) -> Response:
    token_service.revoke(db, actor=principal.actor(), user=principal.user, token_id=token_id)
    return _account_page(request, principal, db, notice="The token has been revoked.")


# --- user administration -------------------------------------------------------------------


@router.get("/admin/users")
def users_page(
    request: Request,
    principal: CanManageUsers,
    db: SessionDep,
    role: str = "",
    q: str = "",
) -> Response:
    return _users_page(request, principal, db, role=role, q=q)


def _users_page(
    request: Request,
    principal: Principal,
    db: SessionDep,
    *,
    role: str = "",
    q: str = "",
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    role_filter = Role(role) if role in {r.value for r in Role} else None
    users = user_service.list_visible(db, viewer=principal.user, role=role_filter, q=q or None)
    return render(
        request,
        "auth/users.html",
        {
            "users": users,
            "roles": list(Role),
            "role": role,
            "q": q,
            "agencies": org_service.list_agencies(db),
            "organisations": org_service.list_organisations(db),
            "error": error,
            "notice": notice,
            "form": form or {},
            "is_locked": user_service.is_locked,
        },
        status_code=status_code,
    )


@router.post("/admin/users")
def users_create(
    request: Request,
    principal: CanManageUsers,
    db: SessionDep,
    username: Annotated[str, Form(max_length=64)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    full_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    agency_id: Annotated[str, Form(max_length=12)] = "",
    organisation_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    form = {
        "username": username,
        "email": email,
        "full_name": full_name,
        "role": role,
        "agency_id": agency_id,
        "organisation_id": organisation_id,
    }
    try:
        data = parse(
            UserCreate,
            username=username,
            email=email,
            full_name=full_name,
            role=role,
            password=password,
            agency_id=agency_id or None,
            organisation_id=organisation_id or None,
        )
        user = user_service.create_user(db, actor=principal.actor(), data=data)
    except ChainsleuthError as exc:
        return _users_page(request, principal, db, error=exc.message, form=form, status_code=422)
    return _users_page(request, principal, db, notice=f"User {user.username} created.")


USER_ACTIONS = ("disable", "enable", "unlock", "reset-mfa")


@router.post("/admin/users/{user_id}/{action}")
def users_action(
    request: Request, user_id: RowId, action: str, principal: CanManageUsers, db: SessionDep
) -> Response:
    user = user_service.get_visible(db, viewer=principal.user, user_id=user_id)
    actor = principal.actor()
    if action == "disable":
        user_service.set_active(db, actor=actor, user=user, active=False)
    elif action == "enable":
        user_service.set_active(db, actor=actor, user=user, active=True)
    elif action == "unlock":
        user_service.unlock(db, actor=actor, user=user)
    elif action == "reset-mfa":
        user_service.reset_mfa(db, actor=actor, user=user)
    else:
        raise InvalidInput(f"unknown action {action!r}")
    return render(request, "auth/_user_row.html", {"u": user, "is_locked": user_service.is_locked})

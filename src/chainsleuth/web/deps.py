"""Request dependencies: settings, database session, the signed-in principal, permissions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from chainsleuth.audit.enums import Channel
from chainsleuth.audit.service import Actor
from chainsleuth.auth import sessions as session_service
from chainsleuth.auth import tokens as token_service
from chainsleuth.auth.enums import ROLE_PERMISSIONS, Permission
from chainsleuth.auth.models import ApiToken, User, WebSession
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.core.errors import MfaRequired, NotAuthenticated, PermissionDenied

SESSION_COOKIE = "cs_session"
ANON_CSRF_COOKIE = "cs_csrf"


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_session(request: Request) -> Iterator[Session]:
    with get_database(request).session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def optional_web_session(
    request: Request, db: SessionDep, settings: SettingsDep
) -> WebSession | None:
    """The browser session named by the cookie, if it is still live (MFA passed or not)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        web_session = session_service.load(db, settings=settings, token=token)
    except NotAuthenticated as exc:
        request.state.session_problem = exc.message
        return None
    request.state.web_session = web_session
    return web_session


WebSessionDep = Annotated[WebSession | None, Depends(optional_web_session)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, through a browser session or an API token."""

    user: User
    permissions: frozenset[Permission]
    channel: Channel
    ip: str | None
    web_session: WebSession | None = None
    token: ApiToken | None = None

    def actor(self) -> Actor:
        return Actor(
            user_id=self.user.id, name=self.user.username, channel=self.channel, ip=self.ip
        )

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


#: Declares the bearer scheme in the OpenAPI document; the header is checked below.
bearer_scheme = HTTPBearer(
    auto_error=False, description="A personal API token (My account -> API tokens)"
)


def current_principal(
    request: Request,
    db: SessionDep,
    web_session: WebSessionDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> Principal:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotAuthenticated("send the API token as 'Authorization: Bearer <token>'")
        token = token_service.authenticate(db, token=value.strip())
        principal = Principal(
            user=token.user,
            permissions=token_service.granted(token),
            channel=Channel.API,
            ip=client_ip(request),
            token=token,
        )
    else:
        if web_session is None:
            problem = getattr(request.state, "session_problem", None)
            raise NotAuthenticated(problem or "you are not signed in")
        if not web_session.mfa_passed:
            raise MfaRequired("finish signing in with your second factor first")
        principal = Principal(
            user=web_session.user,
            permissions=ROLE_PERMISSIONS[web_session.user.role],
            channel=Channel.WEB,
            ip=client_ip(request),
            web_session=web_session,
        )
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def requires(*permissions: Permission) -> Callable[..., Principal]:
    """A dependency that lets through only principals holding every given permission."""

    def dependency(principal: CurrentPrincipal) -> Principal:
        missing = [str(p) for p in permissions if p not in principal.permissions]
        if missing:
            raise PermissionDenied(
                "you do not have permission to do this (needs " + ", ".join(missing) + ")"
            )
        return principal

    return dependency


def require_user(principal: CurrentPrincipal) -> Principal:
    return principal

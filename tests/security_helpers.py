"""Helpers for the tests of accounts, access control and web security.

The app writes through its own sessions, so every read here opens a fresh session of its own
(never the test's ``session``, whose identity map would answer with stale objects); the
session is closed at once so that no transaction stays open while the client calls the app.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.audit.service import Actor
from chainsleuth.auth import mfa
from chainsleuth.auth import service as user_service
from chainsleuth.auth import tokens as token_service
from chainsleuth.auth.enums import Permission
from chainsleuth.auth.models import ApiToken, User, WebSession
from chainsleuth.core.db import Database
from chainsleuth.web.deps import SESSION_COOKIE
from factories import Account

CSRF_HEADER = "X-CSRF-Token"


def audit_events(
    database: Database,
    *,
    action: str,
    outcome: str | None = None,
    actor_id: int | None = None,
) -> list[AuditEvent]:
    """Entries with exactly this action (oldest first), optionally of one outcome or actor."""
    stmt = select(AuditEvent).where(AuditEvent.action == action)
    if outcome is not None:
        stmt = stmt.where(AuditEvent.outcome == outcome)
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    with database.session() as s:
        return list(s.scalars(stmt.order_by(AuditEvent.seq)).all())


def details(event: AuditEvent) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(event.details)
    return value


def load_user(database: Database, user_id: int) -> User:
    with database.session() as s:
        user = s.get(User, user_id)
        assert user is not None
        return user


def web_sessions(database: Database, user_id: int) -> Sequence[WebSession]:
    with database.session() as s:
        return s.scalars(
            select(WebSession).where(WebSession.user_id == user_id).order_by(WebSession.id)
        ).all()


def api_tokens(database: Database, user_id: int) -> Sequence[ApiToken]:
    with database.session() as s:
        return s.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
        ).all()


def change(database: Database, model: Any, row_id: int, **values: Any) -> None:
    """Write columns of one row directly (to age a session or a token, disable a user...)."""
    with database.session() as s:
        s.execute(update(model).where(model.id == row_id).values(**values))
        s.commit()


def forget_totp_step(database: Database, account: Account) -> None:
    """Let the account's current TOTP code be used once more (for a second login)."""
    change(database, User, account.user.id, mfa_last_step=None)


def wrong_code(secret: str) -> str:
    """A six-digit code that no step of the valid window (and the next) accepts."""
    now = time.time()
    valid = {mfa.current_code(secret, at=now + k * 30) for k in range(-2, 3)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in valid)


def csrf_headers(client: TestClient) -> dict[str, str]:
    """The X-CSRF-Token header of the client's signed-in session (read from a page)."""
    from factories import csrf_from

    page = client.get("/account")
    assert page.status_code == 200, page.status_code
    return {CSRF_HEADER: csrf_from(page.text)}


def session_cookie(client: TestClient) -> str:
    value = client.cookies.get(SESSION_COOKIE)
    assert value, "the client holds no session cookie"
    return value


def with_cookie(token: str) -> dict[str, str]:
    """Headers that present one session cookie (use with a client whose jar is empty)."""
    return {"Cookie": f"{SESSION_COOKIE}={token}"}


def make_token(
    session: Session, account: Account, *scopes: Permission, days: int = 30, name: str = "test"
) -> str:
    """An API token issued through the service (as the account page would)."""
    actor = Actor(user_id=account.user.id, name=account.username)
    return token_service.create(
        session, actor=actor, user=account.user, name=name, scopes=list(scopes), days=days
    ).token


_HASHES: dict[str, str] = {}


def reuse_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash each test password once per run: argon2 is slow on purpose, and tests create many
    users. The stored hashes stay real argon2 hashes that the real verifier checks."""
    real = user_service.hash_password

    def cached(password: str) -> str:
        if password not in _HASHES:
            _HASHES[password] = real(password)
        return _HASHES[password]

    monkeypatch.setattr(user_service, "hash_password", cached)

"""Signing in and out: password, TOTP second factor, lockout, sessions and their cookies."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.app import create_app
from chainsleuth.audit.service import Actor
from chainsleuth.auth import mfa
from chainsleuth.auth import service as user_service
from chainsleuth.auth.enums import Role
from chainsleuth.auth.models import User, WebSession
from chainsleuth.core.config import Environment, Settings
from chainsleuth.core.crypto import token_hash
from chainsleuth.core.db import Database
from chainsleuth.core.models import utcnow
from factories import csrf_from, login, make_settings, make_user
from security_helpers import (
    audit_events,
    change,
    csrf_headers,
    details,
    forget_totp_step,
    load_user,
    reuse_password_hashes,
    session_cookie,
    web_sessions,
    with_cookie,
    wrong_code,
)

ALERT_RE = re.compile(r'role="alert"[^>]*>\s*([^<]*?)\s*<')
NEXT_RE = re.compile(r'name="next" value="([^"]*)"')


@pytest.fixture(autouse=True)
def _fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    reuse_password_hashes(monkeypatch)


def password_step(
    client: TestClient, username: str, password: str, *, next_path: str = "/"
) -> Response:
    page = client.get("/login")
    assert page.status_code == 200
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_from(page.text),
            "next": next_path,
        },
        follow_redirects=False,
    )


def code_step(client: TestClient, code: str, *, next_path: str = "/") -> Response:
    page = client.get("/mfa")
    assert page.status_code == 200
    return client.post(
        "/mfa",
        data={"code": code, "csrf_token": csrf_from(page.text), "next": next_path},
        follow_redirects=False,
    )


def alert(response: Response) -> str:
    """The error message a page shows, lower-cased."""
    match = ALERT_RE.search(response.text)
    assert match, "the page shows no error"
    return match.group(1).lower()


def cookie_session(database: Database, client: TestClient) -> WebSession:
    """The stored session named by the client's cookie."""
    wanted = token_hash(session_cookie(client))
    with database.session() as s:
        record = s.scalar(select(WebSession).where(WebSession.token_hash == wanted))
        assert record is not None
        return record


def expire(database: Database, client: TestClient, **values: object) -> None:
    """Rewrite the timestamps of the client's session."""
    change(database, WebSession, cookie_session(database, client).id, **values)


@pytest.fixture
def demo_client(tmp_path: Path, db_url: str, database: Database) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path, db_url, demo=True), database)
    with TestClient(app) as c:
        yield c


# --- password and second factor ------------------------------------------------------------


def test_password_then_totp_opens_a_full_session(
    app: FastAPI, client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.INVESTIGATOR)
    uid = account.user.id

    first = password_step(client, account.username, account.password)
    assert first.status_code == 303
    assert first.headers["location"] == "/mfa?next=/"
    pending_cookie = session_cookie(client)

    done = code_step(client, account.code())
    assert done.status_code == 303
    assert done.headers["location"] == "/"
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == account.username
    assert me.json()["via"] == "web"
    assert client.get("/").status_code == 200

    # a fresh token replaces the password-only one, which is revoked (no session fixation)
    assert session_cookie(client) != pending_cookie
    sessions = web_sessions(database, uid)
    assert [(ws.mfa_passed, ws.revoked_at is not None) for ws in sessions] == [
        (False, True),
        (True, False),
    ]
    with TestClient(app) as other:
        assert other.get("/api/v1/me", headers=with_cookie(pending_cookie)).status_code == 401

    user = load_user(database, uid)
    assert user.last_login_at is not None
    assert user.failed_logins == 0
    (password_ok,) = audit_events(database, action="auth.login", actor_id=uid)
    assert password_ok.outcome == "success"
    assert details(password_ok) == {"stage": "password", "mfa_pending": True}
    (mfa_ok,) = audit_events(database, action="auth.mfa", actor_id=uid)
    assert mfa_ok.outcome == "success"


def test_wrong_password_is_refused_and_audited(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings)
    response = password_step(client, account.username, "not-the-password-at-all")
    assert response.status_code == 401
    assert "text/html" in response.headers["content-type"]
    assert "wrong username or password" in alert(response)
    assert client.cookies.get("cs_session") is None
    assert client.get("/api/v1/me").status_code == 401

    (event,) = audit_events(database, action="auth.login", actor_id=account.user.id)
    assert event.outcome == "failure"
    assert details(event)["reason"] == "wrong password"
    assert load_user(database, account.user.id).failed_logins == 1
    assert web_sessions(database, account.user.id) == []


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings)
    wrong = password_step(client, account.username, "not-the-password-at-all")
    unknown = password_step(client, "nobody-by-this-name", "not-the-password-at-all")
    assert unknown.status_code == wrong.status_code == 401
    assert alert(unknown) == alert(wrong)

    events = audit_events(database, action="auth.login", outcome="failure")
    anonymous = [ev for ev in events if ev.actor_id is None]
    assert len(anonymous) == 1
    assert anonymous[0].actor == "anonymous"
    assert details(anonymous[0]) == {"username": "nobody-by-this-name", "reason": "unknown user"}


def test_lockout_after_repeated_failures_then_unlock_by_admin(
    app: FastAPI,
    client: TestClient,
    session: Session,
    settings: Settings,
    database: Database,
) -> None:
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    admin = make_user(session, settings, role=Role.ADMIN)
    uid = account.user.id

    for _ in range(settings.lockout_threshold):
        assert password_step(client, account.username, "wrong-password-123").status_code == 401
    assert load_user(database, uid).locked_until is not None

    # the right password does not help while the account is locked
    locked = password_step(client, account.username, account.password)
    assert locked.status_code == 423
    assert "locked" in alert(locked)
    assert client.cookies.get("cs_session") is None
    (denied,) = audit_events(database, action="auth.login", outcome="denied", actor_id=uid)
    assert details(denied)["reason"] == "account locked"
    failures = audit_events(database, action="auth.login", outcome="failure", actor_id=uid)
    assert len(failures) == settings.lockout_threshold
    assert details(failures[-1])["locked"] is True

    with TestClient(app) as admin_client:
        login(admin_client, admin)
        unlocked = admin_client.post(
            f"/api/v1/users/{uid}/unlock", headers=csrf_headers(admin_client)
        )
        assert unlocked.status_code == 200
        assert unlocked.json()["locked_until"] is None
    (event,) = audit_events(database, action="user.unlock")
    assert event.actor_id == admin.user.id
    assert event.object_id == str(uid)

    assert password_step(client, account.username, account.password).status_code == 303
    assert client.get("/api/v1/me").status_code == 200


def test_wrong_totp_code_is_refused(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings)
    assert account.totp_secret
    password_step(client, account.username, account.password)

    refused = code_step(client, wrong_code(account.totp_secret))
    assert refused.status_code == 401
    assert "wrong or expired code" in alert(refused)
    assert client.get("/api/v1/me").status_code == 401
    (event,) = audit_events(database, action="auth.mfa", actor_id=account.user.id)
    assert event.outcome == "failure"
    assert details(event)["reason"] == "wrong code"
    assert load_user(database, account.user.id).failed_logins == 1

    # the password-only session may try again
    assert code_step(client, account.code()).status_code == 303
    assert client.get("/api/v1/me").status_code == 200
    assert load_user(database, account.user.id).failed_logins == 0


def test_a_totp_code_is_accepted_only_once(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings)
    code = account.code()
    password_step(client, account.username, account.password)
    assert code_step(client, code).status_code == 303
    client.post("/logout", headers=csrf_headers(client))

    password_step(client, account.username, account.password)
    replayed = code_step(client, code)
    assert replayed.status_code == 401
    assert client.get("/api/v1/me").status_code == 401
    (event,) = audit_events(
        database, action="auth.mfa", outcome="failure", actor_id=account.user.id
    )
    assert details(event)["reason"] == "code reused"

    # the code of the next time step (within the allowed drift) is a new code
    fresh = account.code(at=time.time() + 30)
    assert code_step(client, fresh).status_code == 303
    assert client.get("/api/v1/me").status_code == 200


def test_repeated_wrong_codes_lock_the_account(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings)
    assert account.totp_secret
    password_step(client, account.username, account.password)
    bad = wrong_code(account.totp_secret)
    for _ in range(settings.lockout_threshold - 1):
        assert code_step(client, bad).status_code == 401
    last = code_step(client, bad)
    assert last.status_code == 423
    assert "locked" in alert(last)
    # the password-only session is gone with the lock
    assert all(ws.revoked_at is not None for ws in web_sessions(database, account.user.id))
    assert load_user(database, account.user.id).locked_until is not None


# --- who must give a second factor ---------------------------------------------------------


def test_staff_without_mfa_must_enrol_before_anything_else(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.INVESTIGATOR, with_mfa=False)
    assert settings.mfa_enforced
    first = password_step(client, account.username, account.password, next_path="/account")
    assert first.status_code == 303
    assert first.headers["location"] == "/mfa/enrol?next=/account"

    # a password-only session opens neither the API nor the pages
    me = client.get("/api/v1/me")
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "mfa_required"
    home = client.get("/account", follow_redirects=False)
    assert home.status_code == 303
    assert home.headers["location"] == "/mfa"
    to_enrol = client.get("/mfa", follow_redirects=False)
    assert to_enrol.status_code == 303
    assert to_enrol.headers["location"].startswith("/mfa/enrol")

    page = client.get("/mfa/enrol?next=/account")
    assert page.status_code == 200
    secret_match = re.search(r'data-testid="mfa-secret">([A-Z2-7]+)<', page.text)
    assert secret_match
    secret = secret_match.group(1)
    assert client.get("/mfa/enrol").text.count(secret) >= 1  # the pending secret is kept

    token = csrf_from(page.text)
    wrong = client.post(
        "/mfa/enrol",
        data={"code": wrong_code(secret), "csrf_token": token, "next": "/account"},
        follow_redirects=False,
    )
    assert wrong.status_code == 401
    assert client.get("/api/v1/me").status_code == 401

    done = client.post(
        "/mfa/enrol",
        data={"code": mfa.current_code(secret), "csrf_token": token, "next": "/account"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/account"
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["mfa_enabled"] is True

    user = load_user(database, account.user.id)
    assert user.mfa_secret is not None
    assert secret not in user.mfa_secret  # stored encrypted
    assert user.mfa_pending_secret is None
    outcomes = [ev.outcome for ev in audit_events(database, action="auth.mfa_enrol")]
    assert outcomes == ["failure", "success"]


def test_trainee_without_mfa_signs_in_with_a_password(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    trainee = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    response = password_step(client, trainee.username, trainee.password)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert client.get("/api/v1/me").json()["role"] == "trainee"
    (event,) = audit_events(database, action="auth.login", actor_id=trainee.user.id)
    assert details(event) == {"stage": "password", "mfa_pending": False}


def test_demo_world_lets_an_admin_without_mfa_in(
    demo_client: TestClient, session: Session, settings: Settings
) -> None:
    admin = make_user(session, settings, role=Role.ADMIN, with_mfa=False)
    response = password_step(demo_client, admin.username, admin.password)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert demo_client.get("/api/v1/me").json()["username"] == admin.username

    # but whoever has a second factor still gives it, demo or not
    enrolled = make_user(session, settings, role=Role.ADMIN)
    demo_client.cookies.clear()
    response = password_step(demo_client, enrolled.username, enrolled.password)
    assert response.headers["location"].startswith("/mfa?")
    assert demo_client.get("/api/v1/me").status_code == 401


def test_admin_without_mfa_must_enrol_outside_the_demo_world(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin = make_user(session, settings, role=Role.ADMIN, with_mfa=False)
    response = password_step(client, admin.username, admin.password)
    assert response.headers["location"].startswith("/mfa/enrol")
    assert client.get("/api/v1/me").status_code == 401


# --- sessions ------------------------------------------------------------------------------


def test_logout_revokes_the_session(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    login(client, account)
    cookie = session_cookie(client)

    out = client.post("/logout", headers=csrf_headers(client), follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    assert client.cookies.get("cs_session") is None
    assert client.get("/api/v1/me").status_code == 401

    # the old cookie, presented again, opens nothing
    assert client.get("/api/v1/me", headers=with_cookie(cookie)).status_code == 401
    (ws,) = web_sessions(database, account.user.id)
    assert ws.revoked_at is not None
    (event,) = audit_events(database, action="auth.logout")
    assert event.actor_id == account.user.id


def test_expired_sessions_are_refused(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    login(client, account)
    now = utcnow()

    # past its absolute lifetime
    expire(database, client, expires_at=now - timedelta(seconds=1))
    api = client.get("/api/v1/me")
    assert api.status_code == 401
    assert "expired" in api.json()["error"]["message"]
    assert api.headers["www-authenticate"] == "Bearer"
    page = client.get("/account", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/account&expired=1"
    notice = client.get(page.headers["location"])
    assert "Your session has expired" in notice.text

    # idle for longer than the idle limit
    expire(
        database,
        client,
        expires_at=now + timedelta(hours=1),
        last_seen_at=now - timedelta(minutes=settings.session_idle_minutes, seconds=1),
    )
    assert client.get("/api/v1/me").status_code == 401
    page = client.get("/", follow_redirects=False)
    assert page.headers["location"] == "/login?next=/&expired=1"

    # a session in use is kept alive: a request moves last_seen_at forward
    idle_for = timedelta(minutes=settings.session_idle_minutes - 1)
    expire(database, client, last_seen_at=now - idle_for)
    assert client.get("/api/v1/me").status_code == 200
    live = cookie_session(database, client)
    assert live.last_seen_at > now - timedelta(minutes=1)


def test_disabling_a_user_ends_their_sessions(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    login(client, account)
    assert client.get("/api/v1/me").status_code == 200

    user_service.set_active(session, actor=Actor.system("test"), user=account.user, active=False)
    assert client.get("/api/v1/me").status_code == 401
    assert all(ws.revoked_at is not None for ws in web_sessions(database, account.user.id))
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")

    # and the password no longer opens one, with the usual answer
    refused = password_step(client, account.username, account.password)
    assert refused.status_code == 401
    assert "wrong username or password" in alert(refused)
    (event,) = audit_events(
        database, action="auth.login", outcome="failure", actor_id=account.user.id
    )
    assert details(event)["reason"] == "account disabled"


def test_a_live_session_of_a_disabled_user_is_refused(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    """Even if a session escaped revocation, a disabled account opens nothing."""
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    login(client, account)
    change(database, User, account.user.id, is_active=False)
    assert client.get("/api/v1/me").status_code == 401


def test_session_cookie_flags(client: TestClient, session: Session, settings: Settings) -> None:
    account = make_user(session, settings)
    page = client.get("/login")
    (anon,) = page.headers.get_list("set-cookie")
    assert anon.startswith("cs_csrf=")
    assert "HttpOnly" in anon
    assert "SameSite=strict" in anon
    assert "Secure" not in anon

    response = login(client, account)
    (cookie,) = response.headers.get_list("set-cookie")
    assert cookie.startswith("cs_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP outside production


def test_session_cookie_is_secure_in_production(
    tmp_path: Path, db_url: str, database: Database, session: Session, settings: Settings
) -> None:
    production = make_settings(tmp_path, db_url, env=Environment.PRODUCTION)
    assert production.cookie_secure
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    app = create_app(production, database)
    with TestClient(app, base_url="https://testserver") as c:
        page = c.get("/login")
        assert "Secure" in page.headers["set-cookie"]
        response = password_step(c, account.username, account.password)
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("cs_session=")
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert c.get("/api/v1/me").status_code == 200


# --- where a sign-in leads -----------------------------------------------------------------


OFF_SITE = [
    "//evil.example/phish",
    "https://evil.example/phish",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "evil.example",
]


def test_sign_in_never_redirects_off_site(
    client: TestClient, session: Session, settings: Settings
) -> None:
    trainee = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    for target in OFF_SITE:
        client.cookies.clear()
        response = password_step(client, trainee.username, trainee.password, next_path=target)
        assert response.status_code == 303
        assert response.headers["location"] == "/", target
        # signed in already, the sign-in page sends on, and only on site
        again = client.get("/login", params={"next": target}, follow_redirects=False)
        assert again.status_code == 303
        assert again.headers["location"] == "/", target


def test_next_survives_the_second_factor(
    client: TestClient, session: Session, settings: Settings
) -> None:
    account = make_user(session, settings)
    target = "/admin/users?role=admin&q=x"
    first = password_step(client, account.username, account.password, next_path=target)
    assert first.status_code == 303
    mfa_page = client.get(first.headers["location"])
    (carried,) = NEXT_RE.findall(mfa_page.text)
    assert html.unescape(carried) == target

    # the second step checks its own target too
    evil = code_step(client, account.code(), next_path="//evil.example")
    assert evil.headers["location"] == "/"


def test_sign_in_to_a_page_lands_on_it(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings)
    assert login(client, account, next_path="/account").headers["location"] == "/account"
    client.post("/logout", headers=csrf_headers(client))
    forget_totp_step(database, account)
    assert login(client, account, next_path="/audit?x=1").headers["location"] == "/audit?x=1"

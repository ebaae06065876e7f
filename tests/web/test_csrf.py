"""CSRF: every unsafe request that rides on a cookie must prove it comes from our own pages."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Permission, Role
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from factories import bearer, csrf_from, login, make_user
from security_helpers import (
    api_tokens,
    audit_events,
    csrf_headers,
    details,
    load_user,
    make_token,
    reuse_password_hashes,
)


@pytest.fixture(autouse=True)
def _fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    reuse_password_hashes(monkeypatch)


def test_form_post_needs_the_sessions_token(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    login(client, account)
    form = {"name": "from a form", "scopes": ["profile:read"], "days": "30"}

    missing = client.post("/account/tokens", data=form)
    assert missing.status_code == 403
    assert missing.headers["content-type"].startswith("text/html")
    assert 'data-testid="error-message"' in missing.text
    wrong = client.post("/account/tokens", data={**form, "csrf_token": "not-the-token"})
    assert wrong.status_code == 403
    assert api_tokens(database, account.user.id) == []

    events = audit_events(database, action="security.csrf_failed")
    assert len(events) == 2
    for event in events:
        assert event.outcome == "denied"
        assert event.actor_id == account.user.id  # the session's user, not "anonymous"
        assert details(event)["path"] == "/account/tokens"
        assert details(event)["method"] == "POST"

    # the token of the page lets the same form through
    token = csrf_from(client.get("/account").text)
    ok = client.post("/account/tokens", data={**form, "csrf_token": token})
    assert ok.status_code == 200
    assert len(api_tokens(database, account.user.id)) == 1


def test_cookie_authenticated_json_needs_the_header(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    login(client, account)
    body = {"name": "scripted", "scopes": ["profile:read"]}

    missing = client.post("/api/v1/tokens", json=body)
    assert missing.status_code == 403
    assert missing.json()["error"]["code"] == "csrf_failed"
    wrong = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    # a token in the body is not a header: JSON calls must send the header
    in_body = client.post("/api/v1/tokens", json={**body, "csrf_token": "x"})
    assert in_body.status_code == 403
    assert api_tokens(database, account.user.id) == []

    created = client.post("/api/v1/tokens", json=body, headers=csrf_headers(client))
    assert created.status_code == 201
    token_id = created.json()["id"]

    # DELETE is unsafe too
    assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 403
    assert api_tokens(database, account.user.id)[0].revoked_at is None
    revoked = client.delete(f"/api/v1/tokens/{token_id}", headers=csrf_headers(client))
    assert revoked.status_code == 200
    assert len(audit_events(database, action="security.csrf_failed")) == 4


def test_bearer_requests_need_no_csrf_token(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    admin = make_user(session, settings, role=Role.ADMIN, with_mfa=False)
    target = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    token = make_token(session, admin, Permission.USERS_READ, Permission.USERS_MANAGE)
    response = client.post(f"/api/v1/users/{target.user.id}/disable", headers=bearer(token))
    assert response.status_code == 200
    assert not load_user(database, target.user.id).is_active
    assert audit_events(database, action="security.csrf_failed") == []


def test_anonymous_json_is_refused_for_want_of_a_credential(client: TestClient) -> None:
    response = client.post("/api/v1/tokens", json={"name": "x", "scopes": ["profile:read"]})
    assert response.status_code == 401


def test_sign_in_form_needs_the_anonymous_token(
    app: FastAPI, client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    creds = {"username": account.username, "password": account.password}
    page = client.get("/login")
    token = csrf_from(page.text)
    assert client.cookies.get("cs_csrf") == token  # double submit: cookie and field agree

    no_field = client.post("/login", data=creds, follow_redirects=False)
    assert no_field.status_code == 403
    assert client.cookies.get("cs_session") is None

    # a token from another browser does not match this browser's cookie
    with TestClient(app) as other:
        foreign = csrf_from(other.get("/login").text)
    assert foreign != token
    mismatch = client.post("/login", data={**creds, "csrf_token": foreign}, follow_redirects=False)
    assert mismatch.status_code == 403

    # media types are case-insensitive: an odd spelling is still a form and still checked
    odd = client.post(
        "/login",
        content=f"username={account.username}&password={account.password}",
        headers={"Content-Type": "Application/X-WWW-Form-Urlencoded"},
        follow_redirects=False,
    )
    assert odd.status_code == 403

    # a body that is not a form carries no credentials at all
    plain = client.post(
        "/login",
        content=f"username={account.username}&password={account.password}",
        headers={"Content-Type": "text/plain"},
        follow_redirects=False,
    )
    assert plain.status_code != 303
    assert client.cookies.get("cs_session") is None

    # without the cookie, the field alone proves nothing
    client.cookies.clear()
    no_cookie = client.post("/login", data={**creds, "csrf_token": token}, follow_redirects=False)
    assert no_cookie.status_code == 403

    events = audit_events(database, action="security.csrf_failed")
    assert len(events) == 4
    assert {ev.actor for ev in events} == {"anonymous"}
    assert audit_events(database, action="auth.login") == []  # the password was never tried

    page = client.get("/login")
    ok = client.post(
        "/login", data={**creds, "csrf_token": csrf_from(page.text)}, follow_redirects=False
    )
    assert ok.status_code == 303


def test_logout_needs_the_token(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    login(client, account)
    forced = client.post("/logout", data={}, follow_redirects=False)
    assert forced.status_code == 403
    assert client.get("/api/v1/me").status_code == 200
    assert audit_events(database, action="auth.logout") == []


def test_second_factor_form_needs_the_token(
    client: TestClient, session: Session, settings: Settings
) -> None:
    account = make_user(session, settings, role=Role.INVESTIGATOR)
    page = client.get("/login")
    client.post(
        "/login",
        data={
            "username": account.username,
            "password": account.password,
            "csrf_token": csrf_from(page.text),
        },
    )
    forged = client.post("/mfa", data={"code": account.code()}, follow_redirects=False)
    assert forged.status_code == 403
    assert client.get("/api/v1/me").status_code == 401

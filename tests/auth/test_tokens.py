"""Personal API tokens: issued once from a browser session, stored hashed, scoped, revocable."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Permission, Role
from chainsleuth.auth.models import ApiToken, User
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.core.models import utcnow
from factories import bearer, login, make_user
from security_helpers import (
    api_tokens,
    audit_events,
    change,
    csrf_headers,
    details,
    make_token,
    reuse_password_hashes,
)


@pytest.fixture(autouse=True)
def _fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    reuse_password_hashes(monkeypatch)


def test_token_is_issued_once_and_stored_as_its_hash(
    app: FastAPI, client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.INVESTIGATOR)
    login(client, account)
    created = client.post(
        "/api/v1/tokens",
        json={"name": "  nightly export ", "scopes": ["users:read", "profile:read"], "days": 30},
        headers=csrf_headers(client),
    )
    assert created.status_code == 201
    body = created.json()
    token = body["token"]
    assert token.startswith("cs_")
    assert len(token) > 40
    assert body["prefix"] == token[:9]
    assert body["name"] == "nightly export"
    assert body["scopes"] == ["profile:read", "users:read"]

    # only the SHA-256 is kept; the token appears nowhere in the row
    (record,) = api_tokens(database, account.user.id)
    assert record.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(getattr(record, c.key)) for c in ApiToken.__table__.columns]
    assert not any(token in value for value in stored)
    assert record.expires_at - record.created_at == timedelta(days=30)

    listed = client.get("/api/v1/tokens").json()
    assert [t["id"] for t in listed] == [record.id]
    assert "token" not in listed[0]

    (event,) = audit_events(database, action="token.create", actor_id=account.user.id)
    assert details(event)["scopes"] == ["profile:read", "users:read"]
    assert token not in event.details

    # the token is a credential of its own: a client without cookies uses it
    with TestClient(app) as api:
        me = api.get("/api/v1/me", headers=bearer(token))
        assert me.status_code == 200
        assert me.json()["username"] == account.username
        assert me.json()["via"] == "api"
        assert me.json()["permissions"] == ["profile:read", "users:read"]
        assert api.get("/api/v1/users", headers=bearer(token)).status_code == 200
    (record,) = api_tokens(database, account.user.id)
    assert record.last_used_at is not None


def test_scopes_limit_what_a_token_may_do(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    admin = make_user(session, settings, role=Role.ADMIN, with_mfa=False)
    token = make_token(session, admin, Permission.PROFILE_READ)

    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    refused = client.get("/api/v1/users", headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert "users:read" in refused.json()["error"]["message"]
    (event,) = audit_events(database, action="access.denied", actor_id=admin.user.id)
    assert event.outcome == "denied"
    assert event.channel == "api"
    assert details(event)["path"] == "/api/v1/users"
    assert client.get("/api/v1/audit/events", headers=bearer(token)).status_code == 403


def test_a_token_cannot_carry_a_scope_its_owner_lacks(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.INVESTIGATOR)
    login(client, account)
    headers = csrf_headers(client)

    refused = client.post(
        "/api/v1/tokens",
        json={"name": "too much", "scopes": ["profile:read", "users:manage"]},
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid_input"
    assert "users:manage" in refused.json()["error"]["message"]

    unknown = client.post(
        "/api/v1/tokens", json={"name": "odd", "scopes": ["root:everything"]}, headers=headers
    )
    assert unknown.status_code == 422
    empty = client.post("/api/v1/tokens", json={"name": "none", "scopes": []}, headers=headers)
    assert empty.status_code == 422
    assert api_tokens(database, account.user.id) == []
    assert audit_events(database, action="token.create") == []


def test_a_token_loses_what_its_owners_role_loses(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    admin = make_user(session, settings, role=Role.ADMIN, with_mfa=False)
    token = make_token(session, admin, Permission.PROFILE_READ, Permission.USERS_MANAGE)
    change(database, User, admin.user.id, role=Role.INVESTIGATOR)
    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.json()["permissions"] == ["profile:read"]
    created = client.post(
        "/api/v1/users",
        json={
            "username": "newcomer",
            "email": "newcomer@example.org",
            "full_name": "New Comer",
            "role": "investigator",
            "password": "a-long-enough-passphrase",
        },
        headers=bearer(token),
    )
    assert created.status_code == 403


def test_revoked_token_is_refused(
    app: FastAPI, client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings)
    token = make_token(session, account, Permission.PROFILE_READ)
    (record,) = api_tokens(database, account.user.id)
    with TestClient(app) as api:
        assert api.get("/api/v1/me", headers=bearer(token)).status_code == 200

        login(client, account)
        revoked = client.delete(f"/api/v1/tokens/{record.id}", headers=csrf_headers(client))
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None

        refused = api.get("/api/v1/me", headers=bearer(token))
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "not_authenticated"
        assert refused.headers["www-authenticate"] == "Bearer"
    (event,) = audit_events(database, action="token.revoke")
    assert event.object_id == str(record.id)
    assert event.actor_id == account.user.id


def test_nobody_revokes_another_users_token(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    owner = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    other = make_user(session, settings, role=Role.ADMIN, with_mfa=False)
    token = make_token(session, owner, Permission.PROFILE_READ)
    (record,) = api_tokens(database, owner.user.id)
    admin_token = make_token(session, other, Permission.PROFILE_READ, Permission.USERS_MANAGE)

    refused = client.delete(f"/api/v1/tokens/{record.id}", headers=bearer(admin_token))
    assert refused.status_code == 404
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200


def test_expired_token_is_refused(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    token = make_token(session, account, Permission.PROFILE_READ, days=1)
    (record,) = api_tokens(database, account.user.id)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    change(database, ApiToken, record.id, expires_at=utcnow() - timedelta(seconds=1))
    refused = client.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 401
    assert "expired" in refused.json()["error"]["message"]


def test_a_token_cannot_create_tokens(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.INVESTIGATOR, with_mfa=False)
    token = make_token(session, account, Permission.PROFILE_READ, Permission.USERS_READ)
    refused = client.post(
        "/api/v1/tokens",
        json={"name": "child", "scopes": ["profile:read"]},
        headers=bearer(token),
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert len(api_tokens(database, account.user.id)) == 1
    (event,) = audit_events(database, action="access.denied", actor_id=account.user.id)
    assert details(event)["path"] == "/api/v1/tokens"


def test_disabled_users_token_is_refused(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    token = make_token(session, account, Permission.PROFILE_READ)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    change(database, User, account.user.id, is_active=False)
    refused = client.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 401
    assert "disabled" in refused.json()["error"]["message"]


def test_malformed_authorization_headers_are_refused(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    token = make_token(session, account, Permission.PROFILE_READ)
    for header in (
        f"Basic {token}",
        token,
        "Bearer",
        "Bearer ",
        "Bearer not-a-chainsleuth-token",
        "Bearer cs_" + "A" * 43,
        f"Bearer {token}x",
        f"Bearer {token[:-1]}",
    ):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["error"]["code"] == "not_authenticated"
    assert client.get("/api/v1/me", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_a_bad_token_is_not_rescued_by_a_session_cookie(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """With an Authorization header the cookie is not consulted (and CSRF is not either)."""
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    login(client, account)
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me", headers=bearer("cs_forged")).status_code == 401
    refused = client.delete("/api/v1/tokens/1", headers=bearer("cs_forged"))
    assert refused.status_code == 401


def test_session_and_token_views_of_own_tokens(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    account = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    token = make_token(session, account, Permission.PROFILE_READ, name="mine")
    other = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    make_token(session, other, Permission.PROFILE_READ, name="theirs")
    listed = client.get("/api/v1/tokens", headers=bearer(token)).json()
    assert [t["name"] for t in listed] == ["mine"]
    with database.session() as s:
        assert len(s.scalars(select(ApiToken)).all()) == 2

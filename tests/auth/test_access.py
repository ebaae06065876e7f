"""Who may see and do what: permissions per role, tenant isolation of users, administration."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from chainsleuth.auth import service as user_service
from chainsleuth.auth.enums import Permission, Role
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.orgs.models import Agency, Organisation
from factories import Account, bearer, login, make_agency, make_organisation, make_user
from security_helpers import (
    audit_events,
    csrf_headers,
    details,
    load_user,
    make_token,
    reuse_password_hashes,
    web_sessions,
)

READER = (Permission.PROFILE_READ, Permission.USERS_READ)
MISSING_ID = 999_999


@pytest.fixture(autouse=True)
def _fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    reuse_password_hashes(monkeypatch)


@dataclass
class People:
    agency_a: Agency
    agency_b: Agency
    org_o: Organisation
    org_p: Organisation
    admin: Account
    investigator: Account
    officer_a: Account
    trainee_a: Account
    officer_b: Account
    partner_o: Account
    partner_o2: Account
    partner_p: Account
    trainee: Account

    def everyone(self) -> set[str]:
        return {
            a.username
            for a in (
                self.admin,
                self.investigator,
                self.officer_a,
                self.trainee_a,
                self.officer_b,
                self.partner_o,
                self.partner_o2,
                self.partner_p,
                self.trainee,
            )
        }


@pytest.fixture
def people(session: Session, settings: Settings) -> People:
    agency_a, agency_b = make_agency(session), make_agency(session)
    org_o, org_p = make_organisation(session), make_organisation(session)

    def user(
        role: Role, agency: Agency | None = None, organisation: Organisation | None = None
    ) -> Account:
        return make_user(
            session, settings, role=role, agency=agency, organisation=organisation, with_mfa=False
        )

    return People(
        agency_a=agency_a,
        agency_b=agency_b,
        org_o=org_o,
        org_p=org_p,
        admin=user(Role.ADMIN),
        investigator=user(Role.INVESTIGATOR),
        officer_a=user(Role.LE_OFFICER, agency=agency_a),
        trainee_a=user(Role.TRAINEE, agency=agency_a),
        officer_b=user(Role.LE_OFFICER, agency=agency_b),
        partner_o=user(Role.PARTNER, organisation=org_o),
        partner_o2=user(Role.PARTNER, organisation=org_o),
        partner_p=user(Role.PARTNER, organisation=org_p),
        trainee=user(Role.TRAINEE),
    )


def usernames(response: Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {u["username"] for u in response.json()}


# --- tenant isolation ----------------------------------------------------------------------


def test_officer_sees_only_the_own_agency(
    client: TestClient, session: Session, people: People, database: Database
) -> None:
    token = bearer(make_token(session, people.officer_a, *READER))
    seen = usernames(client.get("/api/v1/users", headers=token))
    assert seen == {people.officer_a.username, people.trainee_a.username}

    colleague = client.get(f"/api/v1/users/{people.trainee_a.user.id}", headers=token)
    assert colleague.status_code == 200
    assert colleague.json()["agency_id"] == people.agency_a.id

    # another agency's officer and the exchange's staff do not exist, as far as A can tell
    missing = client.get(f"/api/v1/users/{MISSING_ID}", headers=token)
    assert missing.status_code == 404
    for hidden in (people.officer_b, people.investigator, people.partner_o):
        probe = client.get(f"/api/v1/users/{hidden.user.id}", headers=token)
        assert probe.status_code == 404
        assert probe.json() == missing.json()
        assert probe.headers["content-type"] == missing.headers["content-type"]

    # the probes of existing rows are audited as denials; the miss is not
    denied = audit_events(database, action="access.denied", actor_id=people.officer_a.user.id)
    assert [details(ev)["path"] for ev in denied] == [
        f"/api/v1/users/{people.officer_b.user.id}",
        f"/api/v1/users/{people.investigator.user.id}",
        f"/api/v1/users/{people.partner_o.user.id}",
    ]
    assert all(ev.outcome == "denied" and ev.channel == "api" for ev in denied)


def test_filters_do_not_widen_the_officers_view(
    client: TestClient, session: Session, people: People
) -> None:
    token = bearer(make_token(session, people.officer_a, *READER))
    officers = client.get("/api/v1/users", params={"role": "le_officer"}, headers=token)
    assert usernames(officers) == {people.officer_a.username}
    search = client.get("/api/v1/users", params={"q": people.officer_b.username}, headers=token)
    assert usernames(search) == set()


def test_partner_sees_only_the_own_organisation(
    client: TestClient, session: Session, people: People
) -> None:
    token = bearer(make_token(session, people.partner_o, *READER))
    seen = usernames(client.get("/api/v1/users", headers=token))
    assert seen == {people.partner_o.username, people.partner_o2.username}
    assert client.get(f"/api/v1/users/{people.partner_p.user.id}", headers=token).status_code == 404
    assert client.get(f"/api/v1/users/{people.officer_a.user.id}", headers=token).status_code == 404


def test_internal_staff_see_everyone(client: TestClient, session: Session, people: People) -> None:
    token = bearer(make_token(session, people.investigator, *READER))
    assert usernames(client.get("/api/v1/users", headers=token)) == people.everyone()
    other = client.get(f"/api/v1/users/{people.officer_b.user.id}", headers=token)
    assert other.status_code == 200
    assert other.json()["username"] == people.officer_b.username


def test_trainee_without_agency_sees_only_self(
    client: TestClient, session: Session, people: People, database: Database
) -> None:
    token = bearer(make_token(session, people.trainee, Permission.PROFILE_READ))
    me = client.get("/api/v1/me", headers=token)
    assert me.status_code == 200
    assert me.json()["username"] == people.trainee.username
    assert me.json()["permissions"] == ["profile:read"]
    # a trainee has no users:read at all
    assert client.get("/api/v1/users", headers=token).status_code == 403
    own = client.get(f"/api/v1/users/{people.trainee.user.id}", headers=token)
    assert own.status_code == 403
    # and the rows a trainee could be shown are the trainee's own
    with database.session() as s:
        viewer = load_user(database, people.trainee.user.id)
        assert [u.username for u in user_service.list_visible(s, viewer=viewer)] == [
            people.trainee.username
        ]


# --- permissions ---------------------------------------------------------------------------


def test_permission_denial_is_refused_and_audited(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    investigator = make_user(session, settings, role=Role.INVESTIGATOR)
    login(client, investigator)
    refused = client.post(
        "/api/v1/users",
        json={
            "username": "sneaky",
            "email": "sneaky@example.org",
            "full_name": "Sneaky",
            "role": "admin",
            "password": "a-long-enough-passphrase",
        },
        headers=csrf_headers(client),
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert "users:manage" in refused.json()["error"]["message"]
    with database.session() as s:
        assert user_service.get_by_username(s, "sneaky") is None
    (event,) = audit_events(database, action="access.denied", actor_id=investigator.user.id)
    assert event.outcome == "denied"
    assert event.channel == "web"
    assert details(event)["method"] == "POST"
    assert details(event)["path"] == "/api/v1/users"

    page = client.get("/admin/users")
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert 'data-testid="error-message"' in page.text
    assert "Traceback" not in page.text
    assert "chainsleuth." not in page.text  # no module paths either
    assert len(audit_events(database, action="access.denied")) == 2


def test_officer_cannot_manage_colleagues(
    client: TestClient, session: Session, people: People, database: Database
) -> None:
    token = bearer(make_token(session, people.officer_a, *READER))
    refused = client.post(f"/api/v1/users/{people.trainee_a.user.id}/disable", headers=token)
    assert refused.status_code == 403
    assert load_user(database, people.trainee_a.user.id).is_active


# --- user administration -------------------------------------------------------------------


def new_user(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "username": "new.officer",
        "email": "new.officer@agency.example",
        "full_name": "New Officer",
        "role": "le_officer",
        "password": "a-long-enough-passphrase",
    }
    body.update(overrides)
    return body


def test_admin_creates_users_through_the_api(
    client: TestClient, session: Session, people: People, database: Database
) -> None:
    token = bearer(make_token(session, people.admin, *READER, Permission.USERS_MANAGE))
    created = client.post(
        "/api/v1/users", json=new_user(agency_id=people.agency_a.id), headers=token
    )
    assert created.status_code == 201
    body = created.json()
    assert body["username"] == "new.officer"
    assert body["role"] == "le_officer"
    assert body["agency_id"] == people.agency_a.id
    assert body["mfa_enabled"] is False
    assert "password" not in str(body)
    (event,) = [
        ev for ev in audit_events(database, action="user.create") if ev.object_id == str(body["id"])
    ]
    assert event.actor_id == people.admin.user.id

    def refused(expected: int, **overrides: object) -> str:
        response = client.post("/api/v1/users", json=new_user(**overrides), headers=token)
        assert response.status_code == expected, response.text
        message: str = response.json()["error"]["message"]
        return message

    a = people.agency_a.id
    assert "taken" in refused(409, agency_id=a, email="other@agency.example")
    assert "exists" in refused(409, username="someone.else", agency_id=a)
    assert "12 characters" in refused(422, username="weak", email="w@x.example", password="short")
    assert "username" in refused(
        422, username="samename", email="s@x.example", password="my-samename-secret", agency_id=a
    )
    assert "agency" in refused(422, username="lost", email="l@x.example")
    assert "organisation" in refused(422, username="partner1", email="p@x.example", role="partner")
    assert refused(422, username="inv", email="i@x.example", role="investigator", agency_id=a)
    assert refused(422, username="Bad Name!", email="b@x.example", agency_id=a)
    # none of the refused ones exists
    seen = usernames(client.get("/api/v1/users", headers=token))
    assert seen == people.everyone() | {"new.officer"}


def test_admin_manages_accounts_and_each_change_is_audited(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    admin = make_user(session, settings, role=Role.ADMIN)
    target = make_user(session, settings, role=Role.INVESTIGATOR)
    tid = target.user.id
    login(client, admin)
    csrf = csrf_headers(client)

    disabled = client.post(f"/api/v1/users/{tid}/disable", headers=csrf)
    assert disabled.status_code == 200
    assert disabled.json()["is_active"] is False
    enabled = client.post(f"/api/v1/users/{tid}/enable", headers=csrf)
    assert enabled.json()["is_active"] is True
    reset = client.post(f"/api/v1/users/{tid}/reset-mfa", headers=csrf)
    assert reset.json()["mfa_enabled"] is False
    assert load_user(database, tid).mfa_secret is None
    unlocked = client.post(f"/api/v1/users/{tid}/unlock", headers=csrf)
    assert unlocked.status_code == 200

    for action in ("user.disable", "user.enable", "user.mfa_reset", "user.unlock"):
        (event,) = audit_events(database, action=action)
        assert event.actor_id == admin.user.id, action
        assert event.object_id == str(tid), action
        assert event.outcome == "success"

    # an administrator cannot lock themselves out
    own = client.post(f"/api/v1/users/{admin.user.id}/disable", headers=csrf)
    assert own.status_code == 422
    assert own.json()["error"]["code"] == "invalid_input"
    assert load_user(database, admin.user.id).is_active
    assert client.get("/api/v1/me").status_code == 200

    assert client.post(f"/api/v1/users/{MISSING_ID}/disable", headers=csrf).status_code == 404

    # the HTML admin page offers the same actions, and refuses unknown ones
    row = client.post(f"/admin/users/{tid}/disable", headers=csrf)
    assert row.status_code == 200
    assert not load_user(database, tid).is_active
    bogus = client.post(f"/admin/users/{tid}/promote", headers=csrf)
    assert bogus.status_code == 422
    assert len(audit_events(database, action="user.disable")) == 2


def test_disabling_through_the_api_signs_the_user_out(
    client: TestClient, session: Session, settings: Settings, database: Database
) -> None:
    admin = make_user(session, settings, role=Role.ADMIN, with_mfa=False)
    token = bearer(make_token(session, admin, *READER, Permission.USERS_MANAGE))
    victim = make_user(session, settings, role=Role.TRAINEE, with_mfa=False)
    login(client, victim)
    assert client.get("/api/v1/me").status_code == 200

    assert client.post(f"/api/v1/users/{victim.user.id}/disable", headers=token).status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    assert all(ws.revoked_at is not None for ws in web_sessions(database, victim.user.id))

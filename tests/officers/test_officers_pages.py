"""The agency registry pages and API (AGENCIES_MANAGE), the sign-up form's errors, the
outbox page (administrators, outside production)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.app import create_app
from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth import tokens as token_service
from chainsleuth.auth.enums import Permission, Role
from chainsleuth.core.config import Environment, Settings
from chainsleuth.core.db import Database
from chainsleuth.orgs.models import Agency
from factories import SYSTEM, Account, bearer, csrf_from, login, make_settings, make_user


def token(session: Session, account: Account, *perms: Permission) -> dict[str, str]:
    issued = token_service.create(
        session, actor=SYSTEM, user=account.user, name="t", scopes=list(perms), days=1
    )
    session.commit()
    return bearer(issued.token)


def test_agency_api(session: Session, settings: Settings, client: TestClient) -> None:
    admin = make_user(session, settings, role=Role.ADMIN)
    investigator = make_user(session, settings, role=Role.INVESTIGATOR)
    manage = token(session, admin, Permission.AGENCIES_MANAGE, Permission.ORGS_READ)
    read = token(session, investigator, Permission.ORGS_READ)
    body = {
        "name": "Financial Crime Unit",
        "country": "de",
        "jurisdiction_level": "regional",
        "email_domains": ["@FCU.Polizei.DE"],
        "callback_phone": "0049 30 4664 0",
        "contacts": [{"name": "Duty desk", "role": "24/7 desk", "phone": "+49 30 46640"}],
    }
    assert client.post("/api/v1/agencies", json=body, headers=read).status_code == 403
    created = client.post("/api/v1/agencies", json=body, headers=manage)
    assert created.status_code == 201, created.text
    agency = created.json()
    assert agency["country"] == "DE" and agency["email_domains"] == ["fcu.polizei.de"]
    assert agency["callback_phone"] == "+493046640" and agency["status"] == "active"
    assert agency["contacts"][0]["name"] == "Duty desk"

    got = client.get(f"/api/v1/agencies/{agency['id']}", headers=read)
    assert got.status_code == 200 and got.json()["jurisdiction_level"] == "regional"
    assert client.get("/api/v1/agencies/99999", headers=read).status_code == 404

    patched = client.patch(
        f"/api/v1/agencies/{agency['id']}",
        json={"status": "suspended", "callback_phone": None},
        headers=manage,
    )
    assert patched.status_code == 200
    assert patched.json()["status"] == "suspended" and patched.json()["callback_phone"] is None
    assert patched.json()["email_domains"] == ["fcu.polizei.de"]  # untouched
    listed = client.get("/api/v1/agencies?status=suspended", headers=read).json()
    assert [a["id"] for a in listed] == [agency["id"]]

    for bad, field in [
        ({"email_domains": ["outlook.com"]}, "webmail"),
        ({"callback_phone": "call me"}, "international form"),
        ({"jurisdiction_level": "galactic"}, "jurisdiction_level"),
    ]:
        refused = client.patch(f"/api/v1/agencies/{agency['id']}", json=bad, headers=manage)
        assert refused.status_code == 422 and field in refused.text, refused.text
    assert (
        client.patch(
            f"/api/v1/agencies/{agency['id']}", json={"status": "active"}, headers=read
        ).status_code
        == 403
    )
    duplicate = client.post("/api/v1/agencies", json=body, headers=manage)
    assert duplicate.status_code == 409
    actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert "agency.create" in actions and "agency.update" in actions
    assert "agency.suspend" in actions


def test_agency_pages(session: Session, settings: Settings, client: TestClient) -> None:
    admin = make_user(session, settings, role=Role.ADMIN)
    session.commit()
    login(client, admin)
    page = client.get("/admin/agencies")
    assert page.status_code == 200 and "Agency registry" in page.text
    csrf = csrf_from(page.text)
    created = client.post(
        "/admin/agencies",
        data={
            "csrf_token": csrf,
            "name": "Landeskriminalamt Test",
            "country": "DE",
            "jurisdiction_level": "regional",
            "domains": "lka.test.de, polizei.test.de",
            "callback_phone": "+49 30 1234567",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    detail = client.get(created.headers["location"])
    assert "the agency is registered" in detail.text.lower()
    agency = session.scalar(select(Agency).where(Agency.name == "Landeskriminalamt Test"))
    assert agency is not None
    assert agency.email_domains == ["lka.test.de", "polizei.test.de"]
    session.commit()

    webmail = client.post(
        "/admin/agencies",
        data={"csrf_token": csrf, "name": "Fake", "country": "DE", "domains": "gmail.com"},
    )
    assert webmail.status_code == 422 and "free webmail" in webmail.text

    url = f"/admin/agencies/{agency.id}"
    contact = client.post(
        f"{url}/contacts",
        data={"csrf_token": csrf, "name": "Anna Berg", "role": "liaison", "phone": "+4930111"},
    )
    assert contact.status_code == 200 and "Anna Berg" in contact.text
    saved = client.post(
        url,
        data={
            "csrf_token": csrf,
            "name": "Landeskriminalamt Test",
            "country": "DE",
            "jurisdiction_level": "regional",
            "domains": "lka.test.de",
            "callback_phone": "+49 30 7654321",
            "status": "suspended",
        },
    )
    assert saved.status_code == 200 and "the agency is saved" in saved.text.lower()
    session.refresh(agency)
    assert agency.status == "suspended" and agency.callback_phone == "+49307654321"
    assert [c.name for c in agency.contacts] == ["Anna Berg"]
    session.commit()
    removed = client.post(f"{url}/contacts/0/delete", data={"csrf_token": csrf})
    assert removed.status_code == 200 and "is removed" in removed.text
    assert client.post(f"{url}/contacts/5/delete", data={"csrf_token": csrf}).status_code == 404

    # an investigator may not manage agencies
    other = make_user(session, settings, role=Role.INVESTIGATOR)
    session.commit()
    client.cookies.clear()
    login(client, other)
    assert client.get("/admin/agencies").status_code == 403
    assert client.get("/admin/officers").status_code == 403
    assert client.get("/admin/outbox").status_code == 403


def test_signup_form_and_outbox(session: Session, settings: Settings, client: TestClient) -> None:
    page = client.get("/officers/signup")
    assert page.status_code == 200
    csrf = csrf_from(page.text)
    form = {"csrf_token": csrf, "full_name": "Joe Bloggs", "username": "joe.b"}
    unknown = client.post("/officers/signup", data={**form, "email": "joe@unknown.example"})
    assert unknown.status_code == 422 and "not an official e-mail domain" in unknown.text
    bad = client.post("/officers/signup", data={**form, "email": "not-an-address"})
    assert bad.status_code == 422 and "email" in bad.text
    # without the form's token the sign-up is refused
    forged = client.post("/officers/signup", data={**form, "csrf_token": "x", "email": "a@b.c"})
    assert forged.status_code == 403
    assert client.get("/officers/verify?token=" + "y" * 40).status_code == 404
    assert client.get("/officers/activate").status_code == 404

    admin = make_user(session, settings, role=Role.ADMIN)
    session.commit()
    login(client, admin)
    outbox = client.get("/admin/outbox")
    assert outbox.status_code == 200 and "The outbox is empty" in outbox.text
    officers = client.get("/admin/officers")
    assert officers.status_code == 200 and "No sign-ups" in officers.text


def test_the_outbox_page_is_not_there_in_production(
    tmp_path: Path, db_url: str, database: Database, session: Session, settings: Settings
) -> None:
    admin = make_user(session, settings, role=Role.ADMIN)
    session.commit()
    production = make_settings(tmp_path, db_url, env=Environment.PRODUCTION)
    with TestClient(create_app(production, database)) as client:
        headers = bearer(
            token_service.create(
                session,
                actor=SYSTEM,
                user=admin.user,
                name="t",
                scopes=[Permission.OFFICERS_APPROVE],
                days=1,
            ).token
        )
        session.commit()
        assert client.get("/api/v1/mail/outbox", headers=headers).status_code == 404
        assert client.get("/api/v1/officers", headers=headers).status_code == 200

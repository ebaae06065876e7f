"""Approval by an administrator only; no sign-in before approval and activation; MFA at the
first sign-in; re-verification when the verification lapses; the sender confidence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.app import create_app
from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth import service as user_service
from chainsleuth.auth import tokens as token_service
from chainsleuth.auth.enums import Permission, Role
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.core.errors import Conflict, InvalidInput, PermissionDenied
from chainsleuth.core.models import utcnow
from chainsleuth.officers import service as officer_service
from chainsleuth.officers.enums import ConfidenceRating, OfficerStatus
from chainsleuth.officers.models import Officer
from chainsleuth.officers.schemas import OfficerSignup
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.schemas import AgencyCreate, AgencyUpdate
from factories import (
    PASSWORD,
    SYSTEM,
    Account,
    bearer,
    csrf_from,
    login,
    make_agency,
    make_settings,
    make_user,
    make_verified_officer,
    outbox_link,
)


def api_token(session: Session, account: Account, *perms: Permission) -> dict[str, str]:
    issued = token_service.create(
        session, actor=SYSTEM, user=account.user, name="t", scopes=list(perms), days=1
    )
    return bearer(issued.token)


def post_login(client: TestClient, username: str, password: str) -> tuple[int, str, str]:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    return response.status_code, response.headers.get("location", ""), response.text


def test_the_whole_way_through_the_api(
    session: Session, settings: Settings, client: TestClient
) -> None:
    agency = org_service.create_agency(
        session,
        actor=SYSTEM,
        data=AgencyCreate(name="National Unit", country="NL", email_domains=["unit.politie.nl"]),
    )
    admin = make_user(session, settings, role=Role.ADMIN)
    investigator = make_user(session, settings, role=Role.INVESTIGATOR)
    admin_h = api_token(session, admin, Permission.OFFICERS_APPROVE)
    inv_h = api_token(session, investigator, Permission.REQUESTS_WORK)

    refused = client.post(
        "/api/v1/officers/signup",
        json={"full_name": "Eva Visser", "email": "eva@gmail.com", "username": "eva.visser"},
    )
    assert refused.status_code == 422
    assert "free webmail" in refused.json()["error"]["message"]

    created = client.post(
        "/api/v1/officers/signup",
        json={
            "full_name": "Eva Visser",
            "email": "eva@unit.politie.nl",
            "username": "eva.visser",
            "phone": "+31 20 123 4567",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "pending_verification" and body["agency"] == "National Unit"
    officer_id = body["id"]

    # nobody can sign in yet: there is no account
    assert post_login(client, "eva.visser", PASSWORD)[0] == 401
    # approval needs a verified address first, and the permission
    assert client.post(f"/api/v1/officers/{officer_id}/approve", headers=admin_h).status_code == 409

    token = outbox_link(session, settings, "eva@unit.politie.nl", "/officers/verify")
    verified = client.post("/api/v1/officers/verify", json={"token": token})
    assert verified.status_code == 200 and verified.json()["status"] == "pending_approval"
    again = client.post("/api/v1/officers/verify", json={"token": token})
    assert again.status_code == 422 and "used already" in again.json()["error"]["message"]

    assert client.post(f"/api/v1/officers/{officer_id}/approve", headers=inv_h).status_code == 403
    listed = client.get("/api/v1/officers?status=pending_approval", headers=admin_h)
    assert [o["id"] for o in listed.json()] == [officer_id]
    approved = client.post(
        f"/api/v1/officers/{officer_id}/approve", headers=admin_h, json={"note": "called desk"}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["user_id"]
    user = user_service.require_by_username(session, "eva.visser")
    assert user.role is Role.LE_OFFICER and user.agency_id == agency.id
    assert not officer_service.is_verified_sender(session, user_id=user.id)  # no MFA yet
    session.commit()

    # before activation the account's password is unknown to everyone
    assert post_login(client, "eva.visser", PASSWORD)[0] == 401
    activation = outbox_link(session, settings, "eva@unit.politie.nl", "/officers/activate")
    weak = client.post("/api/v1/officers/activate", json={"token": activation, "password": "short"})
    assert weak.status_code == 422
    done = client.post(
        "/api/v1/officers/activate", json={"token": activation, "password": PASSWORD}
    )
    assert done.status_code == 200, done.text

    # the first sign-in enrols a second factor
    status, location, _ = post_login(client, "eva.visser", PASSWORD)
    assert status == 303 and location.startswith("/mfa/enrol")
    approvals = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "officer.approve")
    )
    assert approvals == 1


def test_signed_up_officers_need_mfa_even_in_the_demo(
    tmp_path: Path, db_url: str, database: Database, session: Session, settings: Settings
) -> None:
    officer = make_verified_officer(session, settings, with_mfa=False)
    demo_settings = make_settings(tmp_path, db_url, demo=True)
    with TestClient(create_app(demo_settings, database)) as client:
        status, location, _ = post_login(client, officer.username, officer.password)
        assert status == 303 and location.startswith("/mfa/enrol")
        # an officer the administrator made by hand is not held to it in the demo
        plain = make_user(session, settings, role=Role.LE_OFFICER, with_mfa=False)
        client.cookies.clear()
        status, location, _ = post_login(client, plain.username, plain.password)
        assert status == 303 and location == "/"


def test_a_verified_officer_is_a_verified_sender(
    session: Session, settings: Settings, client: TestClient
) -> None:
    officer = make_verified_officer(session, settings)
    assert officer_service.is_verified_sender(session, user_id=officer.user.id)
    assert officer_service.sender_problems(session, user_id=officer.user.id) == []
    session.commit()
    login(client, officer)
    me = client.get("/api/v1/officers/me").json()
    assert me["verified_sender"] is True and me["officer"]["status"] == "approved"
    # an officer created by an administrator never went through the verification
    plain = make_user(session, settings, role=Role.LE_OFFICER)
    assert officer_service.sender_problems(session, user_id=plain.user.id) == [
        "never verified through the officer sign-up"
    ]
    investigator = make_user(session, settings)
    assert not officer_service.is_verified_sender(session, user_id=investigator.user.id)


def test_rejected_and_suspended(session: Session, settings: Settings, client: TestClient) -> None:
    officer = make_verified_officer(session, settings)
    agency = officer.user.agency
    assert agency is not None
    org_service.update_agency(
        session, actor=SYSTEM, agency_id=agency.id, data=AgencyUpdate(status="suspended")
    )
    assert not officer_service.is_verified_sender(session, user_id=officer.user.id)
    session.commit()
    status, _, text = post_login(client, officer.username, officer.password)
    assert status == 401 and "suspended" in text
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "agency.suspend")).all()
    assert len(events) == 1

    other = make_agency(session)
    pending = officer_service.signup(
        session,
        settings=settings,
        data=OfficerSignup(
            full_name="Rick Roe", email=f"rick@{other.email_domains[0]}", username="rick"
        ),
        base_url="http://t",
        ip=None,
    )
    with pytest.raises(InvalidInput, match="reason"):
        officer_service.reject(
            session, settings=settings, actor=SYSTEM, officer_id=pending.id, note=""
        )
    rejected = officer_service.reject(
        session,
        settings=settings,
        actor=SYSTEM,
        officer_id=pending.id,
        note="not known to the unit",
    )
    assert rejected.status == OfficerStatus.REJECTED


def test_reverification_when_the_verification_lapses(
    session: Session, settings: Settings, client: TestClient
) -> None:
    account = make_verified_officer(session, settings)
    officer = officer_service.officer_for_user(session, user_id=account.user.id)
    assert officer is not None
    assert officer_service.due(session, within_days=14) == []
    assert [o.id for o in officer_service.due(session, within_days=181)] == [officer.id]

    officer.verified_until = utcnow() - timedelta(minutes=1)
    session.commit()
    assert not officer_service.is_verified_sender(session, user_id=account.user.id)
    assert "lapsed" in " ".join(officer_service.sender_problems(session, user_id=account.user.id))
    session.commit()
    status, _, text = post_login(client, account.username, account.password)
    assert status == 401 and "lapsed" in text

    sent = officer_service.send_due_reverifications(
        session, settings=settings, actor=SYSTEM, base_url="http://t"
    )
    assert [o.id for o in sent] == [officer.id]
    # a second run sends nothing new while the link is live
    assert (
        officer_service.send_due_reverifications(
            session, settings=settings, actor=SYSTEM, base_url="http://t"
        )
        == []
    )
    token = outbox_link(session, settings, officer.email, "/officers/verify")
    officer_service.verify_email(session, token=token, ip=None)
    session.refresh(officer)
    assert officer.verified_until is not None and officer.verified_until > utcnow() + timedelta(
        days=179
    )
    assert officer_service.is_verified_sender(session, user_id=account.user.id)
    session.commit()
    status, location, _ = post_login(client, account.username, account.password)
    assert status == 303 and location.startswith("/mfa")

    # the public form answers the same for anyone, and mails only approved officers
    client.cookies.clear()
    answer = client.post("/api/v1/officers/reverify", json={"email": "nobody@nowhere.example"})
    assert answer.status_code == 202
    real = client.post("/api/v1/officers/reverify", json={"email": officer.email})
    assert real.status_code == 202 and real.json() == answer.json()


def test_sender_confidence(session: Session, settings: Settings, client: TestClient) -> None:
    account = make_verified_officer(session, settings)
    uid = account.user.id
    fresh = officer_service.sender_confidence(session, user_id=uid)
    assert fresh.rating is ConfidenceRating.LOW and fresh.verified_sender
    assert fresh.account_age_days == 0 and fresh.domain_match == "exact"
    assert any("day(s) old" in r for r in fresh.reasons)

    officer = session.scalar(select(Officer).where(Officer.user_id == uid))
    assert officer is not None
    officer.created_at = utcnow() - timedelta(days=120)
    session.commit()
    assert officer_service.sender_confidence(session, user_id=uid).rating is ConfidenceRating.MEDIUM
    high = officer_service.sender_confidence(session, user_id=uid, requests_made=7)
    assert high.rating is ConfidenceRating.HIGH and high.requests_made == 7

    officer_service.record_verification_failure(
        session, user_id=uid, kind="callback", actor=SYSTEM, note="desk did not know the case"
    )
    session.commit()
    low = officer_service.sender_confidence(session, user_id=uid, requests_made=7)
    assert low.rating is ConfidenceRating.LOW and low.callback_failures == 1
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "officer.verification_failure")
        )
        == 1
    )

    plain = make_user(session, settings, role=Role.LE_OFFICER)
    assert (
        officer_service.sender_confidence(session, user_id=plain.user.id).rating
        is ConfidenceRating.UNVERIFIED
    )
    reviewer = make_user(session, settings, role=Role.LEGAL_REVIEWER)
    session.commit()
    seen = client.get(
        f"/api/v1/senders/{uid}/confidence",
        headers=api_token(session, reviewer, Permission.REQUESTS_WORK),
    )
    assert seen.status_code == 200 and seen.json()["rating"] == "low"
    assert (
        client.get(
            f"/api/v1/senders/{uid}/confidence",
            headers=api_token(session, account, Permission.PROFILE_READ),
        ).status_code
        == 403
    )


def test_agency_scope(session: Session, settings: Settings) -> None:
    class P:
        def __init__(self, account: Account) -> None:
            self.user = account.user

    officer = make_verified_officer(session, settings)
    assert officer_service.agency_scope(P(officer)) == officer.user.agency_id
    assert officer_service.agency_scope(P(make_user(session, settings))) is None
    assert officer_service.in_scope(P(officer), officer.user.agency_id)
    assert not officer_service.in_scope(P(officer), (officer.user.agency_id or 0) + 1)
    with pytest.raises(PermissionDenied):
        officer_service.agency_scope(P(make_user(session, settings, role=Role.PARTNER)))


def test_the_link_between_sign_up_and_account_survives_a_lost_commit(
    session: Session, settings: Settings
) -> None:
    account = make_verified_officer(session, settings)
    officer = officer_service.officer_for_user(session, user_id=account.user.id)
    assert officer is not None
    officer.user_id = None  # as if approval's second commit had been lost
    session.commit()
    found = officer_service.officer_for_user(session, user_id=account.user.id)
    assert found is not None and found.id == officer.id
    assert officer_service.is_verified_sender(session, user_id=account.user.id)


def test_no_approval_for_a_suspended_agency(session: Session, settings: Settings) -> None:
    agency = make_agency(session)
    pending = officer_service.signup(
        session,
        settings=settings,
        data=OfficerSignup(
            full_name="Max Mo", email=f"max@{agency.email_domains[0]}", username="max"
        ),
        base_url="http://t",
        ip=None,
    )
    officer_service.verify_email(
        session, token=outbox_link(session, settings, pending.email, "/officers/verify"), ip=None
    )
    org_service.update_agency(
        session, actor=SYSTEM, agency_id=agency.id, data=AgencyUpdate(status="suspended")
    )
    with pytest.raises(Conflict, match="suspended"):
        officer_service.approve(
            session, settings=settings, actor=SYSTEM, officer_id=pending.id, base_url="http://t"
        )
    session.rollback()
    assert officer_service.require_officer(session, pending.id).status == "pending_approval"
    assert user_service.get_by_username(session, "max") is None

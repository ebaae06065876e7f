"""The workflow: every step audited, invalid steps 409 with the reason, the four-eyes and
call-back rules of emergency/freeze/seizure requests, verified senders only, messages,
the customer-notification state machine, and per-agency isolation (404)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from request_helpers import Actor, move, submit, verified_officer
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.audit.service import Actor as AuditActor
from chainsleuth.core.config import Settings
from chainsleuth.officers.models import MailMessage, Officer, VerificationFailure
from chainsleuth.requests import notify
from chainsleuth.requests.models import LeRequest, LeRequestDocument

SYSTEM = AuditActor.system("test")


def _to_review(client: TestClient, inv: Actor, rid: int) -> None:
    for status, extra in (
        ("triage", {}),
        ("assigned", {"assignee_id": inv.id}),
        ("gathering", {}),
        ("legal_review", {}),
    ):
        r = move(client, inv, rid, status, **extra)
        assert r.status_code == 200, r.text


def test_an_information_request_goes_through_the_workflow_with_every_step_audited(
    client: TestClient, session: Session, officer: Actor, investigator: Actor, reviewer: Actor
) -> None:
    rid = submit(client, officer).json()["id"]
    r = move(client, investigator, rid, "gathering")
    assert r.status_code == 409
    assert "received cannot move to gathering" in r.json()["error"]["message"]
    assert move(client, investigator, rid, "triage").status_code == 200
    r = move(client, investigator, rid, "assigned")
    assert r.status_code == 422 and "assignee" in r.json()["error"]["message"]
    r = move(client, investigator, rid, "assigned", assignee_id=officer.id)
    assert r.status_code == 422  # an officer is not staff
    body = move(client, investigator, rid, "assigned", assignee_id=investigator.id).json()
    assert body["assignee"] == investigator.account.user.full_name
    assert move(client, investigator, rid, "gathering").status_code == 200
    assert move(client, investigator, rid, "legal_review").status_code == 200
    # an investigator cannot take the legal decision; officers cannot move anything
    r = move(client, investigator, rid, "approved")
    assert r.status_code == 403 and "legal reviewer" in r.json()["error"]["message"]
    assert move(client, officer, rid, "closed").status_code == 403
    r = move(client, reviewer, rid, "approved")
    assert r.status_code == 409 and "1 distinct approvers" in r.json()["error"]["message"]
    r = client.post(
        f"/api/v1/requests/{rid}/approvals", json={"note": "lawful"}, headers=reviewer.headers
    )
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert move(client, investigator, rid, "delivered").json()["status"] == "delivered"
    r = move(client, investigator, rid, "legal_review")
    assert r.status_code == 409
    assert move(client, investigator, rid, "closed").json()["status"] == "closed"
    r = move(client, investigator, rid, "triage")
    assert r.status_code == 409 and "none (it is closed)" in r.json()["error"]["message"]
    steps = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "request.transition", AuditEvent.object_id == str(rid))
        .order_by(AuditEvent.seq)
    ).all()
    import json

    assert [json.loads(e.details)["to"] for e in steps] == [
        "triage",
        "assigned",
        "gathering",
        "legal_review",
        "approved",
        "delivered",
        "closed",
    ]
    req = session.get(LeRequest, rid)
    assert req and req.responded_at and req.closed_at and not req.is_open


def test_emergency_requests_need_a_call_back_and_two_distinct_approvers(
    client: TestClient,
    session: Session,
    officer: Actor,
    investigator: Actor,
    reviewer: Actor,
    reviewer2: Actor,
) -> None:
    rid = submit(client, officer, type="emergency_disclosure").json()["id"]
    _to_review(client, investigator, rid)
    url = f"/api/v1/requests/{rid}"
    r = client.post(f"{url}/approvals", json={}, headers=reviewer.headers)
    assert r.status_code == 200 and r.json()["status"] == "legal_review"  # recorded, not enough
    r = client.post(f"{url}/approvals", json={}, headers=reviewer.headers)
    assert r.status_code == 409 and "second person" in r.json()["error"]["message"]
    r = move(client, reviewer, rid, "approved")
    assert r.status_code == 409 and "call-back" in r.json()["error"]["message"]
    # investigators cannot record a call-back
    callback = {
        "phone_number": "+44 20 7946 0000",
        "contact_name": "Duty desk",
        "outcome": "confirmed",
    }
    assert (
        client.post(f"{url}/verifications", json=callback, headers=investigator.headers).status_code
        == 403
    )
    r = client.post(f"{url}/verifications", json=callback, headers=reviewer.headers)
    assert r.status_code == 201 and r.json()["outcome"] == "confirmed"
    r = move(client, reviewer, rid, "approved")
    assert (
        r.status_code == 409 and "2 distinct approvers (1 so far)" in r.json()["error"]["message"]
    )
    r = client.post(f"{url}/approvals", json={"note": "ok"}, headers=reviewer2.headers)
    assert r.json()["status"] == "approved"
    detail = client.get(url, headers=reviewer.headers).json()
    assert detail["verification_state"] == "confirmed" and len(detail["approvals"]) == 2
    assert move(client, investigator, rid, "delivered").json()["status"] == "delivered"


def test_a_failed_call_back_blocks_the_request_and_counts_against_the_sender(
    client: TestClient,
    session: Session,
    officer: Actor,
    investigator: Actor,
    reviewer: Actor,
    reviewer2: Actor,
) -> None:
    rid = submit(client, officer, type="freeze_order").json()["id"]
    _to_review(client, investigator, rid)
    url = f"/api/v1/requests/{rid}"
    failed = {
        "phone_number": "+442079460000",
        "contact_name": "Switchboard",
        "outcome": "failed",
        "note": "agency has no such officer",
    }
    assert (
        client.post(f"{url}/verifications", json=failed, headers=reviewer.headers).status_code
        == 201
    )
    for who in (reviewer, reviewer2):
        client.post(f"{url}/approvals", json={}, headers=who.headers)
    detail = client.get(url, headers=reviewer.headers).json()
    assert detail["status"] == "legal_review" and detail["verification_state"] == "failed"
    r = move(client, reviewer, rid, "approved")
    assert r.status_code == 409 and "call-back failed" in r.json()["error"]["message"]
    confirm = dict(failed, outcome="confirmed")
    assert (
        client.post(f"{url}/verifications", json=confirm, headers=reviewer.headers).status_code
        == 409
    )
    detail = client.get(url, headers=reviewer.headers).json()
    failures = session.scalars(
        select(VerificationFailure).where(VerificationFailure.user_id == officer.id)
    ).all()
    assert [f.kind for f in failures] == ["callback"]
    assert detail["sender_confidence"]["callback_failures"] == 1
    session.rollback()
    r = client.post(f"{url}/approvals", json={"decision": "reject"}, headers=reviewer.headers)
    assert r.status_code == 409  # decided already


def test_a_request_from_a_sender_no_longer_verified_can_never_be_delivered(
    client: TestClient, session: Session, officer: Actor, investigator: Actor, reviewer: Actor
) -> None:
    rid = submit(client, officer).json()["id"]
    _to_review(client, investigator, rid)
    client.post(f"/api/v1/requests/{rid}/approvals", json={}, headers=reviewer.headers)
    record = session.scalars(select(Officer).where(Officer.user_id == officer.id)).one()
    record.verified_until = datetime.now(UTC) - timedelta(days=1)  # re-verification lapsed
    session.commit()
    session.rollback()
    r = move(client, investigator, rid, "delivered")
    assert r.status_code == 409 and "not a verified officer" in r.json()["error"]["message"]
    req = session.get(LeRequest, rid)
    assert req and req.status == "approved" and req.responded_at is None
    session.rollback()
    assert (
        client.get(f"/api/v1/requests/{rid}", headers=reviewer.headers).json()["sender_verified"]
        is False
    )


def test_messages_go_both_ways_and_are_audited(
    client: TestClient, session: Session, officer: Actor, investigator: Actor
) -> None:
    rid = submit(client, officer).json()["id"]
    url = f"/api/v1/requests/{rid}/messages"
    r = client.post(url, json={"body": "Please add the date range."}, headers=investigator.headers)
    assert r.status_code == 201 and r.json()["direction"] == "to_agency"
    r = client.post(url, json={"body": "From 2024-01-01."}, headers=officer.headers)
    assert r.json()["direction"] == "from_agency"
    assert client.post(url, json={"body": "  "}, headers=officer.headers).status_code == 422
    thread = client.get(url, headers=officer.headers).json()
    assert [m["body"] for m in thread] == ["Please add the date range.", "From 2024-01-01."]
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "request.message")).all()
    assert len(events) == 2


def test_an_officer_of_another_agency_gets_404_on_every_object_endpoint(
    client: TestClient, session: Session, settings: Settings, officer: Actor
) -> None:
    ack = submit(client, officer).json()
    rid = ack["id"]
    doc_id = session.scalars(
        select(LeRequestDocument.id).where(LeRequestDocument.request_id == rid)
    ).one()
    session.rollback()
    other = verified_officer(session, settings)
    base = f"/api/v1/requests/{rid}"
    calls = [
        ("GET", base, None),
        ("GET", f"{base}/documents/{doc_id}", None),
        ("GET", f"{base}/messages", None),
        ("POST", f"{base}/messages", {"body": "hello"}),
    ]
    for method, url, body in calls:
        r = client.request(method, url, json=body, headers=other.headers)
        assert r.status_code == 404, (method, url, r.text)
        # the owner gets through
        ok = client.request(method, url, json=body, headers=officer.headers)
        assert ok.status_code in (200, 201), (method, url, ok.text)
    # staff-only endpoints: 403 for any officer (no request is named)
    for url, body in (
        (f"{base}/transitions", {"status": "triage"}),
        (
            f"{base}/verifications",
            {"phone_number": "+4420000000", "contact_name": "x", "outcome": "confirmed"},
        ),
        (f"{base}/approvals", {}),
    ):
        assert client.post(url, json=body, headers=other.headers).status_code == 403
    listed = client.get("/api/v1/requests", headers=other.headers).json()["items"]
    assert listed == []
    assert (
        client.get(
            "/api/v1/requests", params={"q": ack["reference"]}, headers=other.headers
        ).json()["items"]
        == []
    )
    denials = session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert len(denials) >= 4


def test_customer_notification_state_machine(
    client: TestClient,
    session: Session,
    settings: Settings,
    officer: Actor,
    investigator: Actor,
    reviewer: Actor,
    reviewer2: Actor,
) -> None:
    until = datetime.now(UTC) + timedelta(days=30)
    plain = submit(client, officer).json()["id"]
    gagged = submit(
        client, officer, nondisclosure="true", nondisclosure_until=until.isoformat()
    ).json()["id"]
    emergency = submit(client, officer, type="emergency_disclosure").json()["id"]
    refused = submit(client, officer).json()["id"]

    def state(rid: int) -> str:
        detail = client.get(f"/api/v1/requests/{rid}", headers=reviewer.headers).json()
        return str(detail["notification_state"])

    assert [state(x) for x in (plain, gagged, emergency)] == ["queued", "held", "deferred"]
    cb = {"phone_number": "+442079460000", "contact_name": "Desk", "outcome": "confirmed"}
    for rid in (plain, gagged, emergency):
        _to_review(client, investigator, rid)
        if rid == emergency:
            client.post(f"/api/v1/requests/{rid}/verifications", json=cb, headers=reviewer.headers)
            client.post(f"/api/v1/requests/{rid}/approvals", json={}, headers=reviewer2.headers)
        client.post(f"/api/v1/requests/{rid}/approvals", json={}, headers=reviewer.headers)
        assert move(client, investigator, rid, "delivered").status_code == 200
    assert move(client, investigator, refused, "rejected").status_code == 403
    client.post(
        f"/api/v1/requests/{refused}/transitions",
        json={"status": "rejected"},
        headers=reviewer.headers,
    )
    assert state(refused) == "cancelled"

    # delivered without a package: no customer's records are known to have been disclosed,
    # so there is nobody to notify (the package tests send real notices)
    run = notify.process_notifications(session, actor=SYSTEM, settings=settings)
    assert (run.requeued, run.sent, run.cancelled) == (0, 0, 1)
    assert [state(x) for x in (plain, gagged, emergency)] == ["cancelled", "held", "deferred"]
    # the non-disclosure order ends: re-queued, then due at once (the request was delivered)
    later = until + timedelta(minutes=1)
    run = notify.process_notifications(session, actor=SYSTEM, settings=settings, now=later)
    assert (run.requeued, run.cancelled) == (1, 1)
    assert state(gagged) == "cancelled"
    # the emergency is deferred until it is closed, then re-queued
    assert move(client, investigator, emergency, "closed").status_code == 200
    assert state(emergency) == "queued"
    run = notify.process_notifications(session, actor=SYSTEM, settings=settings)
    assert run.cancelled == 1 and state(emergency) == "cancelled"
    assert notify.process_notifications(session, actor=SYSTEM, settings=settings).total == 0
    cancelled = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "request.notification_cancelled")
    ).all()
    assert len(cancelled) == 3
    notices = select(MailMessage).where(MailMessage.template == notify.TEMPLATE)
    assert session.scalars(notices).all() == []

"""Customer notification after a real delivery: the customers whose records the package
produced get a notice mail in the outbox (to the e-mail of their KYC record), audited and
shown on the request; a non-disclosure order holds it until it ends; the CLI runs it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from packages_helpers import Caller, approve_request, submit, to_review, with_token
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chainsleuth.audit.models import AuditEvent
from chainsleuth.audit.service import Actor
from chainsleuth.auth.enums import Role
from chainsleuth.cli import app as cli_app
from chainsleuth.core.config import Settings
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.models import Customer, Deposit
from chainsleuth.officers import mail
from chainsleuth.requests import notify
from chainsleuth.requests.models import LeRequest, LeRequestNotice
from factories import make_user, make_verified_officer

SYSTEM = Actor.system("test-notify")


def _deliver(
    client: TestClient, investigator: Caller, reviewer: Caller, rid: int, categories: set[str]
) -> None:
    to_review(client, investigator, rid)
    r = client.post(f"/api/v1/requests/{rid}/gatherings", headers=investigator.headers)
    assert r.status_code == 201, r.text
    g = r.json()
    ids = [i["id"] for i in g["items"] if i["category"] in categories]
    r = client.put(f"/api/v1/gatherings/{g['id']}/selection", json={"item_ids": ids},
                   headers=investigator.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    approve_request(client, reviewer, rid)
    r = client.post(f"/api/v1/gatherings/{g['id']}/approve", headers=reviewer.headers)
    assert r.status_code == 201, r.text


def test_a_delivered_request_notifies_its_customers_by_mail(
    client: TestClient, session: Session, settings: Settings, imported: Path, cli_env: Settings
) -> None:
    officer = with_token(session, make_verified_officer(session, settings))
    investigator = with_token(session, make_user(session, settings, role=Role.INVESTIGATOR))
    reviewer = with_token(session, make_user(session, settings, role=Role.LEGAL_REVIEWER))
    cid = session.scalar(select(Deposit.customer_id).order_by(Deposit.customer_id))
    assert cid
    customer = session.get(Customer, cid)
    assert customer is not None
    keys = exchange_service.keys_for(settings)
    email = keys.decrypt(customer.kyc, customer.kyc_key_version)["email"].lower()
    session.commit()

    until = datetime.now(UTC) + timedelta(days=60)
    plain = submit(client, officer, f"customer_id: {cid}\n")
    gagged = submit(client, officer, f"customer_id: {cid}\n", nondisclosure="true",
                    nondisclosure_until=until.isoformat())  # fmt: skip
    _deliver(client, investigator, reviewer, plain, {"deposits", "kyc"})
    _deliver(client, investigator, reviewer, gagged, {"logins"})

    def state(rid: int) -> str:
        detail = client.get(f"/api/v1/requests/{rid}", headers=reviewer.headers).json()
        return str(detail["notification_state"])

    assert (state(plain), state(gagged)) == ("queued", "held")
    run = notify.process_notifications(session, actor=SYSTEM, settings=settings)
    assert (run.sent, run.mails, run.requeued, run.cancelled) == (1, 1, 0, 0)
    assert (state(plain), state(gagged)) == ("sent", "held")

    mails = [m for m in mail.outbox(session, settings=settings, to=email)
             if m.template == notify.TEMPLATE]  # fmt: skip
    assert len(mails) == 1
    req = session.get(LeRequest, plain)
    assert req is not None and req.notified_at is not None
    assert req.reference in mails[0].body
    assert "KYC record" in mails[0].body and "Deposits" in mails[0].body
    assert "Logins" not in mails[0].body  # only what this request produced
    notice = session.scalar(select(LeRequestNotice).where(LeRequestNotice.request_id == plain))
    assert notice is not None and notice.mail_id == mails[0].id and notice.outcome == "mailed"
    assert notice.to_masked and email not in notice.to_masked
    event = session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "request.customer_notified", AuditEvent.object_id == str(plain)
        )
    )
    assert event is not None and json.loads(event.details)["mailed"] == {cid: mails[0].id}
    session.rollback()

    # the request's API detail and page show the notice
    detail = client.get(f"/api/v1/requests/{plain}", headers=reviewer.headers).json()
    assert [n["customer_id"] for n in detail["notices"]] == [cid]
    assert [s["state"] for s in detail["notification_steps"]] == ["queued", "sent"]
    page = client.get(f"/requests/{plain}", headers=reviewer.headers)
    assert page.status_code == 200 and f'data-testid="notice-{cid}"' in page.text
    # the officer's view carries none of it
    mine = client.get(f"/api/v1/requests/{plain}", headers=officer.headers).json()
    assert mine["notices"] is None and mine["notification_steps"] is None

    # nothing more is due until the non-disclosure order ends; then the CLI sends it
    assert notify.process_notifications(session, actor=SYSTEM, settings=settings).total == 0
    held = session.get(LeRequest, gagged)
    assert held is not None
    held.nondisclosure_until = held.notification_due_at = datetime.now(UTC) - timedelta(minutes=1)
    session.commit()
    result = CliRunner().invoke(cli_app, ["requests", "notify-due"])
    assert result.exit_code == 0, result.output
    assert "1 re-queued, 1 sent (1 mail(s))" in result.output
    assert state(gagged) == "sent"
    mails = [m for m in mail.outbox(session, settings=settings, to=email)
             if m.template == notify.TEMPLATE]  # fmt: skip
    assert len(mails) == 2 and "Logins" in mails[0].body
    session.rollback()

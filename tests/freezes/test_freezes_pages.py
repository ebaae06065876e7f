"""The freeze pages without a browser: who sees them, the form's refusals as a page with the
reason (and an audit entry), the "Freeze account" action on a customer's page only for those
who may request one."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from chainsleuth.core.models import utcnow
from factories import csrf_from, login, make_user
from funds_helpers import make_case, make_customer


def test_pages_forms_and_permissions(
    client: TestClient, session: Session, settings: Settings
) -> None:
    customer = make_customer(session, settings, {"BTC": 10**8})
    case_id = make_case(session)
    officer = make_user(session, settings, role=Role.LE_OFFICER)
    analyst = make_user(session, settings, role=Role.COMPLIANCE_ANALYST)
    investigator = make_user(session, settings, role=Role.INVESTIGATOR)
    session.commit()
    cid = customer.id  # read once: SQLite must see no open transaction of ours later

    login(client, officer)
    assert client.get("/freezes").status_code == 403
    assert client.get(f"/freezes/new?customer={cid}").status_code == 403
    client.cookies.clear()

    login(client, analyst)
    page = client.get(f"/customers/{cid}")
    assert page.status_code == 200 and 'data-testid="freeze-account"' not in page.text
    assert client.get("/freezes").status_code == 200
    assert client.get("/freezes/12345").status_code == 404
    assert client.get("/freezes?due=soon").status_code == 422
    client.cookies.clear()

    login(client, investigator)
    page = client.get(f"/customers/{cid}")
    assert 'data-testid="freeze-account"' in page.text
    form = client.get(f"/freezes/new?customer={cid}")
    assert form.status_code == 200 and f"{cid}-BTC" in form.text
    fields = {
        "csrf_token": csrf_from(form.text),
        "customer_id": cid,
        "scope": "amount",
        "exchange_account_id": f"{cid}-BTC",
        "amount": "0.25",
        "reason": "scam proceeds",
        "expires_at": (utcnow() + timedelta(days=30)).date().isoformat(),
    }
    refused = client.post("/freezes", data=fields)
    assert refused.status_code == 422
    assert "exactly one legal basis" in refused.text
    assert 'value="0.25"' in refused.text  # the form keeps what was typed
    session.expire_all()
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "freeze.request"))
    assert [e.outcome for e in events] == ["failure"]
    session.rollback()

    done = client.post("/freezes", data={**fields, "case_id": str(case_id)}, follow_redirects=False)
    assert done.status_code == 303, done.text
    page = client.get(done.headers["location"])
    assert "Freeze requested" in page.text and "25,000,000" not in page.text
    assert 'data-testid="own-request"' in page.text
    assert 'data-testid="approve"' not in page.text
    register = client.get("/freezes?status=pending")
    assert cid in register.text and "freeze awaiting approval" in register.text
    assert cid not in client.get("/freezes?status=active").text.split("<tbody>")[1]

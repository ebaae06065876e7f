"""The freezes API: request, approve, reject, release, extend, seize, list, get; permissions
(officers 403, investigators cannot approve, a legal reviewer cannot approve their own) and
bad input as 4xx with a reason and an audit entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth.enums import Permission, Role
from chainsleuth.core.config import Settings
from chainsleuth.core.models import utcnow
from chainsleuth.ledger import service as ledger
from factories import bearer, make_agency, make_user
from funds_helpers import ETH_WALLET, make_case, make_customer
from security_helpers import make_token

WEI = 10**18
ALL = (Permission.FREEZES_READ, Permission.FREEZES_REQUEST, Permission.FREEZES_APPROVE)


def headers(session: Session, settings: Settings, role: Role) -> dict[str, str]:
    account = make_user(session, settings, role=role, with_mfa=False)
    scopes = [p for p in ALL if role is Role.ADMIN or p.value in _granted(role)]
    return bearer(make_token(session, account, *(scopes or [Permission.PROFILE_READ])))


def _granted(role: Role) -> set[str]:
    from chainsleuth.auth.enums import ROLE_PERMISSIONS

    return {p.value for p in ROLE_PERMISSIONS[role]}


@pytest.fixture
def setup(session: Session, settings: Settings) -> dict:
    customer = make_customer(session, settings, {"ETH": 12 * WEI, "BTC": 0})
    out = {
        "inv": headers(session, settings, Role.INVESTIGATOR),
        "rev": headers(session, settings, Role.LEGAL_REVIEWER),
        "adm": headers(session, settings, Role.ADMIN),
        "customer": customer.id,
        "case": make_case(session),
        "agency": make_agency(session).id,
    }
    session.commit()
    return out


def body(s: dict, **overrides: object) -> dict:
    values: dict[str, object] = {
        "customer_id": s["customer"].lower(),
        "scope": "amount",
        "asset": "ETH",
        "amount": 10 * WEI,
        "case_id": s["case"],
        "reason": "proceeds of a romance scam",
        "expires_at": (utcnow() + timedelta(days=90)).isoformat(),
    }
    values.update(overrides)
    return values


def test_request_approve_seize_over_the_api(
    client: TestClient, session: Session, setup: dict
) -> None:
    s = setup
    r = client.post("/api/v1/freezes", json=body(s), headers=s["inv"])
    assert r.status_code == 201, r.text
    freeze = r.json()
    fid = freeze["id"]
    assert freeze["status"] == "pending" and freeze["actions"][0]["kind"] == "freeze"
    assert freeze["customer_id"] == s["customer"]

    r = client.post(f"/api/v1/freezes/{fid}/approve", json={}, headers=s["inv"])
    assert r.status_code == 403  # investigators do not approve
    r = client.post(f"/api/v1/freezes/{fid}/approve", json={"note": "ok"}, headers=s["rev"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    got = client.get(f"/api/v1/freezes/{fid}", headers=s["inv"]).json()
    assert got["status"] == "active"
    assert got["held"][0]["held"] == 10 * WEI and got["held"][0]["held_display"] == "10 ETH"

    r = client.post(
        f"/api/v1/freezes/{fid}/seize",
        json={"agency_id": s["agency"], "wallet_address": ETH_WALLET, "amount": 11 * WEI},
        headers=s["inv"],
    )
    assert r.status_code == 422 and "holds only" in r.json()["error"]["message"]
    r = client.post(
        f"/api/v1/freezes/{fid}/seize",
        json={"agency_id": s["agency"], "wallet_address": "0x123"},
        headers=s["inv"],
    )
    assert r.status_code == 422
    r = client.post(
        f"/api/v1/freezes/{fid}/seize",
        json={"agency_id": s["agency"], "wallet_address": ETH_WALLET, "amount": 4 * WEI},
        headers=s["adm"],
    )
    assert r.status_code == 201, r.text
    # an administrator may request and approve, but never their own request
    r = client.post(f"/api/v1/freezes/{fid}/approve", json={}, headers=s["adm"])
    assert r.status_code == 403 and "second person" in r.json()["error"]["message"]
    r = client.post(f"/api/v1/freezes/{fid}/approve", json={}, headers=s["rev"])
    assert r.status_code == 200, r.text
    got = client.get(f"/api/v1/freezes/{fid}", headers=s["rev"]).json()
    assert got["held"][0]["held"] == 6 * WEI and got["held"][0]["seized"] == 4 * WEI
    seize = [j for j in got["trail"] if j["kind"] == "seize"][0]
    assert {p["wallet_address"] for p in seize["postings"]} == {None, ETH_WALLET.lower()}
    assert ledger.balances(session, f"{s['customer']}-ETH") == (2 * WEI, 6 * WEI)
    session.rollback()  # SQLite: hold no write lock while the app writes

    r = client.post(f"/api/v1/freezes/{fid}/release", json={"note": "done"}, headers=s["inv"])
    assert r.status_code == 201
    r = client.post(f"/api/v1/freezes/{fid}/release", json={}, headers=s["inv"])
    assert r.status_code == 409
    r = client.post(f"/api/v1/freezes/{fid}/reject", json={"note": "keep it"}, headers=s["rev"])
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert client.get(f"/api/v1/freezes/{fid}", headers=s["inv"]).json()["status"] == "active"

    listed = client.get("/api/v1/freezes?status=active", headers=s["inv"]).json()
    assert [f["id"] for f in listed] == [fid]
    assert client.get("/api/v1/freezes?status=seized", headers=s["inv"]).json() == []
    assert client.get("/api/v1/freezes?status=nope", headers=s["inv"]).status_code == 422
    due = client.get("/api/v1/freezes/due?days=100", headers=s["inv"]).json()
    assert [(d["freeze_id"], d["kind"]) for d in due] == [(fid, "expiry")]
    r = client.post(
        f"/api/v1/freezes/{fid}/extend",
        json={"expires_at": (utcnow() + timedelta(days=200)).isoformat()},
        headers=s["inv"],
    )
    assert r.status_code == 201, r.text
    session.expire_all()
    assert ledger.check(session) == []


@pytest.mark.parametrize(
    ("overrides", "status", "reason"),
    [
        ({"case_id": None}, 422, "legal basis"),
        ({"expires_at": None}, 422, "open-ended"),
        ({"amount": 13 * WEI}, 201, None),  # refused only at approval (not enough available)
        ({"customer_id": "C000"}, 422, "no customer"),
        ({"amount": -1}, 422, None),
    ],
)
def test_bad_requests_are_4xx_with_a_reason_and_audited(
    client: TestClient,
    session: Session,
    setup: dict,
    overrides: dict,
    status: int,
    reason: str | None,
) -> None:
    r = client.post("/api/v1/freezes", json=body(setup, **overrides), headers=setup["inv"])
    assert r.status_code == status, r.text
    if reason:
        assert reason in r.json()["error"]["message"]
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "freeze.request")
        ).all()
        assert [e.outcome for e in events] == ["failure"]
        session.rollback()
    if status == 201:
        fid = r.json()["id"]
        r = client.post(f"/api/v1/freezes/{fid}/approve", json={}, headers=setup["rev"])
        assert r.status_code == 422 and "only 12" in r.json()["error"]["message"]
        assert ledger.balances(session, f"{setup['customer']}-ETH") == (12 * WEI, 0)


def test_who_may_do_what(client: TestClient, session: Session, settings: Settings) -> None:
    officer = headers(session, settings, Role.LE_OFFICER)
    analyst = headers(session, settings, Role.COMPLIANCE_ANALYST)
    trainee = headers(session, settings, Role.TRAINEE)
    session.commit()
    for h in (officer, trainee):
        assert client.get("/api/v1/freezes", headers=h).status_code == 403
        assert client.get("/api/v1/freezes/1", headers=h).status_code == 403
    assert client.get("/api/v1/freezes", headers=analyst).json() == []
    assert client.get("/api/v1/freezes/999", headers=analyst).status_code == 404
    assert client.post("/api/v1/freezes", json={}, headers=analyst).status_code == 403
    assert client.get("/api/v1/freezes").status_code == 401

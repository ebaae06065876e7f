"""The customers API and pages: staff only (officers, partners and trainees 403), KYC
masked unless revealed by a role with ``kyc:reveal``, each reveal audited, unknown 404."""

from __future__ import annotations

from pathlib import Path

import pytest
from exchange_helpers import import_dir, read_csv
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth.enums import Permission, Role
from chainsleuth.core.config import Settings
from factories import bearer, login, make_user
from security_helpers import make_token

READ, REVEAL = Permission.EXCHANGE_READ, Permission.KYC_REVEAL


def token(session: Session, settings: Settings, role: Role, *scopes: Permission) -> dict[str, str]:
    account = make_user(session, settings, role=role, with_mfa=False)
    return bearer(make_token(session, account, *scopes))


def reveals(session: Session) -> list[AuditEvent]:
    """The reveal entries; ends the read (SQLite transactions hold the write lock)."""
    session.expire_all()
    events = list(
        session.scalars(select(AuditEvent).where(AuditEvent.action == "exchange.kyc_reveal"))
    )
    session.expunge_all()  # keep what was read
    session.rollback()
    return events


@pytest.fixture
def person(session: Session, settings: Settings, mini: Path) -> dict[str, str]:
    import_dir(session, settings, mini)
    return next(
        r
        for r in read_csv(mini / "customers.csv")
        if r["customer_type"] == "individual" and len(r["last_name"]) >= 3
    )


def test_investigator_searches_reads_masked_and_reveals_with_audit(
    client: TestClient, session: Session, settings: Settings, person: dict[str, str]
) -> None:
    headers = token(session, settings, Role.INVESTIGATOR, READ, REVEAL)
    cid = person["customer_id"]
    found = client.get("/api/v1/customers", params={"q": person["email"]}, headers=headers)
    assert found.status_code == 200, found.text
    assert [m["customer"]["id"] for m in found.json()] == [cid]
    assert found.json()[0]["reasons"][0]["field"] == "email"

    detail = client.get(f"/api/v1/customers/{cid}", headers=headers)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["kyc"] is None and body["masked"]["name"]
    assert person["last_name"] not in detail.text and person["email"] not in detail.text
    assert {a["asset"] for a in body["accounts"]} == {"BTC", "ETH", "USDT"}
    for move in body["deposits"] + body["withdrawals"]:
        assert move["explorer_path"] == f"/chains/{move['chain']}/txs/{move['tx_hash']}"
    assert reveals(session) == []

    revealed = client.post(
        f"/api/v1/customers/{cid}/reveal", json={"reason": "request 2026-17"}, headers=headers
    )
    assert revealed.status_code == 200, revealed.text
    assert revealed.json()["last_name"] == person["last_name"]
    assert revealed.json()["email"] == person["email"]
    (event,) = reveals(session)
    assert event.object_type == "customer" and event.object_id == cid
    assert event.channel == "api" and '"reason":"request 2026-17"' in event.details
    assert person["email"] not in event.details


def test_compliance_analyst_sees_masked_and_cannot_reveal(
    client: TestClient, session: Session, settings: Settings, person: dict[str, str]
) -> None:
    headers = token(session, settings, Role.COMPLIANCE_ANALYST, READ)
    cid = person["customer_id"]
    assert client.get(f"/api/v1/customers/{cid}", headers=headers).status_code == 200
    refused = client.post(f"/api/v1/customers/{cid}/reveal", headers=headers)
    assert refused.status_code == 403 and "kyc:reveal" in refused.json()["error"]["message"]
    assert reveals(session) == []


@pytest.mark.parametrize("role", [Role.LE_OFFICER, Role.PARTNER, Role.TRAINEE])
def test_outside_roles_reach_nothing(
    client: TestClient, session: Session, settings: Settings, person: dict[str, str], role: Role
) -> None:
    headers = token(session, settings, role, Permission.PROFILE_READ)
    cid = person["customer_id"]
    for method, path in [
        ("GET", f"/api/v1/customers?q={cid}"),
        ("GET", f"/api/v1/customers/{cid}"),
        ("GET", f"/api/v1/customers/{cid}/links"),
        ("POST", f"/api/v1/customers/{cid}/reveal"),
    ]:
        response = client.request(method, path, headers=headers)
        assert response.status_code == 403, (path, response.text)
    assert reveals(session) == []


def test_officer_pages_are_refused(
    client: TestClient, session: Session, settings: Settings, person: dict[str, str]
) -> None:
    officer = make_user(session, settings, role=Role.LE_OFFICER)
    session.commit()
    login(client, officer)
    assert client.get("/customers").status_code == 403
    assert client.get(f"/customers/{person['customer_id']}").status_code == 403
    assert "/customers" not in client.get("/").text


def test_unknown_customer_is_404_and_bad_query_422(
    client: TestClient, session: Session, settings: Settings, person: dict[str, str]
) -> None:
    headers = token(session, settings, Role.INVESTIGATOR, READ, REVEAL)
    missing = client.get("/api/v1/customers/C000000000", headers=headers)
    assert missing.status_code == 404 and "C000000000" in missing.json()["error"]["message"]
    assert client.post("/api/v1/customers/C000000000/reveal", headers=headers).status_code == 404
    assert client.get("/api/v1/customers", headers=headers).status_code == 422
    bad = client.get("/api/v1/customers", params={"q": "x" * 201}, headers=headers)
    assert bad.status_code == 422


def test_links_endpoint_shows_the_mules_shared_device(
    client: TestClient,
    session: Session,
    settings: Settings,
    person: dict[str, str],
    mules: set[str],
) -> None:
    headers = token(session, settings, Role.INVESTIGATOR, READ)
    mule = sorted(mules)[0]
    links = client.get(f"/api/v1/customers/{mule}/links", headers=headers)
    assert links.status_code == 200, links.text
    device = [x for x in links.json() if x["kind"] == "device"]
    assert device and {x["customer_id"] for x in device} <= mules
    assert all(x["evidence"]["device_id"] == x["value"] for x in device)

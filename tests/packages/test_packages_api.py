"""The whole path through the API: an officer's request, gathering, minimisation, approval,
delivery through the requests workflow, the officer's download (audited, expiring), another
agency's 404, the published key and offline verification."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from packages_helpers import (
    Caller,
    approve_request,
    submit,
    to_review,
    with_token,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth.enums import Role
from chainsleuth.cli import app as cli_app
from chainsleuth.core.config import Settings
from chainsleuth.exchange.models import Deposit
from chainsleuth.officers.models import Officer
from chainsleuth.packages.models import Package, PackageDownload
from chainsleuth.requests.models import LeRequest
from factories import make_user, make_verified_officer


def _callers(session: Session, settings: Settings) -> tuple[Caller, Caller, Caller, Caller]:
    officer = with_token(session, make_verified_officer(session, settings))
    other = with_token(session, make_verified_officer(session, settings))
    investigator = with_token(session, make_user(session, settings, role=Role.INVESTIGATOR))
    reviewer = with_token(session, make_user(session, settings, role=Role.LEGAL_REVIEWER))
    session.commit()
    return officer, other, investigator, reviewer


def _customer(session: Session) -> str:
    cid = session.scalar(select(Deposit.customer_id).order_by(Deposit.customer_id))
    assert cid
    session.commit()  # SQLite holds one writer: leave no transaction open
    return cid


def test_gather_select_approve_deliver_download_verify(
    client: TestClient, session: Session, settings: Settings, imported: Path, data_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    officer, other, investigator, reviewer = _callers(session, settings)
    cid = _customer(session)
    rid = submit(client, officer, f"customer_id: {cid}\n")
    to_review(client, investigator, rid)

    r = client.post(f"/api/v1/requests/{rid}/gatherings", headers=investigator.headers)
    assert r.status_code == 201, r.text
    g = r.json()
    assert g["reference"] == session.get(LeRequest, rid).reference  # type: ignore[union-attr]
    session.rollback()
    cats = {i["category"] for i in g["items"]}
    assert {"kyc", "accounts", "deposits", "counterparties", "exposure"} <= cats
    deposits = [i["id"] for i in g["items"] if i["category"] == "deposits"]
    # the officer can neither gather nor see the gathering
    assert (
        client.post(f"/api/v1/requests/{rid}/gatherings", headers=officer.headers).status_code
        == 403
    )
    assert client.get(f"/api/v1/gatherings/{g['id']}", headers=officer.headers).status_code == 403

    r = client.put(f"/api/v1/gatherings/{g['id']}/selection", json={"item_ids": deposits},
                   headers=investigator.headers)  # fmt: skip
    assert (
        r.status_code == 200 and [i["id"] for i in r.json()["items"] if i["selected"]] == deposits
    )
    # an investigator cannot finalise; an unapproved request cannot be delivered
    r = client.post(f"/api/v1/gatherings/{g['id']}/approve", headers=investigator.headers)
    assert r.status_code == 403
    r = client.post(f"/api/v1/gatherings/{g['id']}/approve", headers=reviewer.headers)
    assert r.status_code == 409 and "not approved" in r.json()["error"]["message"]

    approve_request(client, reviewer, rid)
    r = client.post(f"/api/v1/gatherings/{g['id']}/approve", headers=reviewer.headers)
    assert r.status_code == 201, r.text
    pkg = r.json()
    assert {f["name"] for f in pkg["files"]} == {
        "data/deposits.csv", "data/records.xlsx", "cover-letter.pdf"
    }  # fmt: skip
    req = session.get(LeRequest, rid)
    assert req is not None and req.status == "delivered" and req.responded_at is not None
    session.rollback()

    # the officer sees the package on the request and downloads it
    listed = client.get(f"/api/v1/requests/{rid}/packages", headers=officer.headers).json()
    assert [p["id"] for p in listed] == [pkg["id"]]
    r = client.get(f"/packages/{pkg['id']}/download", headers=officer.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    zip_path = tmp_path / "package.zip"
    zip_path.write_bytes(r.content)
    assert r.headers["x-content-sha256"] == pkg["sha256"]
    downloads = session.scalars(select(PackageDownload)).all()
    assert [d.user_id for d in downloads] == [officer.id]
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "packages.download"))
    assert event is not None and event.actor_id == officer.id
    session.rollback()

    # another agency's officer: 404 on every object endpoint
    for url in (f"/api/v1/packages/{pkg['id']}", f"/api/v1/packages/{pkg['id']}/download",
                f"/packages/{pkg['id']}/download", f"/api/v1/requests/{rid}/packages",
                f"/packages/{pkg['id']}"):  # fmt: skip
        assert client.get(url, headers=other.headers).status_code == 404, url

    # the published key verifies the downloaded package offline
    key = client.get("/.well-known/chainsleuth-signing-key")
    assert key.status_code == 200 and "BEGIN PUBLIC KEY" in key.text
    assert key.headers["x-key-fingerprint"] == pkg["key_fingerprint"]
    key_path = tmp_path / "key.pem"
    key_path.write_text(key.text)
    page = client.get("/signing-key")
    assert pkg["key_fingerprint"] in page.text and "openssl pkeyutl -verify" in page.text
    result = CliRunner().invoke(
        cli_app, ["packages", "verify", str(zip_path), "--key", str(key_path)]
    )
    assert result.exit_code == 0, result.output
    assert "✓" in result.output
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    result = CliRunner().invoke(cli_app, ["packages", "verify", str(bad), "--key", str(key_path)])
    assert result.exit_code == 2 and "not a ZIP file" in result.output

    # the link expires
    row = session.get(Package, pkg["id"])
    assert row is not None
    row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    session.commit()
    r = client.get(f"/api/v1/packages/{pkg['id']}/download", headers=officer.headers)
    assert r.status_code == 409 and "expired" in r.json()["error"]["message"]
    r = client.get(f"/packages/{pkg['id']}/download", headers=officer.headers)
    assert r.status_code == 409 and "expired" in r.text
    assert session.scalar(select(func.count()).select_from(PackageDownload)) == 1
    denied = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "packages.download_expired")
    ).all()
    assert len(denied) == 2 and {d.outcome for d in denied} == {"denied"}
    session.rollback()


def test_an_unverified_sender_gets_nothing(
    client: TestClient, session: Session, settings: Settings, imported: Path
) -> None:
    officer, _other, investigator, reviewer = _callers(session, settings)
    cid = _customer(session)
    rid = submit(client, officer, f"customer_id: {cid}\n")
    to_review(client, investigator, rid)
    g = client.post(f"/api/v1/requests/{rid}/gatherings", headers=investigator.headers).json()
    every = {"item_ids": [i["id"] for i in g["items"]]}
    client.put(f"/api/v1/gatherings/{g['id']}/selection", json=every, headers=investigator.headers)
    approve_request(client, reviewer, rid)
    record = session.scalars(select(Officer).where(Officer.user_id == officer.id)).one()
    record.verified_until = datetime.now(UTC) - timedelta(days=1)  # re-verification lapsed
    session.commit()
    r = client.post(f"/api/v1/gatherings/{g['id']}/approve", headers=reviewer.headers)
    assert r.status_code == 409 and "not a verified officer" in r.json()["error"]["message"]
    assert session.scalar(select(func.count()).select_from(Package)) == 0
    assert not list((settings.data_dir / "packages").rglob("*.zip"))
    req = session.get(LeRequest, rid)
    assert req is not None and req.status == "approved"
    session.rollback()


def test_gathering_page_and_selection_form(
    client: TestClient, session: Session, settings: Settings, imported: Path
) -> None:
    from factories import csrf_from, login

    officer, _other, investigator, _reviewer = _callers(session, settings)
    cid = _customer(session)
    rid = submit(client, officer, f"customer_id: {cid}\n")
    to_review(client, investigator, rid)
    session.expire_on_commit = False
    assert investigator.account.user.username
    session.commit()  # the user is loaded, and no transaction stays open
    login(client, investigator.account)
    page = client.get(f"/requests/{rid}/response")
    assert page.status_code == 200 and "Gather the subjects" in page.text
    r = client.post(f"/requests/{rid}/gather", data={"csrf_token": csrf_from(page.text)},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and f"customer-{cid}" in page.text
    assert "the chain store is not there" in page.text  # said, not silently skipped
    g = json.loads(
        client.get(f"/api/v1/requests/{rid}/gatherings", headers=investigator.headers).text
    )[0]
    kyc = next(i for i in g["items"] if i["category"] == "kyc")
    preview = client.get(f"/gatherings/{g['id']}/items/{kyc['id']}")
    assert preview.status_code == 200 and "•••" in preview.text  # masked
    r = client.post(
        f"/gatherings/{g['id']}/selection",
        data={"csrf_token": csrf_from(page.text), "item": [str(kyc["id"])]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    g = client.get(f"/api/v1/gatherings/{g['id']}", headers=investigator.headers).json()
    assert [i["category"] for i in g["items"] if i["selected"]] == ["kyc"]
    # an investigator sees no approve button
    assert "approve-package" not in client.get(f"/gatherings/{g['id']}").text

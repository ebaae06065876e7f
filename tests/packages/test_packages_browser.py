"""The response path in Chromium: an officer's request (submitted through the API), an
investigator gathers and ticks what the legal basis allows, a legal reviewer approves the
request and the package, the officer downloads it from the request's response page, and
its signature verifies against the published key."""

from __future__ import annotations

from pathlib import Path

import pytest
from packages_helpers import pdf_bytes, with_token, zip_names
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from chainsleuth.exchange.models import Deposit
from chainsleuth.packages import signing
from factories import Account, make_user, make_verified_officer
from harness.pages import sign_in

pytestmark = pytest.mark.browser


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_officer_downloads_a_signed_package(
    page: Page, session: Session, settings: Settings, investigator: Account, imported: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    officer = with_token(session, make_verified_officer(session, settings))
    staff = with_token(session, investigator)
    reviewer_account = make_user(session, settings, role=Role.LEGAL_REVIEWER, username="rita")
    reviewer = with_token(session, reviewer_account)
    cid = session.scalar(select(Deposit.customer_id).order_by(Deposit.customer_id))
    session.expire_on_commit = False
    for account in (officer.account, investigator, reviewer_account):
        assert account.user.username
    session.commit()  # SQLite: no transaction open while the live server writes

    r = page.request.post(
        "/api/v1/requests",
        headers=officer.headers,
        multipart={
            "type": "information_request",
            "legal_basis": "Production order 7/2026",
            "jurisdiction": "England and Wales",
            "case_reference": "OP-BROWSER",
            "subjects": f"customer_id: {cid}\n",
            "document": {"name": "order.pdf", "mimeType": "application/pdf",
                         "buffer": pdf_bytes()},
        },
    )  # fmt: skip
    assert r.status == 201, r.text()
    rid = r.json()["id"]
    for status, extra in (("triage", {}), ("assigned", {"assignee_id": staff.id}),
                          ("gathering", {}), ("legal_review", {})):  # fmt: skip
        r = page.request.post(f"/api/v1/requests/{rid}/transitions", headers=staff.headers,
                              data={"status": status, **extra})  # fmt: skip
        assert r.ok, r.text()

    # the investigator gathers and ticks the deposits and the KYC record
    sign_in(page, investigator)
    page.goto(f"/requests/{rid}/response")
    page.get_by_test_id("gather").click()
    expect(page.get_by_test_id("gathering-status")).to_have_text("gathered")
    expect(page.get_by_test_id(f"customer-{cid}")).to_be_visible()
    page.get_by_test_id("item-deposits").get_by_role("checkbox").check()
    page.get_by_test_id("item-kyc").get_by_role("checkbox").check()
    page.get_by_test_id("save-selection").click()
    expect(page.get_by_role("status")).to_contain_text("Selection saved")
    expect(page.get_by_test_id("approve-package")).to_have_count(0)  # not a legal reviewer
    gathering_url = page.url.split("?")[0]
    _sign_out(page)

    # the legal reviewer approves the request, then the package
    r = page.request.post(f"/api/v1/requests/{rid}/approvals", headers=reviewer.headers,
                          data={"note": "lawful"})  # fmt: skip
    assert r.ok, r.text()
    sign_in(page, reviewer_account)
    page.goto(gathering_url)
    page.get_by_test_id("approve-package").click()
    expect(page.get_by_role("status")).to_contain_text("signed and delivered")
    expect(page.get_by_test_id("gathering-package")).to_be_visible()
    _sign_out(page)

    # the officer downloads it from the request's response page
    sign_in(page, officer.account)
    page.goto(f"/requests/{rid}/response")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download").click()
    path = tmp_path / "package.zip"
    info.value.save_as(path)
    assert {"data/deposits.csv", "data/kyc.csv", "manifest.json", "manifest.sig"} <= zip_names(path)
    assert "data/logins.csv" not in zip_names(path)
    key = page.request.get("/.well-known/chainsleuth-signing-key")
    result = signing.verify_zip(path, signing.load_public_key(key.body()))
    assert result.ok, result.problems
    page.goto("/signing-key")
    expect(page.get_by_test_id("key-fingerprint")).to_have_text(result.fingerprint or "")

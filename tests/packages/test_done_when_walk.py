"""Issue 7's "done when", walked in Chromium from end to end.

An officer signs up from the agency's domain, confirms the address by the one-time link from
the outbox, is approved by an administrator, sets a password and enrols MFA; in the portal
the officer submits an information request and an emergency request naming customers of
the world's exchange. An investigator triages, assigns and gathers both and ticks what the
legal basis allows; for the emergency a legal reviewer records the call-back to the
agency's registered number and two legal reviewers approve; a legal reviewer approves the
information request and both packages. The officer downloads each package in the portal and
its signature verifies against the published key. The customer notice of the information
request is then sent and shown on the request page.

Each person works in a browser context of their own (a second sign-in within the same TOTP
step would be refused as a replayed code).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packages_helpers import pdf_bytes, zip_names
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.models import Customer, Deposit, DepositAddress
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.schemas import AgencyCreate
from chainsleuth.packages import signing
from chainsleuth.requests import notify
from factories import PASSWORD, SYSTEM, Account, make_user
from harness.liveserver import LiveServer
from harness.pages import (
    TIMEOUT_MS,
    ConsoleWatch,
    enrol_mfa,
    outbox_link,
    set_password,
    sign_in,
    submit_password,
)

pytestmark = pytest.mark.browser

DOMAIN = "ncu.police.example"
CALLBACK = "+44 20 7946 0123"


def _context(browser: Browser, server: LiveServer, console: ConsoleWatch) -> BrowserContext:
    ctx = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(3 * TIMEOUT_MS)  # a loaded machine: the first pages are slow
    ctx.on("console", console.on_console)
    ctx.on("weberror", lambda e: console.on_pageerror(e.error))  # uncaught page exceptions
    return ctx


def _officer_signs_up(officer: Page, admin: Page, email: str) -> None:
    officer.goto("/officers/signup")
    officer.get_by_label("Full name").fill("Nora Quinn")
    officer.get_by_label("Official e-mail address").fill(email)
    officer.get_by_label("Username").fill("nora.quinn")
    officer.get_by_role("button", name="Sign up").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    officer.goto(outbox_link(admin, email, "/officers/verify"))
    officer.get_by_role("button", name="Confirm my address").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("Address confirmed")
    admin.goto("/admin/officers")
    admin.get_by_test_id("officer-nora.quinn").get_by_role(
        "button", name="Approve nora.quinn"
    ).click()
    expect(admin.get_by_test_id("officer-nora.quinn")).to_contain_text("approved")
    officer.goto(outbox_link(admin, email, "/officers/activate"))
    set_password(officer, PASSWORD)
    submit_password(officer, "nora.quinn", PASSWORD)
    enrol_mfa(officer)
    expect(officer.get_by_test_id("whoami")).to_contain_text("Law-enforcement officer")


def _submit(officer: Page, kind: str, case: str, subjects: str) -> tuple[str, str]:
    """A request through the portal form: its reference and its portal URL."""
    officer.get_by_role("link", name="My requests", exact=True).click()
    officer.get_by_test_id("new-request").click()
    officer.get_by_label("Type").select_option(kind)
    officer.get_by_label("Case reference").fill(case)
    officer.get_by_label("Legal basis").fill("Production order, s.345 POCA 2002")
    officer.get_by_label("Jurisdiction").fill("England and Wales")
    officer.get_by_test_id("subjects").fill(subjects)
    officer.get_by_test_id("document").set_input_files(
        {"name": "order.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}
    )
    officer.get_by_test_id("submit-request").click()
    expect(officer.get_by_role("status")).to_contain_text("received and acknowledged")
    reference = officer.get_by_test_id("request-reference").inner_text()
    assert re.fullmatch(r"LER-\d{4}-\d{6}", reference)
    return reference, officer.url.split("?")[0]


def _open_in_queue(desk: Page, reference: str) -> str:
    desk.goto("/requests")
    desk.locator(f'[data-reference="{reference}"]').get_by_role("link", name=reference).click()
    expect(desk.get_by_test_id("request-reference")).to_have_text(reference)
    return desk.url.split("?")[0]


def _gather(desk: Page, reference: str, categories: list[str]) -> str:
    """Triage, assign (to oneself), gather, tick; the gathering's URL."""
    _open_in_queue(desk, reference)
    for step, label in (("triage", "Triage"), ("assigned", "Assigned"),
                        ("gathering", "Gathering"), ("legal_review", "Legal review")):  # fmt: skip
        desk.get_by_test_id(f"to-{step}").click()
        expect(desk.get_by_test_id("request-status")).to_have_text(label)
    desk.get_by_test_id("request-response").click()
    desk.get_by_test_id("gather").click()
    expect(desk.get_by_test_id("gathering-status")).to_have_text("gathered")
    for category in categories:
        desk.get_by_test_id(f"item-{category}").first.get_by_role("checkbox").check()
    desk.get_by_test_id("save-selection").click()
    expect(desk.get_by_role("status")).to_contain_text("Selection saved")
    return desk.url.split("?")[0]


def _approve(desk: Page, reference: str, approvals: str) -> None:
    _open_in_queue(desk, reference)
    desk.get_by_test_id("decision-approve").click()
    expect(desk.get_by_test_id("workflow")).to_contain_text(approvals)


def _download_and_verify(officer: Page, portal_url: str, tmp_path: Path, name: str) -> set[str]:
    officer.goto(portal_url)
    officer.get_by_test_id("request-response").click()
    with officer.expect_download() as info:
        officer.get_by_role("link", name="Download").click()
    path = tmp_path / name
    info.value.save_as(path)
    key = officer.request.get("/.well-known/chainsleuth-signing-key")
    result = signing.verify_zip(path, signing.load_public_key(key.body()))
    assert result.ok, result.problems
    return zip_names(path)


# the whole of the walk in one test, as it asks: about 30 s on a quiet machine, but
# five browser contexts and two packages need room on a loaded one
@pytest.mark.timeout(900)
def test_officer_signup_to_verified_packages_for_two_requests(
    browser: Browser, server: LiveServer, console: ConsoleWatch, session: Session,
    settings: Settings, admin: Account, investigator: Account, imported: Path, tmp_path: Path,
) -> None:  # fmt: skip
    org_service.create_agency(
        session,
        actor=SYSTEM,
        data=AgencyCreate(
            name="National Cyber Unit", country="GB", email_domains=[DOMAIN],
            callback_phone=CALLBACK,
        ),
    )  # fmt: skip
    rita = make_user(session, settings, role=Role.LEGAL_REVIEWER, username="rita")
    lars = make_user(session, settings, role=Role.LEGAL_REVIEWER, username="lars")
    # two customers of the world's exchange: one named by e-mail, one by a deposit address
    first, second = session.scalars(
        select(Deposit.customer_id).distinct().order_by(Deposit.customer_id).limit(2)
    ).all()
    customer = session.get(Customer, first)
    assert customer is not None
    keys = exchange_service.keys_for(settings)
    email = keys.decrypt(customer.kyc, customer.kyc_key_version)["email"]
    chain, address = session.execute(
        select(DepositAddress.chain, DepositAddress.address)
        .where(DepositAddress.customer_id == second)
        .order_by(DepositAddress.chain, DepositAddress.address)
        .limit(1)
    ).one()
    session.commit()
    session.close()  # SQLite: no transaction open while the live server writes

    contexts = [_context(browser, server, console) for _ in range(5)]
    admin_page, officer, desk, rita_page, lars_page = (c.new_page() for c in contexts)
    try:
        sign_in(admin_page, admin)
        _officer_signs_up(officer, admin_page, f"nora@{DOMAIN}")

        info_ref, info_url = _submit(officer, "information_request", "NCU-1", f"email: {email}")
        emergency_ref, emergency_url = _submit(
            officer, "emergency_disclosure", "NCU-2", f"{chain}: {address}"
        )

        sign_in(desk, investigator)
        info_gathering = _gather(desk, info_ref, ["kyc", "deposits"])
        emergency_gathering = _gather(desk, emergency_ref, ["accounts", "logins"])

        # the emergency: a call-back to the registered number, then two approvers
        sign_in(rita_page, rita)
        _open_in_queue(rita_page, emergency_ref)
        expect(rita_page.get_by_test_id("verification-state")).to_have_text("pending")
        expect(rita_page.get_by_label("Number called")).to_have_value(re.compile(r"\+44"))
        rita_page.get_by_label("Spoke to").fill("Duty officer")
        rita_page.get_by_role("button", name="Record call-back").click()
        expect(rita_page.get_by_test_id("verification-state")).to_have_text("confirmed")
        _approve(rita_page, emergency_ref, "Rita")
        expect(rita_page.get_by_test_id("request-status")).to_have_text("Legal review")
        sign_in(lars_page, lars)
        _approve(lars_page, emergency_ref, "Lars")
        expect(lars_page.get_by_test_id("request-status")).to_have_text("Approved")
        # the information request: one legal reviewer
        _approve(rita_page, info_ref, "Rita")
        expect(rita_page.get_by_test_id("request-status")).to_have_text("Approved")

        for gathering in (info_gathering, emergency_gathering):
            rita_page.goto(gathering)
            rita_page.get_by_test_id("approve-package").click()
            expect(rita_page.get_by_role("status")).to_contain_text("signed and delivered")

        names = _download_and_verify(officer, info_url, tmp_path, "info.zip")
        assert {"data/kyc.csv", "data/deposits.csv", "manifest.sig"} <= names
        assert "data/logins.csv" not in names
        names = _download_and_verify(officer, emergency_url, tmp_path, "emergency.zip")
        assert {"data/accounts.csv", "data/logins.csv"} <= names
        assert "data/kyc.csv" not in names

        # the information request's customer is notified; the emergency's notice is deferred
        run = notify.process_notifications(session, actor=SYSTEM, settings=settings)
        session.close()
        assert (run.sent, run.mails) == (1, 1)
        _open_in_queue(rita_page, info_ref)
        expect(rita_page.get_by_test_id("notification-state")).to_have_text("sent")
        expect(rita_page.get_by_test_id(f"notice-{first}")).to_contain_text("mailed")
        _open_in_queue(rita_page, emergency_ref)
        expect(rita_page.get_by_test_id("notification-state")).to_have_text("deferred")
    finally:
        for c in contexts:
            c.close()
    assert console.errors == [], "the browser reported errors:\n" + "\n".join(console.errors)

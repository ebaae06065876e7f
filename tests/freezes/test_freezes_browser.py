"""The freeze register in a real browser: an investigator freezes a customer's account from
the customer's page, a legal reviewer approves it, the register shows it active and the
funds held; the investigator's home page lists the review due."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from chainsleuth.core.models import utcnow
from chainsleuth.ledger import service as ledger
from factories import Account, make_user
from funds_helpers import make_case, make_customer
from harness.pages import nav_links, sign_in

pytestmark = pytest.mark.browser
BTC = 100_000_000


def test_investigator_requests_reviewer_approves_register_shows_it(
    page: Page, session: Session, settings: Settings, investigator: Account
) -> None:
    customer = make_customer(session, settings, {"BTC": 3 * BTC, "USDT": 2_500_000_000})
    case_id = make_case(session)
    reviewer = make_user(session, settings, role=Role.LEGAL_REVIEWER, username="lena")
    session.commit()
    session.close()  # SQLite: no open transaction while the live server writes

    sign_in(page, investigator)
    assert "Freezes" in nav_links(page)
    page.goto(f"/customers/{customer.id}")
    page.get_by_test_id("freeze-account").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(customer.id)
    page.get_by_label("What to freeze").select_option("account")
    page.get_by_label("Case number (case decision)").fill(str(case_id))
    review = (utcnow() + timedelta(days=3)).date().isoformat()
    page.get_by_label("Review date").fill(review)
    page.get_by_label("Reason").fill("Mule account receiving ransomware proceeds")
    page.get_by_test_id("request-freeze").click()
    expect(page).to_have_url(re.compile(r"/freezes/\d+\?done=requested$"))
    expect(page.get_by_test_id("freeze-status")).to_have_text("pending")
    expect(page.get_by_test_id("own-request")).to_be_visible()
    expect(page.get_by_test_id("approve")).to_have_count(0)
    freeze_url = page.url.split("?")[0]

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, reviewer)
    page.get_by_role("link", name="Freezes", exact=True).click()
    row = page.get_by_test_id("freeze-register").locator("tbody tr").first
    expect(row).to_contain_text("pending")
    expect(row).to_contain_text("freeze awaiting approval")
    row.get_by_role("link", name=re.compile(r"^#\d+$")).click()
    expect(page).to_have_url(freeze_url)
    page.get_by_label("Note (recorded)").fill("freeze order checked")
    page.get_by_test_id("approve").click()
    expect(page.get_by_role("status")).to_contain_text("Approved")
    expect(page.get_by_test_id("freeze-status")).to_have_text("active")
    expect(page.get_by_test_id(f"held-{customer.id}-BTC")).to_have_text("3 BTC")
    expect(page.get_by_test_id("trail")).to_contain_text(f"acct:{customer.id}-USDT:held")

    page.goto("/freezes?status=active")
    row = page.get_by_test_id("freeze-register").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.first.get_by_test_id("freeze-status")).to_have_text("active")
    expect(row.first).to_contain_text("3 BTC")
    expect(row.first).to_contain_text(f"case #{case_id}")

    # the home page of everyone who reads freezes lists the review that falls due
    page.goto("/")
    expect(page.get_by_test_id("freezes-due-card")).to_contain_text(f"{customer.id} review")

    with Session(session.get_bind()) as s:
        assert ledger.balances(s, f"{customer.id}-BTC") == (0, 3 * BTC)
        assert ledger.check(s) == []

"""The customer pages in a real browser: an investigator finds a mule by e-mail, sees the
KYC masked, the accounts, deposits linked to the explorer and the shared-device links,
then reveals the KYC record (audited)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from exchange_helpers import import_dir, read_csv
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.core.config import Settings
from factories import Account
from harness.pages import nav_links, sign_in

pytestmark = pytest.mark.browser


def test_investigator_finds_a_mule_and_reveals_the_kyc(
    page: Page,
    session: Session,
    settings: Settings,
    investigator: Account,
    mini: Path,
    mules: set[str],
) -> None:
    import_dir(session, settings, mini)
    deposits = {r["customer_id"] for r in read_csv(mini / "deposits.csv")}
    mule = next(
        r
        for r in read_csv(mini / "customers.csv")
        if r["customer_id"] in mules & deposits and len(r["last_name"]) >= 3
    )
    sign_in(page, investigator)
    assert "Customers" in nav_links(page)
    page.get_by_role("link", name="Customers", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Customers")
    box = page.get_by_test_id("customer-search")
    box.fill(mule["email"].upper())
    box.press("Enter")
    results = page.get_by_test_id("customer-results").locator("tbody tr")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("email")
    results.first.get_by_role("link", name=mule["customer_id"]).click()

    expect(page.get_by_test_id("customer-id")).to_have_text(mule["customer_id"])
    expect(page.get_by_test_id("masked-name")).to_contain_text(mule["last_name"][0] + "•••")
    expect(page.get_by_test_id("kyc")).not_to_contain_text(mule["last_name"])
    expect(page.get_by_test_id("accounts").locator("tbody tr")).to_have_count(3)
    tx_link = page.get_by_test_id("deposits").locator('a[href*="/txs/"]').first
    expect(tx_link).to_have_attribute("href", re.compile(r"^/chains/(btc|eth)/txs/\w+$"))
    expect(
        page.get_by_test_id("links").locator('[data-testid="link-device"]').first
    ).to_contain_text("shared device")

    page.get_by_label("Reason (recorded in the audit log)").fill("case 42")
    page.get_by_test_id("reveal").click()
    expect(page.get_by_test_id("kyc-revealed")).to_be_visible()
    expect(page.get_by_test_id("kyc-last_name")).to_have_text(mule["last_name"])
    expect(page.get_by_test_id("kyc-email")).to_have_text(mule["email"])

    session.expire_all()
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "exchange.kyc_reveal")
    ).all()
    assert [(e.object_id, e.actor) for e in events] == [(mule["customer_id"], "ivan")]
    assert '"reason":"case 42"' in events[0].details
    session.rollback()

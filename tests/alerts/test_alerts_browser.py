"""The alert queue in a real browser: an investigator filters it, opens an alert, comments
and closes it as a false positive; the queue and the figures follow."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from chainsleuth.alerts import service as alerts
from chainsleuth.alerts.models import Alert
from factories import SYSTEM, Account
from harness.pages import nav_links, sign_in

pytestmark = pytest.mark.browser


def test_investigator_closes_an_alert_as_false_positive(
    page: Page, session: Session, investigator: Account
) -> None:
    made = {}
    for reason, severity, source in [
        ("45% of incoming value comes directly from a darknet market", "high", "screening"),
        ("Funds from a watched address reached our deposit address", "severe", "watchlist"),
        ("Structuring: 9 deposits just under the threshold", "low", "typology"),
    ]:
        alert = alerts.raise_alert(
            session,
            actor=SYSTEM,
            severity=severity,
            subject_type="address",
            subject="0x" + "a1" * 20,
            chain="eth",
            reasons=[reason],
            source=source,
        )
        made[source] = alert.id
    session.commit()
    session.close()  # SQLite: one writer, and the live server writes next

    sign_in(page, investigator)
    assert "Alerts" in nav_links(page)
    page.get_by_role("link", name="Alerts", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alerts")
    rows = page.get_by_test_id("alert-queue").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("watched address")  # severe first

    page.get_by_test_id("filter-source").select_option("screening")
    page.get_by_test_id("filter-apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("darknet market")
    rows.first.get_by_test_id("alert-link").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Alert {made['screening']}")
    expect(page.get_by_test_id("alert-reasons")).to_contain_text("darknet market")
    page.get_by_test_id("comment-body").fill("Customer showed the OTC invoice")
    page.get_by_test_id("comment-submit").click()
    expect(page.get_by_test_id("alert-comments")).to_contain_text("OTC invoice")

    page.get_by_test_id("close-disposition").select_option("false_positive")
    page.get_by_test_id("close-note").fill("Known OTC desk, documented")
    page.get_by_test_id("close-submit").click()
    expect(page.get_by_role("status")).to_contain_text("The alert was closed")
    expect(page.get_by_test_id("alert-disposition")).to_contain_text("false positive")
    expect(page.get_by_test_id("alert-history")).to_contain_text("closed")

    page.get_by_role("link", name="← Queue").click()
    expect(rows).to_have_count(2)
    page.get_by_role("link", name="Figures").click()
    expect(page.get_by_test_id("fig-fp")).to_have_text("100.0%")

    session.expire_all()
    closed = session.get(Alert, made["screening"])
    assert closed is not None and closed.status == "closed"
    assert closed.disposition == "false_positive" and closed.closed_by_id == investigator.user.id
    session.rollback()

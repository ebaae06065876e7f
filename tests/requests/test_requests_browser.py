"""In Chromium: an officer submits a request in the portal and gets its reference; an
investigator finds it in the queue, triages and assigns it; the officer sees the status."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from request_helpers import BTC_ADDR, Actor, pdf_bytes
from sqlalchemy.orm import Session

from harness.liveserver import LiveServer
from harness.pages import TIMEOUT_MS, sign_in


@pytest.mark.browser
def test_officer_submits_in_the_portal_and_the_investigator_triages(
    page: Page,
    browser: Browser,
    server: LiveServer,
    session: Session,
    officer: Actor,
    investigator: Actor,
) -> None:
    session.commit()
    session.close()  # SQLite: one writer; the live server writes from here on
    sign_in(page, officer.account)
    page.get_by_role("link", name="My requests", exact=True).click()
    page.get_by_test_id("new-request").click()
    page.get_by_label("Type").select_option("information_request")
    page.get_by_label("Case reference").fill("MET-2026-4711")
    page.get_by_label("Legal basis").fill("Production order, s.345 POCA 2002")
    page.get_by_label("Jurisdiction").fill("England and Wales")
    page.get_by_test_id("subjects").fill(f"email: mule@example.org\nbtc: {BTC_ADDR}")
    page.get_by_test_id("document").set_input_files(
        {"name": "order.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}
    )
    page.get_by_test_id("submit-request").click()
    expect(page.get_by_role("status")).to_contain_text("received and acknowledged")
    reference = page.get_by_test_id("request-reference").inner_text()
    assert re.fullmatch(r"LER-\d{4}-\d{6}", reference)
    expect(page.get_by_test_id("subjects")).to_contain_text("mule@example.org")

    desk_context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    desk_context.set_default_timeout(TIMEOUT_MS)
    desk = desk_context.new_page()
    try:
        sign_in(desk, investigator.account)
        desk.get_by_role("link", name="Requests", exact=True).click()
        row = desk.locator(f'[data-reference="{reference}"]')
        expect(row).to_be_visible()
        row.get_by_role("link", name=reference).click()
        expect(desk.get_by_test_id("sender")).to_contain_text("verified sender")
        desk.get_by_test_id("to-triage").click()
        expect(desk.get_by_test_id("request-status")).to_have_text("Triage")
        desk.get_by_test_id("to-assigned").click()
        expect(desk.get_by_test_id("request-status")).to_have_text("Assigned")
        desk.get_by_test_id("message-body").fill("We are working on it.")
        desk.get_by_test_id("send-message").click()
        expect(desk.get_by_test_id("messages")).to_contain_text("We are working on it.")
    finally:
        desk_context.close()

    page.reload()
    expect(page.get_by_test_id("request-status")).to_have_text("Assigned")
    expect(page.get_by_test_id("messages")).to_contain_text("We are working on it.")

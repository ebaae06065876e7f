"""The whole investigation in a real browser: an alert on a customer's deposit address ->
the investigator opens a case from the alert -> traces from the address and saves the graph
to the case -> requests a freeze of the customer's account from the case, with the case as
its legal basis -> a legal reviewer approves it -> the investigator reads every step on the
case's timeline and downloads the case report (PDF), which holds the case, its alert and
freeze and the saved graph."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader
from sqlalchemy.orm import Session

from chainsleuth.alerts import service as alert_service
from chainsleuth.audit.service import Actor
from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from chainsleuth.core.models import utcnow
from chainsleuth.exchange.models import DepositAddress
from chainsleuth.ledger import service as ledger
from factories import Account, make_user
from funds_helpers import make_customer
from harness.liveserver import LiveServer
from harness.pages import TIMEOUT_MS, ConsoleWatch, sign_in

pytestmark = pytest.mark.browser
BTC = 100_000_000


def _number(url: str, kind: str) -> str:
    found = re.search(rf"/{kind}/(\d+)", url)
    assert found is not None, url
    return found.group(1)


def test_alert_case_trace_freeze_approved_report(
    page: Page,
    browser: Browser,
    server: LiveServer,
    console: ConsoleWatch,
    session: Session,
    settings: Settings,
    investigator: Account,
    ransom_payment: dict[str, Any],
    tmp_path: Path,
) -> None:
    address = ransom_payment["to_addresses"][0]
    customer = make_customer(session, settings, {"BTC": 2 * BTC})
    session.add(DepositAddress(chain="btc", address=address, customer_id=customer.id))
    alert = alert_service.raise_alert(
        session,
        actor=Actor.system(),
        severity="high",
        subject_type="address",
        subject=address,
        chain="btc",
        reasons=["received a ransomware payment"],
        source="typology",
    )
    reviewer = make_user(session, settings, role=Role.LEGAL_REVIEWER, username="lena")
    session.commit()
    alert_id = alert.id
    session.close()  # SQLite: no open transaction while the live server writes

    # the alert -> a new case that links it
    sign_in(page, investigator)
    page.goto(f"/alerts/{alert_id}")
    expect(page.get_by_test_id("alert-subject")).to_have_text(address)
    page.get_by_test_id("alert-case-add").click()
    expect(page.get_by_test_id("item-ref")).to_have_text(str(alert_id))
    form = page.get_by_test_id("open-case")
    form.get_by_label("Title").fill("Ransom proceeds at a customer's deposit address")
    form.get_by_label("Type").select_option("ransomware")
    form.get_by_label("Severity").select_option("high")
    form.get_by_role("button", name="Open case").click()
    expect(page.get_by_role("status")).to_contain_text("Case opened")
    case_id = _number(page.url, "cases")
    case_url = f"/cases/{case_id}"

    # the address and the customer whose deposit address it is become subjects
    links = page.get_by_test_id("link-form")
    for kind, ref in (("address", f"btc:{address}"), ("customer", customer.id)):
        page.goto(f"{case_url}?tab=subjects")
        links.get_by_label("Kind").select_option(kind)
        links.get_by_label("Reference").fill(ref)
        links.get_by_role("button", name="Link").click()
        expect(page.get_by_test_id("subjects")).to_contain_text(ref)

    # trace from the address page and save the graph to the case
    page.get_by_test_id("subjects").get_by_role("link", name=f"btc:{address}").click()
    expect(page).to_have_url(re.compile(rf"/chains/btc/addresses/{address}$"))
    # the first trace loads the flow graph: slower than a page (and the machine is shared),
    # longer than a click waits for the navigation it starts, so follow the button's link
    trace_link = page.get_by_test_id("trace-forward").get_attribute("href")
    assert trace_link
    page.goto(trace_link, timeout=90_000)
    expect(page.get_by_test_id("trace-summary")).to_contain_text("edges")
    page.get_by_label("Case to save the graph to").select_option(case_id)
    page.get_by_role("button", name="Save to case").click()
    expect(page.get_by_test_id("saved-to-case")).to_have_text(f"saved to case #{case_id}")

    # "freeze account" on the case page: the case is filled in as the legal basis
    page.goto(case_url)
    page.get_by_test_id(f"case-freeze-{customer.id}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(customer.id)
    expect(page.get_by_label("Case number (case decision)")).to_have_value(case_id)
    page.get_by_label("What to freeze").select_option("account")
    page.get_by_label("Review date").fill((utcnow() + timedelta(days=14)).date().isoformat())
    page.get_by_label("Reason").fill("Deposit of ransomware proceeds (see the case)")
    page.get_by_test_id("request-freeze").click()
    expect(page).to_have_url(re.compile(r"/freezes/\d+\?done=requested$"))
    expect(page.get_by_test_id("freeze-status")).to_have_text("pending")
    expect(page.get_by_test_id("approve")).to_have_count(0)  # not one's own
    freeze_id = _number(page.url, "freezes")

    # a second person, the legal reviewer, approves it in a browser of their own
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(TIMEOUT_MS)
    legal = context.new_page()
    legal.on("console", console.on_console)
    legal.on("pageerror", console.on_pageerror)
    sign_in(legal, reviewer)
    legal.goto(f"/freezes/{freeze_id}")
    legal.get_by_label("Note (recorded)").fill("case decision checked")
    legal.get_by_test_id("approve").click()
    expect(legal.get_by_test_id("freeze-status")).to_have_text("active")
    expect(legal.get_by_test_id(f"held-{customer.id}-BTC")).to_have_text("2 BTC")
    context.close()

    # back to the investigator: the timeline has every step, the report all of it
    page.goto(f"{case_url}?tab=links")
    others = page.get_by_test_id("links")
    expect(
        others.locator("tr", has_text="Alert").locator(f'a[href="/alerts/{alert_id}"]')
    ).to_have_count(1)
    expect(
        others.locator("tr", has_text="Freeze").locator(f'a[href="/freezes/{freeze_id}"]')
    ).to_have_count(1)
    page.get_by_test_id("tab-timeline").click()
    timeline = page.get_by_test_id("timeline")
    steps = [
        "opened ransomware case",
        f"linked alert {alert_id}",
        f"linked address btc:{address}",
        f"linked customer {customer.id}",
        "saved graph",
        f"freeze #{freeze_id} requested: whole account of customer {customer.id}",
        f"linked freeze {freeze_id}",
        f"freeze #{freeze_id}: freeze approved",
    ]
    for text in steps:
        expect(timeline).to_contain_text(text)
    approved = timeline.locator("tr", has_text=f"freeze #{freeze_id}: freeze approved")
    expect(approved).to_contain_text("lena")

    with page.expect_download() as download:
        page.get_by_test_id("report-pdf").click()
    assert download.value.suggested_filename == f"case-{case_id}-report.pdf"
    path = tmp_path / "report.pdf"
    download.value.save_as(path)
    # the text as one line (the layout wraps long titles)
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(path).pages).split())
    assert f"Case {case_id}: Ransom proceeds at a customer's deposit address" in text
    assert re.search(rf"alert\s+{alert_id}\b", text)
    assert re.search(rf"freeze\s+{freeze_id}\b", text)
    assert re.search(rf"customer\s+{customer.id}\b", text)
    assert "Graphs" in text and "forward trace of" in text
    assert f"freeze #{freeze_id}: freeze approved" in text

    with Session(session.get_bind()) as s:
        assert ledger.balances(s, f"{customer.id}-BTC") == (0, 2 * BTC)
        assert ledger.check(s) == []

"""In Chromium: an officer signs up from the agency's domain, opens the link from the outbox,
an administrator approves, the officer chooses a password, signs in and enrols MFA."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from chainsleuth.auth import service as user_service
from chainsleuth.officers import service as officer_service
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.schemas import AgencyCreate
from factories import PASSWORD, SYSTEM, Account
from harness.liveserver import LiveServer
from harness.pages import (
    TIMEOUT_MS,
    ConsoleWatch,
    enrol_mfa,
    nav_links,
    outbox_link,
    set_password,
    sign_in,
    submit_password,
)

pytestmark = pytest.mark.browser


def test_officer_signup_to_first_sign_in(
    page: Page,
    browser: Browser,
    server: LiveServer,
    console: ConsoleWatch,
    admin: Account,
    session: Session,
) -> None:
    org_service.create_agency(
        session,
        actor=SYSTEM,
        data=AgencyCreate(name="Cyber Crime Unit", country="GB", email_domains=["ccu.police.uk"]),
    )
    session.close()  # SQLite: no open transaction while the live server writes
    console.allowed_statuses.update({401, 410, 422})

    # the officer, in a browser of their own
    officer_ctx = browser.new_context(base_url=server.url)
    officer_ctx.set_default_timeout(TIMEOUT_MS)
    officer = officer_ctx.new_page()
    officer.on("console", console.on_console)
    officer.goto("/officers/signup")
    officer.get_by_label("Full name").fill("Dana Scully")
    officer.get_by_label("Official e-mail address").fill("dana@gmail.com")
    officer.get_by_label("Username").fill("dana.scully")
    officer.get_by_role("button", name="Sign up").click()
    expect(officer.get_by_role("alert")).to_contain_text("free webmail")
    expect(officer.get_by_label("Full name")).to_have_value("Dana Scully")
    officer.get_by_label("Official e-mail address").fill("dana@fraud.ccu.police.uk")
    officer.get_by_role("button", name="Sign up").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    expect(officer.get_by_role("status")).to_contain_text("dana@fraud.ccu.police.uk")

    # no account yet
    submit_password(officer, "dana.scully", PASSWORD)
    expect(officer.get_by_role("alert")).to_contain_text("Wrong username or password")

    # the administrator reads the outbox (there is no SMTP here); the officer opens the link
    sign_in(page, admin)
    assert "Officers" in nav_links(page) and "Agencies" in nav_links(page)
    verify_url = outbox_link(page, "dana@fraud.ccu.police.uk", "/officers/verify")
    officer.goto(verify_url)
    expect(officer.get_by_text("dana@fraud.ccu.police.uk")).to_be_visible()
    officer.get_by_role("button", name="Confirm my address").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("Address confirmed")
    # the link works once
    officer.goto(verify_url)
    expect(officer.get_by_role("alert")).to_contain_text("used already")

    # the administrator approves
    page.get_by_role("link", name="Officers", exact=True).click()
    row = page.get_by_test_id("officer-dana.scully")
    expect(row).to_contain_text("pending approval")
    expect(row).to_contain_text("Cyber Crime Unit")
    row.get_by_role("button", name="Approve dana.scully").click()
    expect(page.get_by_role("status")).to_contain_text("approved")
    expect(page.get_by_test_id("officer-dana.scully")).to_contain_text("approved")

    # the officer chooses a password from the activation mail, then signs in and enrols MFA
    activate_url = outbox_link(page, "dana@fraud.ccu.police.uk", "/officers/activate")
    officer.goto(activate_url)
    set_password(officer, PASSWORD)
    officer.get_by_role("link", name="Go to the sign-in page").click()
    expect(officer).to_have_url(re.compile(r"/login"))
    submit_password(officer, "dana.scully", PASSWORD)
    enrol_mfa(officer)
    expect(officer).to_have_url(re.compile(r"/$"))
    expect(officer.get_by_test_id("whoami")).to_contain_text("Law-enforcement officer")
    expect(officer.get_by_test_id("whoami")).to_contain_text("Dana Scully")
    assert "Officers" not in nav_links(officer)
    officer_ctx.close()

    # the officer is now a verified sender
    user = user_service.require_by_username(session, "dana.scully")
    assert officer_service.is_verified_sender(session, user_id=user.id)
    session.close()

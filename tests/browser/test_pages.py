"""The web pages in a real browser: headless Chromium driven by Playwright against a live server.

Each test runs on SQLite and on PostgreSQL (the ``app`` fixture is parametrized), in a fresh
browser context. One browser serves the whole module. Every page a test opens is watched for
console errors and uncaught exceptions: a CSP violation (an inline script or style) or a
broken htmx swap fails the test.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Dialog, Page, expect
from sqlalchemy import text
from sqlalchemy.orm import Session

from chainsleuth.auth import mfa
from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from factories import Account, make_user
from harness.pages import ConsoleWatch, nav_links, sign_in, submit_password

pytestmark = pytest.mark.browser

# --- helpers -------------------------------------------------------------------------------


def mark_document(page: Page) -> None:
    """Tag the current document: the tag survives htmx swaps but not a page load."""
    page.evaluate("window.__not_reloaded = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__not_reloaded === true"), "the page was reloaded"


def tamper_with_audit_row(database: Database, seq: int) -> None:
    """What an attacker with database access would do: get past the trigger, edit a row."""
    with database.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
        changed = conn.execute(
            text("UPDATE audit_events SET details = :d WHERE seq = :s"),
            {"d": '{"rewritten":true}', "s": seq},
        )
        assert changed.rowcount == 1


# --- tests ---------------------------------------------------------------------------------


def test_login_with_mfa_then_sign_out(page: Page, console: ConsoleWatch, admin: Account) -> None:
    console.allowed_statuses.add(401)  # the refused password and the refused code
    response = submit_password(page, admin.username, "not-the-password")
    assert response is not None and response.status == 401
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Username")).to_have_value(admin.username)

    submit_password(page, admin.username, admin.password)
    expect(page).to_have_url(re.compile(r"/mfa\?next=/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    # nothing behind the login is reachable before the second factor
    assert page.locator("nav.mainnav").count() == 0
    page.get_by_label("Code").fill("000000" if admin.code() != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("code")
    assert page.locator("nav.mainnav").count() == 0

    page.get_by_label("Code").fill(admin.code())
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page).to_have_title(re.compile("Home"))
    whoami = page.get_by_test_id("whoami")
    expect(whoami).to_contain_text(admin.user.full_name)
    expect(whoami).to_contain_text("Administrator")
    expect(page.get_by_test_id("admin-users-card")).to_be_visible()
    assert nav_links(page) == [
        "Home",
        "Users",
        "Organisations",
        "Agencies",
        "Officers",
        "Explorer",
        "Trace",
        "Labels",
        "Customers",
        "Risk policy",
        "Alerts",
        "Cases",
        "Freezes",
        "Requests",
        "My requests",
        "Request metrics",
        "Chain sync",
        "Audit log",
        "My account",
    ]

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # the session is gone: the home page sends us back to the login
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/"))


def test_mfa_enrolment_with_qr_code(page: Page, session: Session, settings: Settings) -> None:
    assert not settings.demo  # outside the demo every role but trainee must enrol
    newcomer = make_user(session, settings, role=Role.INVESTIGATOR, with_mfa=False)
    session.commit()

    submit_password(page, newcomer.username, newcomer.password)
    expect(page).to_have_url(re.compile(r"/mfa/enrol\?next=/"))
    qr = page.get_by_test_id("mfa-qr").locator("svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box is not None and 160 <= box["width"] <= 320 and box["width"] == box["height"]
    # the whole code is drawn, not clipped: the SVG scales its content to the box
    assert qr.get_attribute("viewBox")

    secret = page.get_by_test_id("mfa-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
    page.get_by_label("Code from the app").fill(mfa.current_code(secret))
    page.get_by_role("button", name="Turn on").click()

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_test_id("whoami")).to_contain_text("Investigator")
    page.goto("/account")
    expect(page.get_by_test_id("mfa-status")).to_contain_text("on")


def test_permission_denied_page(page: Page, console: ConsoleWatch, investigator: Account) -> None:
    console.allowed_statuses.add(403)
    sign_in(page, investigator)
    assert "Users" not in nav_links(page)
    assert "Audit log" not in nav_links(page)

    response = page.goto("/admin/users")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.get_by_test_id("error-message")).to_contain_text("permission")
    body = page.content()
    assert "Traceback" not in body and 'File "' not in body
    assert "Users" not in nav_links(page)
    page.get_by_role("link", name="Back to the home page").click()
    expect(page).to_have_url(re.compile(r"/$"))


def test_audit_page_filters_and_detects_tampering(
    page: Page, console: ConsoleWatch, admin: Account, database: Database
) -> None:
    console.allowed_statuses.add(401)
    submit_password(page, admin.username, "a-wrong-password")  # leaves an auth.login failure
    sign_in(page, admin)

    page.get_by_role("link", name="Audit log", exact=True).click()
    expect(page).to_have_url(re.compile(r"/audit$"))
    expect(page.get_by_test_id("verify-status")).to_contain_text("Hash chain intact")
    table = page.get_by_test_id("audit-table")
    own_login = table.locator("tbody tr", has_text="auth.login").filter(has_text=admin.username)
    expect(own_login.filter(has_text="success").first).to_be_visible()
    everything = page.get_by_test_id("audit-count").inner_text()

    mark_document(page)
    page.get_by_label("Outcome").select_option("failure")
    expect(page).to_have_url(re.compile(r"outcome=failure"))
    expect(page.get_by_test_id("audit-count")).not_to_have_text(everything)
    rows = table.locator("tbody tr")
    expect(rows.first).to_contain_text("auth.login")
    outcomes = table.locator("tbody tr td.outcome").all_inner_texts()
    assert outcomes and {o.strip() for o in outcomes} == {"failure"}
    assert_not_reloaded(page)

    # the back button restores the unfiltered log as a whole page, not the table fragment
    page.go_back()
    expect(page).to_have_url(re.compile(r"/audit$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    expect(page.get_by_label("Outcome")).to_have_value("")
    expect(page.get_by_test_id("audit-count")).to_have_text(everything)
    restore = page.request.get(
        "/audit", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert restore.ok and "<h1>Audit log</h1>" in restore.text()

    tamper_with_audit_row(database, seq=1)
    page.get_by_label("Outcome").select_option("failure")
    expect(page).to_have_url(re.compile(r"outcome=failure"))
    page.reload()
    status = page.get_by_test_id("verify-status")
    expect(status).to_contain_text("BROKEN")
    expect(status).to_contain_text("#1")
    # the filter survived the reload (it is in the URL)
    expect(page.get_by_label("Outcome")).to_have_value("failure")


def test_admin_disables_user_in_place(
    page: Page, console: ConsoleWatch, session: Session, settings: Settings, admin: Account
) -> None:
    target = make_user(session, settings, role=Role.INVESTIGATOR, username="victor")
    session.commit()
    sign_in(page, admin)
    page.get_by_role("link", name="Users", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")

    row = page.locator(f"#user-{target.user.id}")
    expect(row.get_by_test_id("user-status")).to_have_text("active")
    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    mark_document(page)
    row.get_by_role("button", name="Disable").click()

    expect(row.get_by_test_id("user-status")).to_have_text("disabled")
    expect(row.get_by_role("button", name="Enable")).to_be_visible()
    assert dialogs and "victor" in dialogs[0]
    assert_not_reloaded(page)

    # an administrator cannot lock themselves out: no Disable button on their own row
    own_row = page.locator(f"#user-{admin.user.id}")
    expect(own_row.get_by_role("button", name="Reset MFA")).to_be_visible()
    expect(own_row.get_by_role("button", name="Disable")).to_have_count(0)

    page.reload()
    row = page.locator(f"#user-{target.user.id}")
    expect(row.get_by_test_id("user-status")).to_have_text("disabled")
    expect(page.get_by_test_id("flash")).to_be_hidden()

    # htmx requests carry the CSRF token from <body hx-headers>; a stale one is refused and
    # the refusal is shown to the user, the row stays as it was
    console.allowed_statuses.add(403)
    page.locator("body").evaluate(
        "body => body.setAttribute('hx-headers', JSON.stringify({'X-CSRF-Token': 'stale'}))"
    )
    row.get_by_role("button", name="Enable").click()
    expect(page.get_by_test_id("flash")).to_contain_text("security token")
    expect(row.get_by_test_id("user-status")).to_have_text("disabled")

"""Browser-test fixtures and helpers: one headless Chromium per module, a live server per
test, a fresh context per page, and a console watch that fails a test on any console error
or uncaught exception it did not expect.

The fixtures are imported by ``tests/conftest.py`` so that every test package can use them.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Response,
    expect,
    sync_playwright,
)
from sqlalchemy.orm import Session

from chainsleuth.auth import mfa
from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from factories import Account, make_user

from .browser import launch_chromium
from .liveserver import LiveServer

TIMEOUT_MS = 10_000
#: Chromium reports every 4xx answer to a navigation as a console error; a test that means
#: to get one (a refused sign-in, a 403 page) says so, every other console error fails it.
HTTP_ERROR = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")
HTMX_ERROR = re.compile(r"Response Status Error Code (\d+) from ")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: the sync API holds an event loop on the main thread while
    # it is open, which the rest of the suite (TestClient, anyio) must not run into.
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def server(app: FastAPI) -> Iterator[LiveServer]:
    with LiveServer(app) as live:
        warm_up(live)
        yield live


def warm_up(live: LiveServer) -> None:
    """One request to a path no route serves, before the browser's first.

    FastAPI builds its routing tables for an app on the first request that walks them
    (about a CPU-second for this app); on a loaded machine that alone could outlast a
    page's navigation timeout. A path that matches nothing walks every router."""
    try:
        with urllib.request.urlopen(f"{live.url}/__warm-up__", timeout=120):
            pass
    except urllib.error.HTTPError as answer:
        answer.close()
        assert 400 <= answer.code < 500, f"the warm-up request got {answer.code}"


@dataclass
class ConsoleWatch:
    """Console errors and uncaught page exceptions, with the HTTP statuses a test expects."""

    errors: list[str] = field(default_factory=list)
    allowed_statuses: set[int] = field(default_factory=set)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        match = HTTP_ERROR.search(message.text) or HTMX_ERROR.search(message.text)
        if match and int(match.group(1)) in self.allowed_statuses:
            return
        self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def on_pageerror(self, error: Exception) -> None:
        self.errors.append(f"page error: {error}")


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()


@pytest.fixture
def page(browser: Browser, server: LiveServer, console: ConsoleWatch) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", console.on_console)
    page.on("pageerror", console.on_pageerror)
    yield page
    context.close()
    assert console.errors == [], "the browser reported errors:\n" + "\n".join(console.errors)


@pytest.fixture
def admin(session: Session, settings: Settings) -> Account:
    account = make_user(session, settings, role=Role.ADMIN, username="alice")
    # SQLite transactions begin IMMEDIATE: leave none open while the live server writes.
    session.commit()
    return account


@pytest.fixture
def investigator(session: Session, settings: Settings) -> Account:
    account = make_user(session, settings, role=Role.INVESTIGATOR, username="ivan")
    session.commit()
    return account


def submit_password(page: Page, username: str, password: str) -> Response | None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Sign in").click()
    return nav.value


def sign_in(page: Page, account: Account) -> None:
    """Password, then the TOTP code: ends on the home page."""
    submit_password(page, account.username, account.password)
    expect(page).to_have_url(re.compile(r"/mfa\?"))
    page.get_by_label("Code").fill(account.code())
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/$"))


def nav_links(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("nav.mainnav a").all_inner_texts()]


def outbox_link(admin: Page, to: str, path: str) -> str:
    """In the administrator's outbox, the newest mail to ``to``: the URL of its ``path``
    link (there is no SMTP in the tests: the e-mail links are read from the outbox)."""
    admin.goto(f"/admin/outbox?to={to}")
    link = admin.get_by_test_id("mail").first.get_by_test_id("mail-link")
    expect(link).to_have_text(re.compile(re.escape(path) + "$"))
    href = link.get_attribute("href")
    assert href and path in href
    return href


def set_password(page: Page, password: str) -> None:
    """On the activation page (from the activation mail): choose the password."""
    page.get_by_label("New password").fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Password set")


def enrol_mfa(page: Page) -> None:
    """On the MFA enrolment page after a first sign-in: read the secret, enter a code."""
    expect(page).to_have_url(re.compile(r"/mfa/enrol"))
    secret = page.get_by_test_id("mfa-secret").inner_text().strip()
    page.get_by_label("Code from the app").fill(mfa.current_code(secret))
    page.get_by_role("button", name="Turn on").click()

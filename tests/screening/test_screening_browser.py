"""The policy editor in a real browser: a compliance analyst changes a threshold, the new
version is active and listed with its changes; a self-contradicting edit is refused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from factories import make_user
from harness.pages import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the page adds nothing database-specific to the policy tests


def test_the_analyst_edits_a_threshold(
    page: Page, session: Session, settings: Settings, console: object
) -> None:
    analyst = make_user(session, settings, role=Role.COMPLIANCE_ANALYST, username="carol")
    session.commit()
    session.close()  # SQLite: one writer, the live server
    sign_in(page, analyst)
    page.get_by_role("link", name="Risk policy").click()
    expect(page.get_by_test_id("policy-version")).to_have_text("Version 1 (active)")
    high = page.get_by_test_id("share-ransomware-high-indirect")
    expect(high).to_have_value("20")
    high.fill("15")
    page.get_by_test_id("policy-comment").fill("ransomware: review sooner")
    page.get_by_test_id("policy-save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the policy as version 2")
    expect(page.get_by_test_id("policy-version")).to_have_text("Version 2 (active)")
    expect(page.get_by_test_id("share-ransomware-high-indirect")).to_have_value("15")
    expect(page.get_by_test_id("policy-version-2")).to_contain_text("ransomware: review sooner")
    page.get_by_test_id("policy-version-2").get_by_role("link", name="changes").click()
    expect(page.get_by_test_id("policy-diff")).to_contain_text('"indirect_share": 0.15')
    page.get_by_test_id("policy-version-1").get_by_role("link", name="view").click()
    expect(page.get_by_test_id("policy-version")).to_contain_text("Version 1 (not active")
    expect(page.get_by_test_id("share-ransomware-high-indirect")).to_have_value("20")
    expect(page.get_by_test_id("policy-save")).to_have_count(0)
    # a lower severity stricter than a higher one: refused with the reason, nothing saved
    page.goto("/risk/policy")
    page.get_by_test_id("share-ransomware-medium-indirect").fill("90")
    console.allowed_statuses.add(422)  # type: ignore[attr-defined]
    page.get_by_test_id("policy-save").click()
    expect(page.get_by_role("alert")).to_contain_text("stricter indirect_share")
    expect(page.get_by_test_id("policy-version")).to_have_text("Version 2 (active)")
    expect(page).to_have_url(re.compile(r"/risk/policy$"))

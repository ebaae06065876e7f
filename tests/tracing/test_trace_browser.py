"""The trace page in a real browser: the graph is drawn (Cytoscape.js under the CSP), a
click on a node expands it, the graph exports as JSON and PNG."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tracing_helpers import Traced

from factories import Account
from harness.pages import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_trace_page_draws_and_exports(
    page: Page, data_dir: Path, investigator: Account, traced: Traced
) -> None:
    sign_in(page, investigator)
    payment = next(h for h in traced.hops if h["step"] == "ransom_payment")
    page.goto(f"/trace?chain=btc&tx={payment['tx_hash']}&direction=forward&hops=3")
    expect(page.get_by_test_id("trace-summary")).to_contain_text("edges")
    graph = page.get_by_test_id("trace-graph")
    expect(graph.locator("canvas").first).to_be_attached()
    assert graph.bounding_box() is not None and graph.bounding_box()["height"] > 300  # type: ignore[index]
    expect(page.get_by_test_id("trace-edges").locator("tbody tr").first).to_contain_text(
        payment["tx_hash"][:18]
    )
    with page.expect_download() as download:
        page.get_by_role("button", name="Export JSON").click()
    assert download.value.suggested_filename == "trace.json"
    with page.expect_download() as png:
        page.get_by_role("button", name="Export PNG").click()
    assert png.value.suggested_filename == "trace.png"

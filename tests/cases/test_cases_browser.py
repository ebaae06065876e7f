"""Cases in a real browser: an investigator opens a case from an address page, saves a
trace to it from the trace page, uploads an evidence file (hashed by the server) and
downloads the case report, whose text names the case and the file's hash."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from factories import Account
from harness.pages import nav_links, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_address_to_case_trace_saved_evidence_and_report(
    page: Page, investigator: Account, ransom_payment: dict[str, Any], tmp_path: Path
) -> None:
    address = ransom_payment["to_addresses"][0]
    sign_in(page, investigator)
    assert "Cases" in nav_links(page)

    page.goto(f"/chains/btc/addresses/{address}")
    page.get_by_test_id("case-add").click()
    expect(page.get_by_test_id("item-ref")).to_have_text(f"btc:{address}")
    form = page.get_by_test_id("open-case")
    form.get_by_label("Title").fill("Ransom payments to the locker wallet")
    form.get_by_label("Type").select_option("ransomware")
    form.get_by_label("Severity").select_option("high")
    form.get_by_role("button", name="Open case").click()
    expect(page.get_by_test_id("case-title")).to_contain_text("Ransom payments to the locker")
    expect(page.get_by_role("status")).to_contain_text("Case opened")
    expect(page.get_by_test_id("subjects")).to_contain_text(f"btc:{address}")
    case_id = re.search(r"/cases/(\d+)", page.url).group(1)  # type: ignore[union-attr]

    tx = ransom_payment["tx_hash"]
    # the first trace loads the flow graph: slower than a page (and the machine is shared)
    page.goto(f"/trace?chain=btc&tx={tx}&direction=forward&hops=2&case={case_id}", timeout=90_000)
    expect(page.get_by_test_id("trace-summary")).to_contain_text("edges")
    picker = page.get_by_label("Case to save the graph to")
    expect(picker).to_have_value(case_id)
    page.get_by_role("button", name="Save to case").click()
    saved = page.get_by_test_id("saved-to-case")
    expect(saved).to_have_text(f"saved to case #{case_id}")
    saved.click()
    snapshot = page.get_by_test_id("snapshot")
    expect(snapshot).to_have_count(1)
    expect(snapshot).to_contain_text("forward trace of")
    expect(snapshot.locator("canvas").first).to_be_attached()

    exhibit = tmp_path / "ransom-note.txt"
    exhibit.write_bytes(b"Your files are encrypted. Pay 0.5 BTC.\n" * 40)
    digest = hashlib.sha256(exhibit.read_bytes()).hexdigest()
    page.get_by_test_id("tab-evidence").click()
    upload = page.get_by_test_id("evidence-form")
    upload.get_by_label("File").set_input_files(str(exhibit))
    upload.get_by_label("Description").fill("note left on the victim's server")
    upload.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status")).to_contain_text("Evidence file stored and hashed")
    expect(page.get_by_test_id("evidence-sha256")).to_have_text(digest)

    page.get_by_test_id("tab-timeline").click()
    timeline = page.get_by_test_id("timeline")
    for text in (
        "opened ransomware case",
        f"linked address btc:{address}",
        "saved graph",
        "evidence ransom-note.txt",
    ):
        expect(timeline).to_contain_text(text)

    with page.expect_download() as download:
        page.get_by_test_id("report-pdf").click()
    assert download.value.suggested_filename == f"case-{case_id}-report.pdf"
    path = tmp_path / "report.pdf"
    download.value.save_as(path)
    reader = PdfReader(path)
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Ransom payments to the locker wallet" in text
    assert digest in text and address in text

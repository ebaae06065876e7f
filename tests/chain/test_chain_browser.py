"""The explorer in a real browser: an investigator finds an address, a transaction and a
block through the search box and follows the links between them (headless Chromium,
SQLite and PostgreSQL as every browser test)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from chain_builders import BTC, FEE, A, C, X, Y, btc_history, eth_history, txid
from playwright.sync_api import Page, expect

from chainsleuth.chain.chains import format_amount
from chainsleuth.chain.store import ChainStore
from chainsleuth.core.config import Settings
from factories import Account
from harness.pages import ConsoleWatch, nav_links, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def chain_root(settings: Settings) -> Path:
    root = settings.data_dir / "chains"
    with ChainStore(root, durable=False) as store:
        for batch in btc_history() + eth_history():
            store.append(batch)
    return root


def search(page: Page, query: str) -> None:
    box = page.get_by_test_id("chain-search")
    box.fill(query)
    box.press("Enter")


def test_explorer_search_and_links(page: Page, chain_root: Path, investigator: Account) -> None:
    sign_in(page, investigator)
    assert "Explorer" in nav_links(page)
    page.get_by_role("link", name="Explorer", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chain explorer")
    expect(page.get_by_test_id("chain-btc")).to_contain_text("Transactions")
    expect(page.get_by_test_id("chain-btc").locator("dd").nth(2)).to_have_text("7")

    # an address: its balance, and its transactions newest first with the running balance
    search(page, A)
    expect(page).to_have_url(re.compile(rf"/chains/btc/addresses/{A}$"))
    expect(page.get_by_test_id("address")).to_have_text(A)
    balance = format_amount(25 * BTC - FEE, 8)
    expect(page.get_by_test_id("asset-BTC").get_by_test_id("balance")).to_have_text(
        f"{balance} BTC"
    )
    rows = page.get_by_test_id("address-txs").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text(txid("t3"))
    expect(rows.first.locator("td").last).to_have_text(f"{balance} BTC")
    expect(rows.last.locator("td").last).to_have_text("50 BTC")

    # follow the oldest payment: its outputs, one spent by t2
    page.get_by_role("link", name=txid("t1")).click()
    expect(page.get_by_test_id("tx-hash")).to_have_text(txid("t1"))
    outputs = page.get_by_test_id("outputs").locator("tbody tr")
    expect(outputs).to_have_count(3)
    expect(outputs.nth(0)).to_contain_text(C)
    expect(outputs.nth(2)).to_contain_text("unspendable")
    outputs.nth(0).get_by_role("link", name="spent").click()
    expect(page.get_by_test_id("tx-hash")).to_have_text(txid("t2"))

    # the block of t2, then its parent through the block page's own link
    search(page, "1")
    expect(page).to_have_url(re.compile(r"/search\?q=1$"))
    page.get_by_test_id("search-results").get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Block 1")
    expect(page.get_by_test_id("block-txs").locator("tbody tr")).to_have_count(3)
    page.get_by_role("link", name="block 0").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Block 0")

    # an Ethereum token transfer, found by its hash in lower case
    search(page, txid("a4", prefixed=True).lower())
    expect(page.get_by_test_id("token-transfers")).to_contain_text("USDT")
    expect(page.get_by_test_id("token-transfers")).to_contain_text(Y)
    page.get_by_test_id("token-transfers").get_by_role("link", name=Y).click()
    expect(page.get_by_test_id("address")).to_have_text(Y)

    # an address given in lower case lands on its checksummed form
    search(page, X.lower())
    expect(page).to_have_url(re.compile(rf"/chains/eth/addresses/{X}$"))


def test_explorer_unknown_and_malformed(
    page: Page, console: ConsoleWatch, chain_root: Path, investigator: Account
) -> None:
    sign_in(page, investigator)
    search(page, "not-an-address-or-hash")
    expect(page.get_by_test_id("search-none")).to_contain_text("not-an-address-or-hash")

    console.allowed_statuses.update({404, 422})  # 422: InvalidInput
    missing = "f" * 64
    response = page.goto(f"/chains/btc/txs/{missing}")
    assert response is not None and response.status == 404
    body = page.content()
    assert "Traceback" not in body
    response = page.goto("/chains/btc/addresses/1NotAValidAddress")
    assert response is not None and response.status == 422
    expect(page.get_by_test_id("error-message")).to_contain_text("address")
    response = page.goto("/chains/doge/blocks/1")
    assert response is not None and response.status in (404, 422)
    expect(page.get_by_test_id("error-message")).to_contain_text("chain")

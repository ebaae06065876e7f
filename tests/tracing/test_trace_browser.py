"""The trace page in a real browser: the graph is drawn (Cytoscape.js under the CSP), a
click on a node expands it, the graph exports as JSON, PNG, SVG and CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from playwright.sync_api import Page, expect
from tracing_helpers import Traced

from factories import Account
from harness.pages import sign_in

pytestmark = pytest.mark.browser

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _download(page: Page, button: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.get_by_role("button", name=button, exact=True).click()
    path = info.value.path()
    return info.value.suggested_filename, Path(path).read_bytes()


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
    name, body = _download(page, "Export JSON")
    assert name == "trace.json"
    data = json.loads(body)
    assert data["nodes"] and data["edges"]
    name, body = _download(page, "Export PNG")
    assert name == "trace.png" and body.startswith(b"\x89PNG\r\n\x1a\n")

    # SVG: a well-formed SVG document with one group per node and per edge of the graph
    name, body = _download(page, "Export SVG")
    assert name == "trace.svg"
    root = ElementTree.fromstring(body)
    assert root.tag == f"{SVG}svg"
    assert len(root.get("viewBox", "").split()) == 4
    groups = root.findall(f"{SVG}g")
    drawn_nodes = {g.get("data-id") for g in groups if g.get("class") == "node"}
    assert drawn_nodes == {n["id"] for n in data["nodes"]}
    edges = [g for g in groups if g.get("class") == "edge"]
    assert len(edges) == len(data["edges"])
    assert {(g.get("data-source"), g.get("data-target")) for g in edges} == {
        (e["source"], e["target"]) for e in data["edges"]
    }
    for g in groups:
        assert g.find(f"{SVG}text") is not None  # every node and edge keeps its label
    origin = next(n for n in data["nodes"] if n["hop"] == 0)
    short = origin["address"][:8]
    assert short in "".join(root.itertext())

    # CSV: the CLI's columns, one row per edge (and per node), amounts in the smallest unit
    name, body = _download(page, "Export CSV")
    assert name == "trace.csv"
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == len(data["edges"])
    assert rows[0].keys() >= {"hop", "tx_hash", "source", "target", "asset", "amount", "value"}
    assert sorted(int(r["amount"]) for r in rows) == sorted(e["amount"] for e in data["edges"])
    assert payment["tx_hash"] in {r["tx_hash"] for r in rows}
    name, body = _download(page, "Export nodes CSV")
    assert name == "trace.nodes.csv"
    nodes = list(csv.DictReader(io.StringIO(body.decode())))
    assert {r["id"] for r in nodes} == {n["id"] for n in data["nodes"]}

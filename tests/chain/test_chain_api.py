"""The explorer's API, pages and CLI on a small hand-built store; who may see them; what
happens while another process writes the store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from chain_builders import BTC, FEE, TOKEN, A, X, Y, btc_history, eth_history, txid
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chainsleuth.auth.enums import Role
from chainsleuth.chain.store import ChainStore
from chainsleuth.cli import app as cli_app
from chainsleuth.core.config import Settings
from factories import login, make_user

UNUSED = "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y"


@pytest.fixture
def backend() -> str:
    """The chain store does not depend on the operational database: SQLite is enough."""
    return "sqlite"


@pytest.fixture
def chain_root(settings: Settings) -> Path:
    root = settings.data_dir / "chains"
    with ChainStore(root, durable=False) as store:
        for batch in btc_history() + eth_history():
            store.append(batch)
    return root


@pytest.fixture
def investigator(client: TestClient, session: Session, settings: Settings) -> TestClient:
    login(client, make_user(session, settings, role=Role.INVESTIGATOR))
    return client


def test_api_lookups(chain_root: Path, investigator: TestClient) -> None:
    client = investigator
    stats = client.get("/api/v1/chains").json()
    assert {c["chain"]: c["txs"] for c in stats["chains"]} == {"btc": 7, "eth": 5}
    view = client.get(f"/api/v1/chains/btc/addresses/{A}").json()
    assert view["summary"]["assets"][0]["balance"] == 25 * BTC - FEE
    assert [t["hash"] for t in view["page"]["txs"]] == [txid("t3"), txid("t1"), txid("c0")]
    first = client.get(f"/api/v1/chains/btc/addresses/{A}/txs", params={"limit": 2}).json()
    rest = client.get(
        f"/api/v1/chains/btc/addresses/{A}/txs", params={"limit": 2, "before": first["next_before"]}
    ).json()
    assert [t["hash"] for t in rest["txs"]] == [txid("c0")] and rest["next_before"] is None
    tx = client.get(f"/api/v1/chains/btc/txs/{txid('t1')}").json()
    assert [o["value"] for o in tx["outputs"]] == [60 * BTC, 15 * BTC - FEE, 0]
    assert tx["outputs"][0]["spent_by"] == txid("t2")
    token = client.get(f"/api/v1/chains/eth/txs/{txid('a4', prefixed=True)}").json()
    assert token["token_transfers"][0]["token"]["symbol"] == "USDT"
    assert token["token_transfers"][0]["to_address"] == Y
    block = client.get("/api/v1/chains/btc/blocks/1", params={"limit": 2}).json()
    assert block["tx_count"] == 3 and len(block["txs"]) == 2 and block["next_after"] == 1
    hits = client.get("/api/v1/search", params={"q": X.lower()}).json()
    assert hits == [
        {
            "kind": "address",
            "chain": "eth",
            "value": X,
            "path": f"/chains/eth/addresses/{X}",
            "found": True,
        }
    ]
    paid = client.get(f"/api/v1/chains/eth/addresses/{X}/flows", params={"direction": "out"})
    assert [(f["to_address"], f["value"]) for f in paid.json()] == [(Y, 10**18), (Y, 10**8)]


ERRORS = [
    (f"/api/v1/chains/btc/txs/{'ab' * 32}", 404),
    (f"/api/v1/chains/btc/addresses/{UNUSED}", 404),
    ("/api/v1/chains/btc/blocks/99", 404),
    ("/api/v1/chains/btc/addresses/bc1qnotanaddress", 422),
    ("/api/v1/chains/btc/txs/xyz", 422),
    ("/api/v1/chains/doge/blocks/1", 422),
    ("/api/v1/chains/btc/blocks/-1", 422),
    (f"/api/v1/chains/eth/addresses/{X.lower()}?limit=0", 422),
]


def test_api_errors(chain_root: Path, investigator: TestClient) -> None:
    for path, status in ERRORS:
        response = investigator.get(path)
        assert response.status_code == status, (path, response.text)
        assert response.json()["error"]["message"]


def test_pages(chain_root: Path, investigator: TestClient) -> None:
    client = investigator
    home = client.get("/chains")
    assert home.status_code == 200 and "Bitcoin" in home.text and "Ethereum" in home.text
    assert 'href="/chains"' in home.text and 'action="/search"' in home.text  # nav, search box
    page = client.get(f"/chains/btc/addresses/{A}")
    assert page.status_code == 200
    assert A in page.text and "24.9999 BTC" in page.text and txid("t3") in page.text
    tx = client.get(f"/chains/btc/txs/{txid('t1')}")
    assert (
        "60 BTC" in tx.text and "unspendable" in tx.text and f"/chains/btc/addresses/{A}" in tx.text
    )
    eth = client.get(f"/chains/eth/txs/{txid('a4', prefixed=True)}")
    assert "100 USDT" in eth.text and TOKEN in eth.text
    failed = client.get(f"/chains/eth/txs/{txid('a2', prefixed=True)}")
    assert 'data-testid="failed"' in failed.text
    block = client.get("/chains/eth/blocks/0")
    assert block.status_code == 200 and "contract creation" in block.text
    found = client.get("/search", params={"q": A}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/chains/btc/addresses/{A}"
    assert client.get("/search", params={"q": "1"}).text.count("block <code") == 2  # both chains
    none = client.get("/search", params={"q": "nothing-like-this"})
    assert 'data-testid="search-none"' in none.text
    unused = client.get("/search", params={"q": UNUSED})
    assert "no activity" in unused.text
    missing = client.get(f"/chains/btc/txs/{'ab' * 32}")
    assert missing.status_code == 404 and 'data-testid="error-page"' in missing.text


@pytest.mark.parametrize("role", [Role.LE_OFFICER, Role.PARTNER])
def test_outsiders_may_not_explore(
    chain_root: Path, client: TestClient, session: Session, settings: Settings, role: Role
) -> None:
    login(client, make_user(session, settings, role=role))
    assert client.get("/api/v1/chains").status_code == 403
    assert client.get(f"/api/v1/chains/btc/addresses/{A}").status_code == 403
    assert client.get("/chains").status_code == 403
    assert 'action="/search"' not in client.get("/").text


def test_trainees_may_explore(
    chain_root: Path, client: TestClient, session: Session, settings: Settings
) -> None:
    login(client, make_user(session, settings, role=Role.TRAINEE, with_mfa=False))
    assert client.get("/api/v1/chains").status_code == 200


def test_without_data(investigator: TestClient) -> None:
    stats = investigator.get("/api/v1/chains").json()
    assert [c["tip_height"] for c in stats["chains"]] == [None, None]
    assert investigator.get("/chains").status_code == 200
    response = investigator.get(f"/api/v1/chains/btc/addresses/{A}")
    assert response.status_code == 404


HOLDER = """
import sys, time
from pathlib import Path
from chainsleuth.chain.store import ChainStore
with ChainStore(Path(sys.argv[1]), wait_s=20) as store:
    print("OPEN", flush=True)
    time.sleep(60)
"""


def test_a_load_in_another_process_gets_the_store(
    chain_root: Path, investigator: TestClient
) -> None:
    assert investigator.get("/api/v1/chains").status_code == 200  # the server holds the store
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(chain_root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        # the server let go of it: the holder opens the store within its own 20 s wait (no
        # wall-clock bound here: starting Python alone can take longer on a loaded machine)
        assert proc.stdout.readline().strip() == "OPEN"
        busy = investigator.get("/api/v1/chains")
        assert busy.status_code == 503
        assert busy.json()["error"]["code"] == "chain_store_busy"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert investigator.get("/api/v1/chains").status_code == 200  # and opens it again


runner = CliRunner()


def test_cli(chain_root: Path, settings: Settings) -> None:
    env = {"CHAINSLEUTH_DATA_DIR": str(settings.data_dir)}
    stats = runner.invoke(cli_app, ["chain", "stats"], env=env)
    assert stats.exit_code == 0 and "btc" in stats.output and "eth" in stats.output
    result = runner.invoke(cli_app, ["chain", "address", "btc", A, "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary, page = json.loads(result.output)
    assert summary["assets"][0]["balance"] == 25 * BTC - FEE and len(page["txs"]) == 3
    shown = runner.invoke(cli_app, ["chain", "address", "btc", A, "--limit", "1"], env=env)
    assert "24.9999 BTC" in shown.output and "--before" in shown.output
    tx = runner.invoke(cli_app, ["chain", "tx", "btc", txid("t1"), "--json"], env=env)
    assert json.loads(tx.output)["fee"] == FEE
    text = runner.invoke(cli_app, ["chain", "tx", "eth", txid("a4", prefixed=True)], env=env)
    assert "100 USDT" in text.output
    block = runner.invoke(cli_app, ["chain", "block", "eth", "0"], env=env)
    assert block.exit_code == 0 and "miner" in block.output
    for args in (
        ["chain", "address", "btc", "bc1qnotanaddress"],
        ["chain", "tx", "btc", "ab" * 32],
        ["chain", "block", "doge", "1"],
        ["chain", "address", "eth", UNUSED],
    ):
        bad = runner.invoke(cli_app, args, env=env)
        assert bad.exit_code == 2, (args, bad.output)
        assert "error:" in bad.output and "Traceback" not in bad.output

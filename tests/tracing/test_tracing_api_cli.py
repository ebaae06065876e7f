"""Traces, paths and exposure through the API (who may, bad input) and the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from tracing_helpers import Traced
from typer.testing import CliRunner

from chainsleuth.auth.enums import Permission, Role
from chainsleuth.cli import app as cli_app
from chainsleuth.core.config import Settings
from factories import bearer, login, make_user
from security_helpers import make_token

runner = CliRunner()


@pytest.fixture
def backend() -> str:
    return "sqlite"  # tracing does not use the operational database


def client_as(client: TestClient, session: Session, settings: Settings, role: Role) -> TestClient:
    """A client calling the API with a bearer token of a user of ``role``."""
    account = make_user(session, settings, role=role, with_mfa=False)
    scopes = [Permission.CHAIN_READ] if role is not Role.LE_OFFICER else [Permission.PROFILE_READ]
    client.headers.update(bearer(make_token(session, account, *scopes)))
    return client


def test_api_trace_path_exposure(
    data_dir: Path, client: TestClient, session: Session, settings: Settings, traced: Traced
) -> None:
    api = client_as(client, session, settings, Role.INVESTIGATOR)
    exploit = traced.hop("HACK-1:eth:16")
    body = {"chain": "eth", "tx": exploit["tx_hash"], "direction": "forward", "hops": 6}
    response = api.post("/api/v1/traces", json=body)
    assert response.status_code == 200, response.text
    graph = response.json()
    assert graph["origin"] and graph["edges"] and not graph["truncated"]
    assert {"flow", "swap", "bridge"} <= {e["kind"] for e in graph["edges"]}
    assert any(n["chain"] == "btc" and n["stop"] for n in graph["nodes"])
    ids = {n["id"] for n in graph["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in graph["edges"])

    release = traced.hop("HACK-1:btc:0")
    params = {"from": release["from_addresses"][0], "to": release["to_addresses"][0]}
    path = api.get("/api/v1/chains/btc/paths", params=params).json()
    assert path["found"] and path["hops"] == 1 and path["edges"][0]["tx_hash"] == release["tx_hash"]

    deposit = next(c for c in traced.schemes["HACK-1"]["cash_outs"] if c["kind"] == "exchange")
    exposure = api.get(f"/api/v1/chains/btc/addresses/{deposit['address']}/exposure")
    assert exposure.status_code == 200
    assert any(e["category"] == "sanctioned" for e in exposure.json()["entries"])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"chain": "doge", "address": "x"}, 422),
        ({"chain": "btc", "address": "bc1qnotanaddress"}, 422),
        ({"chain": "btc", "tx": "ab" * 32}, 404),
        ({"chain": "btc"}, 422),
        ({"chain": "btc", "tx": "ab" * 32, "hops": 0}, 422),
        ({"chain": "btc", "tx": "ab" * 32, "model": "magic"}, 422),
    ],
)
def test_api_bad_input(
    data_dir: Path,
    client: TestClient,
    session: Session,
    settings: Settings,
    body: dict[str, object],
    status: int,
) -> None:
    api = client_as(client, session, settings, Role.INVESTIGATOR)
    response = api.post("/api/v1/traces", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]


def test_api_needs_chain_read(
    data_dir: Path, client: TestClient, session: Session, settings: Settings
) -> None:
    assert client.post("/api/v1/traces", json={"chain": "btc"}).status_code == 401
    officer = client_as(client, session, settings, Role.LE_OFFICER)
    assert officer.post("/api/v1/traces", json={"chain": "btc"}).status_code == 403
    assert officer.get("/api/v1/chains/btc/paths?from=a&to=b").status_code == 403


def test_cli(data_dir: Path, traced: Traced, tmp_path: Path) -> None:
    env = {"CHAINSLEUTH_DATA_DIR": str(data_dir)}
    payment = next(h for h in traced.hops if h["step"] == "ransom_payment")
    out = tmp_path / "trace.csv"
    result = runner.invoke(
        cli_app,
        ["trace", "forward", "btc", "--tx", payment["tx_hash"], "--hops", "30",
         "--format", "csv", "--out", str(out)],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert rows and rows[0]["tx_hash"] == payment["tx_hash"]
    assert out.with_suffix(".nodes.csv").exists()
    victim = payment["from_addresses"][0]
    back = runner.invoke(
        cli_app, ["trace", "backward", "btc", payment["to_addresses"][0], "--model", "fifo",
                  "--hops", "2"], env=env,
    )  # fmt: skip
    assert back.exit_code == 0, back.output
    assert victim in {n["address"] for n in json.loads(back.output)["nodes"]}
    path = runner.invoke(
        cli_app, ["trace", "path", "btc", victim, payment["to_addresses"][0], "--json"], env=env
    )
    assert path.exit_code == 0 and json.loads(path.output)["hops"] == 1
    deposit = next(c for c in traced.schemes["HACK-1"]["cash_outs"] if c["kind"] == "exchange")
    shown = runner.invoke(cli_app, ["exposure", "btc", deposit["address"], "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "sanctioned" in {e["category"] for e in json.loads(shown.output)["entries"]}
    table = runner.invoke(cli_app, ["exposure", "btc", deposit["address"]], env=env)
    assert table.exit_code == 0 and "exposure of" in table.output
    for args in (
        ["trace", "forward", "btc"],
        ["trace", "forward", "btc", "bc1qnotanaddress"],
        ["trace", "backward", "doge", "x"],
        ["trace", "forward", "btc", "--tx", "ab" * 32],
        ["trace", "forward", "btc", victim, "--since", "yesterday"],
        ["trace", "path", "btc", victim, victim, "--hops", "9"],
    ):
        bad = runner.invoke(cli_app, args, env=env)
        assert bad.exit_code == 2, (args, bad.output)
        assert "Traceback" not in bad.output


def test_trace_page(
    data_dir: Path, client: TestClient, session: Session, settings: Settings, traced: Traced
) -> None:
    login(client, make_user(session, settings, role=Role.INVESTIGATOR))
    empty = client.get("/trace")
    assert empty.status_code == 200 and 'data-testid="trace-form"' in empty.text
    payment = next(h for h in traced.hops if h["step"] == "ransom_payment")
    page = client.get(
        "/trace", params={"chain": "btc", "tx": payment["tx_hash"], "direction": "forward"}
    )
    assert page.status_code == 200, page.text
    assert 'data-testid="trace-graph"' in page.text
    block = page.text.split('<script type="application/json" id="trace-data">', 1)[1]
    graph = json.loads(block.split("</script>", 1)[0])
    assert graph["edges"] and graph["edges"][0]["tx_hash"] == payment["tx_hash"]
    assert "/static/vendor/cytoscape-3.35.0.min.js" in page.text
    for asset in ("/static/trace.js", "/static/vendor/cytoscape-3.35.0.min.js"):
        assert client.get(asset).status_code == 200
    more = client.get("/trace/data", params={"chain": "btc", "address": payment["to_addresses"][0]})
    assert more.status_code == 200 and more.json()["nodes"]
    bad = client.get("/trace", params={"chain": "btc", "address": "bc1qnotanaddress"})
    assert bad.status_code == 422

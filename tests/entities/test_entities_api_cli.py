"""The entities API and CLI on the hand-built store of test_heuristics: answers, who may
ask, and bad input (4xx with a reason; one line and exit code 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from test_heuristics import blocks
from typer.testing import CliRunner

from chain.chain_builders import BTC, A, B, C, D, txid
from chainsleuth.auth.enums import Role
from chainsleuth.chain.store import ChainStore
from chainsleuth.cli import app as cli_app
from chainsleuth.core.config import Settings
from chainsleuth.entities import service as entity_service
from factories import login, make_user

UNUSED = "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y"
runner = CliRunner()


@pytest.fixture
def backend() -> str:
    """Entities do not depend on the operational database: SQLite is enough."""
    return "sqlite"


@pytest.fixture
def chain_root(settings: Settings) -> Path:
    root = settings.data_dir / "chains"
    with ChainStore(root, durable=False) as store:
        for batch in blocks():
            store.append(batch)
    return root


@pytest.fixture
def built(chain_root: Path) -> Path:
    entity_service.build(chain_root, "btc")
    return chain_root


@pytest.fixture
def investigator(client: TestClient, session: Session, settings: Settings) -> TestClient:
    login(client, make_user(session, settings, role=Role.INVESTIGATOR))
    return client


def test_api(built: Path, investigator: TestClient) -> None:
    found = investigator.get(f"/api/v1/chains/btc/addresses/{A}/entity")
    assert found.status_code == 200, found.text
    entity = found.json()["entity"]
    assert entity["size"] == 3 and entity["heuristics_enabled"] == ["multi-input"]
    assert entity["received"] == 62 * BTC
    again = investigator.get(f"/api/v1/chains/btc/entities/{entity['entity_id']}").json()
    assert again == entity
    why = investigator.get("/api/v1/chains/btc/entities/why", params={"a": A, "b": D}).json()
    assert [(s["a"], s["b"], s["tx"]) for s in why["steps"]] == [
        (A, B, txid("t1")),
        (B, D, txid("t2")),
    ]
    assert why["entity_id"] == entity["entity_id"]


ERRORS = [
    ("/api/v1/chains/btc/entities/why", {"a": A, "b": C}, 404),  # two entities
    ("/api/v1/chains/btc/entities/why", {"a": A}, 422),  # b missing
    ("/api/v1/chains/btc/entities/why", {"a": A, "b": "bc1qnotanaddress"}, 422),
    ("/api/v1/chains/btc/entities/why", {"a": A, "b": UNUSED}, 404),  # never seen
    ("/api/v1/chains/btc/entities/-1", {}, 422),
    ("/api/v1/chains/btc/entities/abc", {}, 422),
    ("/api/v1/chains/btc/entities/999", {}, 404),
    ("/api/v1/chains/doge/entities/0", {}, 422),
    (f"/api/v1/chains/btc/addresses/{UNUSED}/entity", {}, 404),
    ("/api/v1/chains/btc/addresses/bc1qnotanaddress/entity", {}, 422),
]


def test_api_errors(built: Path, investigator: TestClient) -> None:
    for path, params, status in ERRORS:
        response = investigator.get(path, params=params)
        assert response.status_code == status, (path, params, response.text)
        assert response.json()["error"]["message"]
    merged_away = max(entity_service.members(built, "btc", 0).tolist())
    gone = investigator.get(f"/api/v1/chains/btc/entities/{merged_away}")
    assert gone.status_code == 404 and "merged into" in gone.json()["error"]["message"]


def test_api_before_any_build(chain_root: Path, investigator: TestClient) -> None:
    response = investigator.get(f"/api/v1/chains/btc/addresses/{A}/entity")
    assert response.status_code == 404
    assert "entities build" in response.json()["error"]["message"]


@pytest.mark.parametrize("role", [Role.LE_OFFICER, Role.PARTNER])
def test_outsiders_may_not_ask(
    built: Path, client: TestClient, session: Session, settings: Settings, role: Role
) -> None:
    login(client, make_user(session, settings, role=role))
    assert client.get(f"/api/v1/chains/btc/addresses/{A}/entity").status_code == 403
    assert client.get("/api/v1/chains/btc/entities/0").status_code == 403


def test_cli(chain_root: Path, settings: Settings) -> None:
    env = {"CHAINSLEUTH_DATA_DIR": str(settings.data_dir)}
    built = runner.invoke(cli_app, ["entities", "build", "--chain", "btc"], env=env)
    assert built.exit_code == 0, built.output
    assert "full" in built.output and "multi-input" in built.output
    shown = runner.invoke(cli_app, ["entities", "show", "btc", A, "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["entity"]["size"] == 3
    text = runner.invoke(cli_app, ["entities", "show", "btc", A], env=env)
    assert "3 addresses" in text.output and "62 BTC" in text.output
    why = runner.invoke(cli_app, ["entities", "why", "btc", A, D, "--json"], env=env)
    assert [s["tx"] for s in json.loads(why.output)["steps"]] == [txid("t1"), txid("t2")]
    again = runner.invoke(cli_app, ["entities", "build", "--chain", "btc", "--json"], env=env)
    assert json.loads(again.output)[0]["mode"] == "up-to-date"
    for args in (
        ["entities", "build", "--chain", "doge"],
        ["entities", "build", "--chain", "btc", "--heuristics", "bogus"],
        ["entities", "build", "--chain", "btc", "--heuristics", "eth-deposit"],
        ["entities", "show", "btc", "bc1qnotanaddress"],
        ["entities", "show", "btc", UNUSED],
        ["entities", "why", "btc", A, C],
        ["entities", "show", "eth", A],
        ["eval", "clustering", str(settings.data_dir)],
    ):
        bad = runner.invoke(cli_app, args, env=env)
        assert bad.exit_code == 2, (args, bad.output)
        assert "error:" in bad.output and "Traceback" not in bad.output

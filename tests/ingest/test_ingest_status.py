"""The sync status: ``chainsleuth ingest status``, the API and the administrator's page."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ingest_helpers import ETH_FIX
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chainsleuth.auth.enums import Role
from chainsleuth.chain.store import ChainStore
from chainsleuth.cli import app
from chainsleuth.core.config import Settings
from chainsleuth.ingest import status as sync_status
from chainsleuth.ingest.etl import EtlSource
from chainsleuth.ingest.follow import Syncer
from factories import login, make_user

STREAM = ETH_FIX / "test_stream" / "blocks_17173049_17173050"


@pytest.fixture
def backend() -> str:
    """The sync status lives beside the chain store: SQLite is enough."""
    return "sqlite"


@pytest.fixture
def synced(settings: Settings) -> Path:
    root = settings.data_dir / "chains"
    with ChainStore(root, durable=False) as store:
        Syncer(store, EtlSource("eth", STREAM)).run()
    failed = sync_status.SyncStatus(chain="btc", state="failed", error="cannot reach the node")
    failed.node_tip = 870_000
    sync_status.save(root, failed)
    return root


def test_status_api_and_page(
    synced: Path, client: TestClient, session: Session, settings: Settings
) -> None:
    login(client, make_user(session, settings, role=Role.INVESTIGATOR))
    assert client.get("/api/v1/ingest/status").status_code == 403
    client.cookies.clear()
    login(client, make_user(session, settings, role=Role.ADMIN))
    rows = {r["chain"]: r for r in client.get("/api/v1/ingest/status").json()}
    eth, btc = rows["eth"], rows["btc"]
    assert (eth["state"], eth["store_tip"], eth["node_tip"], eth["lag"]) == (
        "done",
        17173050,
        17173050,
        0,
    )
    assert eth["source"] == str(STREAM) and eth["txs_per_s"] > 0
    assert (btc["state"], btc["error"], btc["store_tip"], btc["lag"]) == (
        "failed",
        "cannot reach the node",
        None,
        870_001,
    )
    page = client.get("/admin/sync")
    assert page.status_code == 200
    assert "17173050" in page.text and "cannot reach the node" in page.text


def test_status_command(synced: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["ingest", "status"])
    assert result.exit_code == 0, result.output
    assert "17173050" in result.stdout and "failed: cannot reach the node" in result.stdout

"""A transaction's internal transfers where a user reads the transaction: the API
(``/api/v1/chains/eth/txs/{hash}``), the page, and ``chainsleuth chain tx``, on a store
loaded from the ethereum-etl export of test_ingest_internal (real blocks, made-up traces)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from test_ingest_internal import DELEGATE, NESTED, PAYEE, REVERTED, _export
from typer.testing import CliRunner

from chainsleuth.auth.enums import Role
from chainsleuth.chain.store import ChainStore
from chainsleuth.cli import app as cli_app
from chainsleuth.core.config import Settings
from chainsleuth.ingest.etl import EtlSource
from chainsleuth.ingest.follow import Syncer, SyncOptions
from factories import login, make_user

runner = CliRunner()


@pytest.fixture
def backend() -> str:
    """The chain store does not depend on the operational database: SQLite is enough."""
    return "sqlite"


@pytest.fixture
def loaded(settings: Settings, tmp_path: Path) -> dict[str, object]:
    """The export (with its traces) ingested into the settings' store; the transaction."""
    tx = _export(tmp_path / "export")
    with ChainStore(settings.data_dir / "chains", durable=False) as store:
        Syncer(store, EtlSource("eth", tmp_path / "export"), SyncOptions()).run()
    return tx


EXPECTED = [  # by trace address; the delegatecall moved nothing and is not stored
    {"trace_address": "0", "to_address": PAYEE, "value": 7_000_000_000_000_000_000, "status": 1},
    {"trace_address": "0,0", "to_address": NESTED, "value": 1_000, "status": 1},
    {"trace_address": "1", "to_address": REVERTED, "value": 123, "status": 0},
]


def test_api_lists_internal_transfers(
    loaded: dict[str, object], client: TestClient, session: Session, settings: Settings
) -> None:
    login(client, make_user(session, settings, role=Role.INVESTIGATOR))
    answer = client.get(f"/api/v1/chains/eth/txs/{loaded['hash']}")
    assert answer.status_code == 200, answer.text
    internal = answer.json()["internal_transfers"]
    router = str(loaded["to_address"]).lower()
    for t in internal:  # addresses are shown in checksum case
        t["from_address"], t["to_address"] = t["from_address"].lower(), t["to_address"].lower()
    assert [
        {k: t[k] for k in ("trace_address", "to_address", "value", "status")} for t in internal
    ] == EXPECTED
    assert [t["from_address"] for t in internal] == [router, PAYEE, router]
    assert [(t["trace_type"], t["call_type"], t["error"]) for t in internal] == [
        ("call", "call", None),
        ("call", "call", None),
        ("call", "call", "Reverted"),
    ]

    page = client.get(f"/chains/eth/txs/{loaded['hash']}")
    assert page.status_code == 200
    assert 'data-testid="internal-transfers"' in page.text
    text = page.text.lower()
    assert f"/chains/eth/addresses/{PAYEE}" in text and "7 eth" in text
    assert "reverted" in text and DELEGATE not in text


def test_cli_shows_internal_transfers(loaded: dict[str, object], settings: Settings) -> None:
    env = {"CHAINSLEUTH_DATA_DIR": str(settings.data_dir), "COLUMNS": "250"}
    shown = runner.invoke(cli_app, ["chain", "tx", "eth", str(loaded["hash"]), "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    internal = json.loads(shown.output)["internal_transfers"]
    assert [(t["trace_address"], t["value"]) for t in internal] == [
        (e["trace_address"], e["value"]) for e in EXPECTED
    ]
    text = runner.invoke(cli_app, ["chain", "tx", "eth", str(loaded["hash"])], env=env)
    assert text.exit_code == 0, text.output
    assert "Internal transfers" in text.output and PAYEE in text.output.lower()
    assert "failed (Reverted)" in text.output


def test_a_transaction_without_traces_lists_none(
    loaded: dict[str, object], settings: Settings
) -> None:
    with ChainStore(settings.data_dir / "chains", durable=False) as store, store.reader() as r:
        others = store.con.sql(
            "SELECT hash FROM eth_txs WHERE hash != ? LIMIT 1", params=[loaded["hash"]]
        ).fetchall()
        assert len(others) == 1
        assert r.tx("eth", others[0][0]).internal_transfers == []

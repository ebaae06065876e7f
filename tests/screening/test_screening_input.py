"""Screenings refuse bad input with a reason and write nothing; who may screen and read;
the CLI (``chainsleuth screen``, ``chainsleuth risk address``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from screening_helpers import TokenFor, plain_users, ransom_addresses
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth.enums import Role
from chainsleuth.cli import app
from chainsleuth.core.config import Settings
from chainsleuth.risk.screening_models import Screening

BAD: list[tuple[dict[str, Any], str]] = [
    ({"chain": "doge"}, "unknown chain"),
    ({"asset": "SHIB"}, "unknown asset 'SHIB' on Bitcoin"),
    ({"address": "not-an-address"}, "not-an-address"),
    ({"tx_hash": "abc123"}, "is not a transaction or block hash"),
    ({"amount": -5}, "must not be negative"),
    ({"amount": "12.5"}, "not a whole number"),
    ({"amount": 1.5}, "valid integer"),
    ({"amount": str(21_000_001 * 10**8)}, "more BTC than there is"),
    ({"account_id": "ACC-NOPE"}, "unknown customer account 'ACC-NOPE'"),
    ({"direction": "sideways"}, "deposit"),
    ({"address": None}, "give the address, the transaction hash or both"),
]


@pytest.mark.parametrize(("change", "reason"), BAD)
def test_bad_input_is_refused_and_nothing_is_stored(
    client: TestClient, session: Session, world: Path, world_data: Path, token_for: TokenFor,
    change: dict[str, Any], reason: str,
) -> None:  # fmt: skip
    headers = token_for(Role.INVESTIGATOR)
    body = {"chain": "btc", "direction": "deposit", "address": plain_users(world, 1)[0],
            "amount": 1000, **change}  # fmt: skip
    r = client.post("/api/v1/screenings", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert reason in r.text
    assert session.scalar(select(func.count(Screening.id))) == 0
    assert (
        session.scalar(
            select(func.count(AuditEvent.seq)).where(AuditEvent.action == "risk.screening.create")
        )
        == 0
    )


def test_unknown_transaction_without_address_is_404(
    client: TestClient, world_data: Path, token_for: TokenFor
) -> None:
    r = client.post(
        "/api/v1/screenings",
        json={"chain": "btc", "direction": "deposit", "tx_hash": "ab" * 32, "amount": 1},
        headers=token_for(Role.INVESTIGATOR),
    )
    assert r.status_code == 404 and "no transaction" in r.json()["error"]["message"]


def test_officers_and_partners_get_nothing(
    client: TestClient, world: Path, world_data: Path, token_for: TokenFor
) -> None:
    body = {"chain": "btc", "direction": "deposit", "address": plain_users(world, 1)[0],
            "amount": 1}  # fmt: skip
    for role in (Role.LE_OFFICER, Role.PARTNER, Role.TRAINEE):
        headers = token_for(role)
        assert client.post("/api/v1/screenings", json=body, headers=headers).status_code == 403
        assert client.get("/api/v1/screenings", headers=headers).status_code == 403
        assert client.get("/api/v1/screenings/1", headers=headers).status_code == 403
        risk = client.get(f"/api/v1/chains/btc/addresses/{body['address']}/risk", headers=headers)
        assert risk.status_code == 403
    # a legal reviewer reads screenings but does not screen
    legal = token_for(Role.LEGAL_REVIEWER)
    assert client.get("/api/v1/screenings", headers=legal).status_code == 200
    assert client.post("/api/v1/screenings", json=body, headers=legal).status_code == 403


def test_cli_screen_and_risk(
    settings: Settings, session: Session, world: Path, world_data: Path, world_labels: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("CHAINSLEUTH_ENV", "test")
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", settings.database_url)
    assert settings.secret_key is not None
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", settings.secret_key.get_secret_value())
    session.close()
    runner = CliRunner()
    ransom = next(a for a in ransom_addresses(world))
    out = runner.invoke(app, ["risk", "address", "btc", ransom])
    assert out.exit_code == 0, out.output
    assert "severe" in out.output and "ransomware" in out.output
    args = ["screen", "--chain", "btc", "--address", ransom, "--amount", "250000",
            "--direction", "withdrawal", "--key", "cli-1"]  # fmt: skip
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "HOLD" in first.output and "policy version 1" in first.output
    assert "ransomware" in first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "stored earlier, same key" in again.output
    clash = runner.invoke(app, [a if a != "250000" else "1" for a in args])
    assert clash.exit_code == 2 and "different request" in clash.output
    bad = runner.invoke(app, ["screen", "--chain", "btc", "--address", ransom, "--amount",
                              "-1", "--direction", "deposit"])  # fmt: skip
    assert bad.exit_code == 2 and "must not be negative" in bad.output
    assert "Traceback" not in bad.output
    history = runner.invoke(app, ["risk", "policy", "history"])
    assert history.exit_code == 0 and "system" in history.output

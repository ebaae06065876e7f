"""The risk API on the small world: models, score, typologies; who may activate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Permission, Role
from chainsleuth.core.config import Settings
from chainsleuth.risk import model as risk_model
from chainsleuth.risk import registry
from factories import bearer, make_user
from security_helpers import make_token


def peel_address(world: Path) -> str:
    """The first address of the world's (first) ransomware peel chain, from its truth."""
    rows = pq.read_table(world / "truth" / "typologies.parquet").to_pylist()
    return str(next(r for r in rows if r["typology"] == "peel_chain")["addresses"][0])


@pytest.fixture
def backend() -> str:
    return "sqlite"


def as_role(client: TestClient, session: Session, settings: Settings, role: Role) -> None:
    account = make_user(session, settings, role=role, with_mfa=False)
    client.headers.update(bearer(make_token(session, account, Permission.CHAIN_READ)))


@pytest.fixture
def trained(world: Path, risk_store: Path, settings: Settings) -> str:
    root = settings.data_dir / "chains"
    shutil.copytree(risk_store, root)
    version, _ = risk_model.train(
        root, world, models=registry.models_dir(settings.data_dir), trees=20
    )
    return version


def test_risk_api(
    trained: str, client: TestClient, session: Session, settings: Settings, world: Path
) -> None:
    PEEL_ADDRESS = peel_address(world)  # noqa: N806
    as_role(client, session, settings, Role.INVESTIGATOR)
    listed = client.get("/api/v1/risk/models")
    assert listed.status_code == 200, listed.text
    assert [v["version"] for v in listed.json()["versions"]] == [trained]
    score = client.get(f"/api/v1/chains/btc/addresses/{PEEL_ADDRESS}/risk/score")
    assert score.status_code == 200, score.text
    assert 0 <= score.json()["probability"] <= 1 and score.json()["contributions"]
    found = client.get(
        f"/api/v1/chains/btc/addresses/{PEEL_ADDRESS}/risk/typologies?typology=peel_chain"
    )
    assert found.status_code == 200, found.text
    assert [i["typology"] for i in found.json()] == ["peel_chain"]
    assert " transactions in a row" in found.json()[0]["explanation"]
    refused = client.post(f"/api/v1/risk/models/{trained}/activate")
    assert refused.status_code == 403 and "administrator" in refused.text
    assert client.get("/api/v1/risk/models/v0999").status_code == 404
    assert client.get("/api/v1/chains/doge/addresses/x/risk/score").status_code == 422
    bad = client.get(f"/api/v1/chains/btc/addresses/{PEEL_ADDRESS}/risk/typologies?typology=x")
    assert bad.status_code == 422


def test_admin_activates(
    trained: str, client: TestClient, session: Session, settings: Settings
) -> None:
    as_role(client, session, settings, Role.ADMIN)
    done = client.post(f"/api/v1/risk/models/{trained}/activate")
    assert done.status_code == 200, done.text
    assert registry.active(registry.models_dir(settings.data_dir)) == trained
    assert client.post("/api/v1/risk/models/v0999/activate").status_code == 404

"""The exchange tests: the session world's export, and a small cut of it (the world's money
mules and a few ordinary customers with deposits and withdrawals) that imports in a blink."""

from __future__ import annotations

from pathlib import Path

import pytest
from exchange_helpers import cut_export, mule_customers, read_csv


@pytest.fixture(scope="session")
def export(world: Path) -> Path:
    return world / "exchange"


@pytest.fixture(scope="session")
def mules(world: Path) -> set[str]:
    return mule_customers(world)


@pytest.fixture(scope="session")
def mini(tmp_path_factory: pytest.TempPathFactory, export: Path, mules: set[str]) -> Path:
    """A small export: the mules and five customers with both deposits and withdrawals."""
    deposits = {r["customer_id"] for r in read_csv(export / "deposits.csv")}
    withdrawals = {r["customer_id"] for r in read_csv(export / "withdrawals.csv")}
    both = sorted((deposits & withdrawals) - mules)[:5]
    return cut_export(export, tmp_path_factory.mktemp("mini") / "exchange", mules | set(both))


@pytest.fixture
def cli_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> str:
    """The CLI's environment points at this test's migrated database."""
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", db_url)
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", "cli-test-secret-" + "z" * 40)
    monkeypatch.setenv("COLUMNS", "200")
    return db_url

"""The package tests: a small cut of the world's exchange export (its money mules, who are
linked, and customers with deposits, withdrawals, ledger rows and logins), and the world in
a chain store with its service contracts and the categories of its labelled addresses."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from packages_helpers import IMPORTER, Store, cut_export, mule_customers, read_csv, truth_categories
from sqlalchemy.orm import Session

from chainsleuth.core.config import Settings
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.importer import import_export
from chainsleuth.tracing.config import save_services, services_from_world
from chainsleuth.world.load import load_world
from factories import TEST_SECRET


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    """The command line sees the test's database, data folder and secret."""
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", settings.sqlalchemy_url)
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("COLUMNS", "200")
    return settings


@pytest.fixture(scope="session")
def store(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("packages") / "chains"
    load_world(world, store_root=root)
    return Store(root, services_from_world(world), truth_categories(world))


@pytest.fixture(scope="session")
def mini(tmp_path_factory: pytest.TempPathFactory, world: Path) -> Path:
    """The mules and five customers with deposits, withdrawals and logins."""
    export = world / "exchange"
    mules = mule_customers(world)
    deposits = {r["customer_id"] for r in read_csv(export / "deposits.csv")}
    withdrawals = {r["customer_id"] for r in read_csv(export / "withdrawals.csv")}
    both = sorted((deposits & withdrawals) - mules)[:5]
    return cut_export(export, tmp_path_factory.mktemp("mini") / "exchange", mules | set(both))


@pytest.fixture
def imported(session: Session, settings: Settings, mini: Path) -> Path:
    import_export(session, directory=mini, keys=exchange_service.keys_for(settings), actor=IMPORTER)
    return mini


@pytest.fixture
def data_dir(settings: Settings, store: Store) -> Path:
    """The test app's data folder, holding the world's store, services and labels."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "chains").symlink_to(store.root)
    save_services(store.services, settings.data_dir / "tracing.yaml")
    with (settings.data_dir / "tracing-labels.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["chain", "address", "category"])
        for (chain, address), category in sorted(store.categories.items()):
            writer.writerow([chain, address, category])
    return settings.data_dir

"""The demo's watch list: the world's cash-out senders watched, their alerts raised from the
chain data, and a second run that changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alert_helpers import import_customers
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.alerts import demo
from chainsleuth.alerts.models import Alert, WatchlistEntry
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import ConfigurationError
from factories import make_settings


def test_demo_seed_is_idempotent(
    session: Session,
    settings: Settings,
    world: Path,
    world_store: Path,
    tmp_path: Path,
    db_url: str,
) -> None:
    with pytest.raises(ConfigurationError):
        demo.seed(settings, world=world)
    demo_settings = make_settings(tmp_path, db_url, demo=True)
    shutil.copytree(world_store, demo_settings.data_dir / "chains")
    customers = {
        line.split(",")[0].strip('"')
        for line in (world / "exchange" / "deposit_addresses.csv").read_text().splitlines()[1:]
    }
    import_customers(session, settings, world, tmp_path, customers)
    session.close()

    added, results = demo.seed(demo_settings, world=world)
    assert added > 0
    assert sum(r.hits for r in results) > 0
    with Session(bind=session.get_bind()) as s:
        entries = s.scalar(select(func.count()).select_from(WatchlistEntry))
        alerts = s.scalars(select(Alert)).all()
        assert entries == added
        assert alerts and {a.source for a in alerts} == {"watchlist"}
        assert all("cash-out address of" in a.reasons[0] for a in alerts)
        n_alerts = len(alerts)

    again, results = demo.seed(demo_settings, world=world)
    assert again == 0 and sum(r.hits for r in results) == 0
    with Session(bind=session.get_bind()) as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == n_alerts

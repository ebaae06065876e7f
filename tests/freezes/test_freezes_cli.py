"""``chainsleuth freezes list|show|due|digest`` and ``chainsleuth ledger open|check|totals``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from chainsleuth.auth.enums import Role
from chainsleuth.cli import app
from chainsleuth.core.config import Settings
from chainsleuth.core.models import utcnow
from chainsleuth.freezes import service as freeze_service
from chainsleuth.ledger.models import LedgerAccount
from factories import make_user
from funds_helpers import actor_of, freeze_data, make_case, make_customer

runner = CliRunner()
BTC = 100_000_000


def cs(*args: str) -> Result:
    return runner.invoke(app, list(args))


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> str:
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", db_url)
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", "cli-test-secret-" + "z" * 40)
    monkeypatch.setenv("COLUMNS", "200")
    return db_url


def test_ledger_and_freezes_commands(
    cli_env: str, session: Session, settings: Settings, tmp_path: Path
) -> None:
    customer = make_customer(session, settings, {"BTC": 2 * BTC, "ETH": 0})
    inv = actor_of(make_user(session, settings, role=Role.INVESTIGATOR, with_mfa=False))
    rev = actor_of(make_user(session, settings, role=Role.LEGAL_REVIEWER, with_mfa=False))
    case = make_case(session)
    session.commit()

    r = cs("ledger", "open")
    assert r.exit_code == 0, r.output
    assert "opened 2 account(s)" in r.output
    assert "opened 0 account(s)" in cs("ledger", "open").output

    f = freeze_service.request_freeze(
        session,
        actor=inv,
        data=freeze_data(
            customer.id, case, review_at=utcnow() + timedelta(days=2), expires_at=None
        ),
    )
    freeze_service.approve(session, actor=rev, freeze_id=f.id)
    session.close()

    r = cs("freezes", "list")
    assert r.exit_code == 0, r.output
    assert customer.id in r.output and "active" in r.output and "2 BTC" in r.output
    assert "1 freeze(s)" in cs("freezes", "list", "--status", "active").output
    assert "0 freeze(s)" in cs("freezes", "list", "--status", "released").output
    r = cs("freezes", "show", str(f.id))
    assert r.exit_code == 0, r.output
    assert "Ledger trail" in r.output and f"acct:{customer.id}-BTC:held" in r.output
    r = cs("freezes", "due", "--days", "7")
    assert "review" in r.output and "1 date(s) due within 7 day(s)" in r.output
    assert "0 date(s)" in cs("freezes", "due", "--days", "1").output
    out = tmp_path / "digests" / "today.txt"
    r = cs("freezes", "digest", "--out", str(out))
    assert r.exit_code == 0 and f"freeze #{f.id}" in r.output
    assert out.read_text() == r.output
    r = cs("ledger", "check")
    assert r.exit_code == 0 and "sound" in r.output
    assert "held" in cs("ledger", "totals").output

    for bad in (("freezes", "show", "999"), ("freezes", "list", "--status", "x")):
        r = cs(*bad)
        assert r.exit_code == 2 and "Traceback" not in r.output
        assert len(r.output.strip().splitlines()) == 1

    # a broken ledger is reported and exits 1
    with Session(session.get_bind()) as s:
        held = s.query(LedgerAccount).filter(LedgerAccount.bucket == "held").first()
        assert held is not None
        held.balance = held.balance + 1
        s.commit()
    r = cs("ledger", "check")
    assert r.exit_code == 1 and "broken" in r.output

"""Request metrics on a known set: four requests from two countries, one delivered through
the whole path with data produced, one open past its SLA, an emergency and a preservation
request counted apart; the API, the CLI and the page agree."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from packages_helpers import approve_request, submit, to_review, with_token
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chainsleuth.audit.service import Actor
from chainsleuth.auth.enums import Role
from chainsleuth.cli import app as cli_app
from chainsleuth.core.config import Settings
from chainsleuth.exchange.models import Account, Deposit
from chainsleuth.packages import service as package_service
from chainsleuth.packages import stats as stats_module
from chainsleuth.requests.models import LeRequest
from factories import TEST_SECRET, login, make_agency, make_user, make_verified_officer

T = datetime(2026, 1, 10, tzinfo=UTC)
H = timedelta(hours=1)


def _set(session: Session, rid: int, **values: object) -> None:
    req = session.get(LeRequest, rid)
    assert req is not None
    for k, v in values.items():
        setattr(req, k, v)
    session.commit()


@pytest.fixture
def known(client: TestClient, session: Session, settings: Settings, imported: Path) -> str:
    gb = with_token(session, make_verified_officer(session, settings, agency=make_agency(session)))
    de_agency = make_agency(session, country="DE")
    de = with_token(session, make_verified_officer(session, settings, agency=de_agency))
    investigator = with_token(session, make_user(session, settings, role=Role.INVESTIGATOR))
    reviewer = with_token(session, make_user(session, settings, role=Role.LEGAL_REVIEWER))
    cid = session.scalar(select(Deposit.customer_id).order_by(Deposit.customer_id))
    assert cid
    session.commit()

    r1 = submit(client, gb, f"customer_id: {cid}\n")
    to_review(client, investigator, r1)
    approve_request(client, reviewer, r1)
    req = session.get(LeRequest, r1)
    assert req is not None
    g = package_service.gather(
        session, actor=Actor.system("t"), src=package_service.sources(settings), request=req
    )
    package_service.select_categories(
        session, actor=Actor.system("t"), gathering=g, categories=["deposits"]
    )
    package_service.approve(
        session, actor=Actor.system("t"), settings=settings, gathering=g,
        src=package_service.sources(settings),
    )  # fmt: skip
    _set(session, r1, received_at=T, acknowledged_at=T + 0.5 * H, responded_at=T + 10 * H,
         sla_due_at=T + 14 * 24 * H)  # fmt: skip

    r2 = submit(client, gb, f"customer_id: {cid}\n")
    t2 = datetime(2026, 1, 20, tzinfo=UTC)
    _set(session, r2, received_at=t2, acknowledged_at=t2 + H, sla_due_at=t2 + 24 * H)

    r3 = submit(client, de, f"customer_id: {cid}\n", type="emergency_disclosure")
    t3 = datetime(2026, 2, 1, tzinfo=UTC)
    _set(session, r3, received_at=t3, acknowledged_at=t3 + 0.25 * H, responded_at=t3 + 2 * H,
         sla_due_at=t3 + 4 * H, status="delivered", is_open=False)  # fmt: skip

    r4 = submit(client, de, f"customer_id: {cid}\n", type="preservation")
    t4 = datetime(2026, 2, 3, tzinfo=UTC)
    _set(session, r4, received_at=t4, acknowledged_at=t4 + 2 * H, responded_at=t4 + 60 * H,
         sla_due_at=t4 + 48 * H, status="delivered", is_open=False)  # fmt: skip
    return cid


def test_stats_on_a_known_set(
    client: TestClient, session: Session, settings: Settings, known: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    s = stats_module.compute(session)
    accounts = session.scalar(select(func.count()).where(Account.customer_id == known))
    session.commit()
    assert s.requests == 4
    assert s.by_country == {"GB": 2, "DE": 2}
    assert s.by_month == {"2026-01": 2, "2026-02": 2}
    assert s.by_type == {"information_request": 2, "emergency_disclosure": 1, "preservation": 1}
    assert (s.all.median_hours_to_acknowledge, s.all.median_hours_to_respond) == (0.75, 10.0)
    assert s.all.sla_breaches == 2 and s.all.responded == 3
    assert (s.emergency.requests, s.emergency.median_hours_to_respond) == (1, 2.0)
    assert s.emergency.sla_breaches == 0
    assert (s.preservation.median_hours_to_respond, s.preservation.sla_breaches) == (60.0, 1)
    assert (s.other.requests, s.other.sla_breaches) == (2, 1)
    assert s.other.median_hours_to_acknowledge == 0.75
    assert s.produced == 1 and s.share_produced == round(1 / 3, 4)
    assert s.customers_affected == 1 and s.accounts_affected == accounts
    assert s.audited_responses == 1  # the two set by hand have no audit entry
    only_feb = stats_module.compute(session, since=datetime(2026, 2, 1, tzinfo=UTC))
    session.commit()
    assert only_feb.requests == 2 and only_feb.by_country == {"DE": 2}

    # the API, the CLI and the page give the same figures
    reviewer = make_user(session, settings, role=Role.LEGAL_REVIEWER)
    officer = make_user(session, settings, role=Role.LE_OFFICER)
    token = with_token(session, reviewer)
    api = client.get("/api/v1/request-stats", headers=token.headers).json()
    assert api["all"] == s.all.model_dump() and api["by_agency"] == s.by_agency
    assert client.get("/api/v1/request-stats", headers=with_token(session, officer).headers
                      ).status_code == 403  # fmt: skip
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", settings.sqlalchemy_url)
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", TEST_SECRET)
    result = CliRunner().invoke(cli_app, ["request-stats", "--json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    assert cli["all"] == api["all"] and cli["by_month"] == api["by_month"]
    result = CliRunner().invoke(cli_app, ["request-stats", "--since", "2026-02-01"])
    assert result.exit_code == 0 and "2 requests" in result.output
    session.expire_on_commit = False
    assert reviewer.user.username
    session.commit()
    login(client, reviewer)
    page = client.get("/requests/stats")
    assert page.status_code == 200
    assert 'data-testid="stats-total">4<' in page.text and "33.3 %" in page.text

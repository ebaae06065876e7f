"""The screening lane (``risk/screening_lane.py``) answers what the FastAPI route answers:
the same decisions, rows, alerts and audit events; every refusal, and every request it does
not take (a cookie, another content type), is made by the full path."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from screening_helpers import TokenFor, our_cash_outs, plain_users, ransom_addresses, scheme
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.alerts.models import Alert
from chainsleuth.app import create_app
from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth.enums import Role
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.core.errors import ConfigurationError
from chainsleuth.risk.screening_models import Screening

LANE = "x-screening-path"
#: what differs between two screenings of the same request
OWN = {"id", "created_at", "idempotency_key", "alert_id"}


def _requests(world: Path) -> list[dict[str, Any]]:
    victim = scheme(world, "RW-1")["payments"][0]
    cash = [c["address"] for c in our_cash_outs(world, "RW-1")][:3]
    return [
        {"chain": "btc", "direction": "withdrawal", "tx_hash": victim["tx_hash"],
         "address": ransom_addresses(world)[0], "amount": int(victim["amount"])},
        {"chain": "btc", "direction": "deposit", "tx_hash": victim["tx_hash"], "amount": 5},
        *({"chain": "btc", "direction": "deposit", "address": a, "amount": 1000} for a in cash),
        *({"chain": "btc", "direction": "deposit", "address": a, "amount": "150000",
           "asset": "btc"} for a in plain_users(world, 4)),
    ]  # fmt: skip


def _same(answer: dict[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in answer["result"].items() if k != "computed_at"}
    return {k: v for k, v in answer.items() if k not in OWN} | {"result": result}


def test_the_lane_and_the_route_give_the_same_screenings(
    client: TestClient, session: Session, settings: Settings, database: Database, world: Path,
    precomputed: list[object], token_for: TokenFor, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    headers = token_for(Role.INVESTIGATOR)
    requests = _requests(world)
    lane = []
    for i, body in enumerate(requests):
        r = client.post("/api/v1/screenings", json=body,
                        headers={**headers, "Idempotency-Key": f"lane-{i}"})  # fmt: skip
        assert r.status_code == 201, r.text
        assert r.headers[LANE] == "lane"
        lane.append(r.json())
    # the same key again: the stored screening, from the lane too
    again = client.post("/api/v1/screenings", json=requests[0],
                        headers={**headers, "Idempotency-Key": "lane-0"})  # fmt: skip
    assert again.status_code == 200 and again.json() == lane[0]
    assert again.headers[LANE] == "lane"
    # the key in the body instead of the header: the same stored screening
    again = client.post("/api/v1/screenings", json={**requests[0], "idempotency_key": "lane-0"},
                        headers=headers)  # fmt: skip
    assert again.status_code == 200 and again.json() == lane[0]
    # the same key for another request: the route's 409, and nothing written
    other = {**requests[0], "amount": requests[0]["amount"] + 1}
    r = client.post("/api/v1/screenings", json=other,
                    headers={**headers, "Idempotency-Key": "lane-0"})  # fmt: skip
    assert r.status_code == 409 and "different request" in r.text and LANE not in r.headers
    # the full path, with the lane turned off
    monkeypatch.setenv("CHAINSLEUTH_SCREENING_LANE", "0")
    with TestClient(create_app(settings, database)) as full:
        route = []
        for i, body in enumerate(requests):
            r = full.post("/api/v1/screenings", json=body,
                          headers={**headers, "Idempotency-Key": f"route-{i}"})  # fmt: skip
            assert r.status_code == 201, r.text
            assert LANE not in r.headers
            route.append(r.json())
    assert [_same(a) for a in lane] == [_same(a) for a in route]
    assert {a["action"] for a in lane} >= {"hold", "allow"}
    assert [a["alert_id"] is None for a in lane] == [a["alert_id"] is None for a in route]
    # each wrote one row, one audit event and its alert, through either path
    assert session.scalar(select(func.count(Screening.id))) == 2 * len(requests)
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "risk.screening.create")
    ).all()
    assert sorted(int(e.object_id or 0) for e in events) == sorted(a["id"] for a in lane + route)
    assert {e.channel for e in events} == {"api"}
    raised = [a["alert_id"] for a in lane + route if a["alert_id"] is not None]
    assert raised
    for alert_id in raised:
        alert = session.get(Alert, alert_id)
        assert alert is not None and alert.screening_id in {a["id"] for a in lane + route}
    session.rollback()  # SQLite: hold no transaction while the app works
    # what the lane answered reads back the same from the store
    stored = client.get(f"/api/v1/screenings/{lane[0]['id']}", headers=headers)
    assert stored.status_code == 200 and stored.json() == lane[0]


def test_refusals_and_requests_it_does_not_take_go_to_the_full_path(
    client: TestClient, session: Session, settings: Settings, world: Path, world_data: Path,
    token_for: TokenFor,
) -> None:  # fmt: skip
    body = {"chain": "btc", "direction": "deposit", "address": plain_users(world, 1)[0],
            "amount": 1000}  # fmt: skip
    screener = token_for(Role.INVESTIGATOR)
    # a bad body: the route's 422 with its reason
    r = client.post("/api/v1/screenings", json={**body, "amount": -5}, headers=screener)
    assert r.status_code == 422 and "must not be negative" in r.text and LANE not in r.headers
    # a token that is not one: 401; a role that may not screen: 403
    r = client.post("/api/v1/screenings", json=body, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and LANE not in r.headers
    r = client.post("/api/v1/screenings", json=body, headers=token_for(Role.LE_OFFICER))
    assert r.status_code == 403 and LANE not in r.headers
    # an idempotency key longer than the route accepts: the route's refusal
    r = client.post("/api/v1/screenings", json=body,
                    headers={**screener, "Idempotency-Key": "k" * 200})  # fmt: skip
    assert r.status_code == 422 and LANE not in r.headers
    # not JSON: the route decides
    r = client.post("/api/v1/screenings", content=b"chain=btc", headers={
        **screener, "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 422 and LANE not in r.headers
    # a streamed body (no Content-Length) over the limit: the route's 413
    chunks = iter([b'{"chain": "btc", "address": "', b"x" * (settings.max_body_bytes + 1)])
    r = client.post("/api/v1/screenings", content=chunks,
                    headers={**screener, "Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 413 and LANE not in r.headers
    assert session.scalar(select(func.count(Screening.id))) == 0
    session.rollback()  # SQLite: hold no transaction while the app writes
    # a request with a cookie (a browser's) takes the full path, with its checks
    r = client.post("/api/v1/screenings", json=body,
                    headers={**screener, "Cookie": "chainsleuth_session=x"})  # fmt: skip
    assert LANE not in r.headers
    # and a good one is answered by the lane
    r = client.post("/api/v1/screenings", json=body, headers=screener)
    assert r.status_code == 201 and r.headers[LANE] == "lane"


def test_the_lane_works_on_a_bounded_number_of_screenings_at_once(
    settings: Settings, database: Database, world: Path, precomputed: list[object],
    token_for: TokenFor, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """``CHAINSLEUTH_SCREENING_THREADS`` bounds the screenings in work; the rest wait and
    are all answered. A value that is not a positive whole number stops the start."""
    import threading

    monkeypatch.setenv("CHAINSLEUTH_SCREENING_THREADS", "zero")
    with pytest.raises(ConfigurationError, match="CHAINSLEUTH_SCREENING_THREADS"):
        create_app(settings, database)
    monkeypatch.setenv("CHAINSLEUTH_SCREENING_THREADS", "1")
    headers = token_for(Role.INVESTIGATOR)
    bodies = [{"chain": "btc", "direction": "deposit", "address": a, "amount": 1000}
              for a in plain_users(world, 6)]  # fmt: skip
    statuses: list[tuple[int, str | None]] = []
    with TestClient(create_app(settings, database)) as client:

        def one(i: int) -> None:
            r = client.post("/api/v1/screenings", json=bodies[i],
                            headers={**headers, "Idempotency-Key": f"bounded-{i}"})  # fmt: skip
            statuses.append((r.status_code, r.headers.get(LANE)))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert sorted(statuses) == [(201, "lane")] * len(bodies)


def test_a_server_warms_its_screening_path_before_serving(
    settings: Settings, database: Database, session: Session, precomputed: list[object],
    world: Path, token_for: TokenFor, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """With a precomputed table, each server process assesses an address, a deposit and
    a withdrawal of every chain before it serves, and makes a scratch set per lane thread;
    it writes nothing. ``CHAINSLEUTH_SCREENING_WARM=0`` turns it off."""
    monkeypatch.setenv("CHAINSLEUTH_SCREENING_THREADS", "3")
    headers = token_for(Role.INVESTIGATOR)
    session.commit()
    with caplog.at_level(logging.INFO, logger="chainsleuth.risk.screening_warm"):
        with TestClient(create_app(settings, database)) as client:
            assert session.scalar(select(func.count(Screening.id))) == 0
            assert session.scalar(select(func.count(Alert.id))) == 0
            session.rollback()  # SQLite: hold no transaction while the app writes
            body = {"chain": "btc", "direction": "deposit", "address": plain_users(world, 1)[0],
                    "amount": 1000}  # fmt: skip
            r = client.post("/api/v1/screenings", json=body, headers=headers)
            assert r.status_code == 201 and r.headers[LANE] == "lane"
    warmed = [r.getMessage() for r in caplog.records if "warmed" in r.getMessage()]
    assert len(warmed) == 1
    for line in ("btc address", "btc deposit", "btc withdrawal", "eth address", "3 scratch sets"):
        assert line in warmed[0]
    caplog.clear()
    monkeypatch.setenv("CHAINSLEUTH_SCREENING_WARM", "0")
    with caplog.at_level(logging.INFO, logger="chainsleuth.risk.screening_warm"):
        with TestClient(create_app(settings, database)):
            pass
    assert not [r for r in caplog.records if "warmed" in r.getMessage()]

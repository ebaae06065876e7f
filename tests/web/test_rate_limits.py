"""Rate limits: sign-in attempts and API calls per client address."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from limits.storage import MemoryStorage
from sqlalchemy import select

from chainsleuth.app import create_app
from chainsleuth.audit.models import AuditEvent
from chainsleuth.core.db import Database
from chainsleuth.core.errors import RateLimited
from chainsleuth.web.ratelimit import RateLimits
from factories import csrf_from, make_settings


def test_signin_attempts_are_limited_per_address(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url, rate_limit_signin="3/minute")
    db = Database.from_settings(settings)
    try:
        with TestClient(create_app(settings, db)) as client:
            token = csrf_from(client.get("/login").text)
            form = {"username": "nobody", "password": "wrong-password-1", "csrf_token": token}
            statuses = [client.post("/login", data=form).status_code for _ in range(4)]
            assert statuses == [401, 401, 401, 429]
            limited = client.post("/login", data=form, headers={"accept": "application/json"})
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) >= 1
            assert limited.json()["error"]["code"] == "rate_limited"
        with db.session() as s:
            actions = s.scalars(select(AuditEvent.action)).all()
        assert "security.rate_limited" in actions
    finally:
        db.dispose()


def test_api_calls_are_limited_per_address(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url, rate_limit_api="5/minute")
    db = Database.from_settings(settings)
    try:
        with TestClient(create_app(settings, db)) as client:
            statuses = [client.get("/api/v1/health").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
    finally:
        db.dispose()


def test_the_window_moves_and_expired_entries_are_swept_without_a_thread_per_hit(
    tmp_path: Path, db_url: str
) -> None:
    limits = RateLimits(make_settings(tmp_path, db_url, rate_limit_api="50/second"))
    storage = limits._limiter.storage
    assert isinstance(storage, MemoryStorage)
    for _ in range(49):
        limits.hit(limits.api, "api", "10.0.0.1")
    time.sleep(0.05)  # the storage's first timer (10 ms, from its constructor) has ended
    limits.hit(limits.api, "api", "10.0.0.1")
    timer = storage.timer
    time.sleep(0.05)  # limits' own storage would start a new sweep thread after 10 ms
    with pytest.raises(RateLimited) as refused:
        limits.hit(limits.api, "api", "10.0.0.1")
    assert refused.value.retry_after == 1
    limits.hit(limits.api, "api", "10.0.0.2")  # another client has its own window
    assert storage.timer is timer  # one sweep scheduled for the whole burst
    time.sleep(1.1)
    limits.hit(limits.api, "api", "10.0.0.1")  # a second later, the window has moved
    other = limits.api.key_for("api", "10.0.0.2")
    assert storage.events.get(other)
    deadline = time.monotonic() + 5
    while storage.events.get(other) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not storage.events.get(other)  # its entry expired and was swept

"""Rate limits: sign-in attempts and API calls per client address."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from chainsleuth.app import create_app
from chainsleuth.audit.models import AuditEvent
from chainsleuth.core.db import Database
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

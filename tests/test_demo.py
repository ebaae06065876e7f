"""The demo world: ``chainsleuth demo seed`` creates a user of every role, only in demo mode,
idempotently, and the printed logins work without a second factor."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chainsleuth.app import create_app
from chainsleuth.audit import service as audit
from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth.enums import Role
from chainsleuth.auth.models import User
from chainsleuth.cli import app as cli_app
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.core.errors import ConfigurationError
from chainsleuth.demo import service as demo
from chainsleuth.orgs.models import Agency, Organisation
from factories import Account, csrf_from, login, make_settings

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "200")


def counts(database: Database) -> dict[str, int]:
    with database.session() as s:
        return {
            model.__name__: s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Agency, Organisation, User, AuditEvent)
        }


def test_seed_is_refused_outside_demo_mode(cli_env: None, database: Database) -> None:
    result = runner.invoke(cli_app, ["demo", "seed"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: demo accounts are created only with CHAINSLEUTH_DEMO=1"
    )
    assert counts(database) == {"Agency": 0, "Organisation": 0, "User": 0, "AuditEvent": 0}


def test_the_service_refuses_too(session: Session, settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="CHAINSLEUTH_DEMO=1"):
        demo.seed(session, settings=settings)


def test_seed_creates_every_role_and_is_idempotent(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, database: Database
) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DEMO", "1")
    first = runner.invoke(cli_app, ["demo", "seed"])
    assert first.exit_code == 0, first.output
    for u in demo.USERS:
        assert u.username in first.stdout
    assert demo.DEMO_PASSWORD in first.stdout

    with database.session() as s:
        users = {u.username: u for u in s.scalars(select(User))}
        assert set(users) == {u.username for u in demo.USERS}
        assert {u.role for u in users.values()} == set(Role)  # all seven roles
        for wanted in demo.USERS:
            user = users[wanted.username]
            assert user.role is wanted.role
            assert (user.agency.name if user.agency else None) == wanted.agency
            assert (user.organisation.name if user.organisation else None) == wanted.organisation
            assert user.is_active and not user.mfa_enabled
        # officers' e-mail addresses are on their agency's domain
        assert users["olga"].email == "olga@mccu.police.example"
        entries = s.scalars(select(AuditEvent)).all()
        assert {(e.actor, e.channel) for e in entries} == {("demo-seed", "system")}
    before = counts(database)
    assert before == {"Agency": 2, "Organisation": 1, "User": len(demo.USERS), "AuditEvent": 11}

    again = runner.invoke(cli_app, ["demo", "seed"])
    assert again.exit_code == 0, again.output
    assert counts(database) == before  # nothing new, not even an audit entry
    verified = runner.invoke(cli_app, ["audit", "verify", "--json"])
    assert verified.exit_code == 0
    assert '"ok": true' in verified.stdout
    with database.session() as s:
        assert audit.verify(s).checked == before["AuditEvent"]


def test_the_demo_logins_work_without_a_second_factor(
    tmp_path: Path, db_url: str, database: Database
) -> None:
    settings = make_settings(tmp_path, db_url, demo=True)
    with database.session() as s:
        demo.seed(s, settings=settings)
        users = {u.username: u for u in s.scalars(select(User))}

    with TestClient(create_app(settings, database)) as client:
        for wanted in demo.USERS:
            client.cookies.clear()  # a fresh browser for each login
            account = Account(users[wanted.username], demo.DEMO_PASSWORD, totp_secret=None)
            signed_in = login(client, account)
            assert signed_in.headers["location"] == "/", wanted.username
            home = client.get("/")
            assert home.status_code == 200
            assert wanted.full_name in home.text
            assert client.get("/api/v1/me").json()["username"] == wanted.username

    # Outside the demo the same accounts must enrol a second factor (trainees are exempt).
    with TestClient(create_app(make_settings(tmp_path, db_url), database)) as client:
        for username, target in [("admin", "/mfa/enrol"), ("tom", "/")]:
            client.cookies.clear()
            page = client.get("/login")
            response = client.post(
                "/login",
                data={
                    "username": username,
                    "password": demo.DEMO_PASSWORD,
                    "csrf_token": csrf_from(page.text),
                },
                follow_redirects=False,
            )
            assert response.status_code == 303
            assert response.headers["location"].split("?")[0] == target, username

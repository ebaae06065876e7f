"""The ``chainsleuth`` command: migrations, accounts, agencies and organisations, the audit
chain. Every change is audited as the operator (``cli:<user>``, channel ``cli``); bad input is
one ``error: ...`` line on stderr and exit code 2, never a traceback.

Most commands run in-process through Typer's ``CliRunner``; a few run the installed command
in a subprocess, to check what an operator's shell really gets."""

from __future__ import annotations

import getpass
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from chainsleuth.audit import service as audit
from chainsleuth.audit.enums import Outcome
from chainsleuth.audit.models import AuditEvent
from chainsleuth.audit.service import Actor
from chainsleuth.auth.enums import Role
from chainsleuth.auth.models import User, WebSession
from chainsleuth.auth.passwords import verify_password
from chainsleuth.cli import app
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database, alembic_config
from chainsleuth.core.models import utcnow
from factories import make_user, unprotect_audit_log

OPERATOR = f"cli:{getpass.getuser()}"
STRONG = "Tr0ub4dor-and-more-2026"
runner = CliRunner()

#: the revision the migrations end at
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich tables and messages are not wrapped at 80 columns."""
    monkeypatch.setenv("COLUMNS", "200")


def flat(text: str) -> str:
    return " ".join(text.split())


def cs(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def refused(result: Result, message: str) -> str:
    """The command failed as a user error: exit 2, one line on stderr, no traceback."""
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    assert message in lines[0], lines[0]
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def cli_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> str:
    """The CLI's environment points at this test's migrated database."""
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", db_url)
    return db_url


def user_row(database: Database, username: str) -> User:
    with database.session() as s:
        user = s.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


def users_json() -> dict[str, dict[str, Any]]:
    rows = json.loads(ok(cs("users", "list", "--json")).stdout)
    return {row["username"]: row for row in rows}


def cli_entries(database: Database) -> list[AuditEvent]:
    with database.session() as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


# --- the database ---------------------------------------------------------------------------


def test_db_upgrade_then_current(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_db_url: str
) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", empty_db_url)
    head = HEAD
    assert f"database: empty; this version: {head} (needs `chainsleuth db upgrade`)" in (
        ok(cs("db", "current")).stdout
    )
    assert f"database upgraded from empty to {head}" in ok(cs("db", "upgrade")).stdout
    assert f"database already at revision {head}" in ok(cs("db", "upgrade")).stdout
    assert f"database: {head}; this version: {head} (up to date)" in ok(cs("db", "current")).stdout
    assert "audit chain intact: 0 entries" in ok(cs("audit", "verify")).stdout


# --- users ----------------------------------------------------------------------------------


def test_create_a_user_with_a_generated_password(cli_db: str, database: Database) -> None:
    result = ok(
        cs(
            "users",
            "create",
            "ada",
            "--email",
            "Ada@Example.org",
            "--role",
            "admin",
            "--name",
            "Ada L",
        )
    )
    assert re.search(r"created user ada \(Administrator\), id \d+", result.stdout)
    shown = re.findall(r"initial password \(shown once\): (\S+)", result.stdout)
    assert len(shown) == 1
    password = shown[0]
    assert len(password) >= 16
    assert result.stdout.count(password) == 1

    user = user_row(database, "ada")
    assert user.email == "ada@example.org"
    assert user.role is Role.ADMIN
    assert verify_password(user.password_hash, password)
    assert password not in user.password_hash

    listed = users_json()["ada"]
    assert listed["role"] == "admin" and listed["is_active"] is True
    assert not {"password", "password_hash", "mfa_secret"} & set(listed)


def test_create_a_user_with_a_password_from_stdin(cli_db: str, database: Database) -> None:
    result = ok(
        cs(
            "users",
            "create",
            "ivy",
            "--email",
            "ivy@example.org",
            "--role",
            "investigator",
            "--name",
            "Ivy Investigator",
            "--password-stdin",
            input=STRONG + "\n",
        )
    )
    assert "initial password" not in result.stdout
    assert STRONG not in result.output
    assert verify_password(user_row(database, "ivy").password_hash, STRONG)


def test_agencies_orgs_and_the_users_who_belong_to_them(cli_db: str, database: Database) -> None:
    created = ok(
        cs(
            "agencies",
            "create",
            "Cyber Unit",
            "--country",
            "gb",
            "--domain",
            "cyber.police.example",
            "--domain",
            "@CCU.example",
        )
    )
    assert re.search(r"agency Cyber Unit registered, id \d+", created.stdout)
    listed = ok(cs("agencies", "list")).stdout
    assert "Cyber Unit" in listed and "GB" in listed and "cyber.police.example" in listed

    ok(cs("orgs", "create", "Chainwatch", "--kind", "analytics_firm", "--country", "de"))
    listed = ok(cs("orgs", "list")).stdout
    assert "Chainwatch" in listed and "analytics_firm" in listed and "DE" in listed

    for username, role, extra in [
        ("olga", "le_officer", ("--agency", "Cyber Unit")),
        ("tom", "trainee", ("--agency", "Cyber Unit")),
        ("paula", "partner", ("--org", "Chainwatch")),
    ]:
        ok(
            cs(
                "users",
                "create",
                username,
                "--email",
                f"{username}@cyber.police.example",
                "--role",
                role,
                "--name",
                username.title(),
                *extra,
                "--password-stdin",
                input=STRONG + "\n",
            )
        )
    rows = users_json()
    assert rows["olga"]["agency_id"] is not None
    assert rows["tom"]["agency_id"] == rows["olga"]["agency_id"]
    assert rows["paula"]["organisation_id"] is not None
    table = ok(cs("users", "list")).stdout
    assert "olga" in table and "Cyber Unit" in table
    only_partners = json.loads(ok(cs("users", "list", "--role", "partner", "--json")).stdout)
    assert [u["username"] for u in only_partners] == ["paula"]

    agency_id = str(rows["olga"]["agency_id"])
    ok(
        cs(
            "users",
            "create",
            "olaf",
            "--email",
            "olaf@cyber.police.example",
            "--role",
            "le_officer",
            "--name",
            "Olaf",
            "--agency",
            agency_id,  # by id as well as by name
            "--password-stdin",
            input=STRONG + "\n",
        )
    )
    assert users_json()["olaf"]["agency_id"] == int(agency_id)


def test_disable_enable_unlock_and_reset_mfa(
    cli_db: str, database: Database, session: Session, settings: Settings
) -> None:
    account = make_user(session, settings, role=Role.INVESTIGATOR, username="ivan")
    ivan = account.user
    tomorrow = utcnow() + timedelta(days=1)
    ivan.failed_logins, ivan.locked_until = 3, tomorrow
    session.add(
        WebSession(
            token_hash="x" * 64,
            user_id=ivan.id,
            csrf_token="c",
            mfa_passed=True,
            expires_at=tomorrow,
        )
    )
    session.commit()
    session.close()
    assert users_json()["ivan"]["mfa_enabled"] is True
    assert "locked" in ok(cs("users", "list")).stdout

    assert "user ivan unlocked" in ok(cs("users", "unlock", "ivan")).stdout
    after = user_row(database, "ivan")
    assert (after.failed_logins, after.locked_until) == (0, None)

    assert "user ivan disabled" in ok(cs("users", "disable", "ivan")).stdout
    assert users_json()["ivan"]["is_active"] is False
    assert "disabled" in ok(cs("users", "list")).stdout
    with database.session() as s:
        live = s.scalars(select(WebSession).where(WebSession.revoked_at.is_(None))).all()
    assert live == []  # disabling ends the account's sessions

    assert "user ivan enabled" in ok(cs("users", "enable", "IVAN")).stdout
    assert users_json()["ivan"]["is_active"] is True

    assert "second factor of ivan removed" in ok(cs("users", "reset-mfa", "ivan")).stdout
    after = user_row(database, "ivan")
    assert (after.mfa_secret, after.mfa_enabled_at, after.mfa_last_step) == (None, None, None)
    assert users_json()["ivan"]["mfa_enabled"] is False


def test_every_cli_change_is_audited_as_the_operator(
    cli_db: str, database: Database, session: Session, settings: Settings
) -> None:
    ok(cs("agencies", "create", "Audit Unit", "--country", "FR"))
    ok(cs("orgs", "create", "Feedco", "--kind", "exchange"))
    ok(
        cs(
            "users",
            "create",
            "carol",
            "--email",
            "carol@example.org",
            "--role",
            "compliance_analyst",
            "--name",
            "Carol",
            "--password-stdin",
            input=STRONG + "\n",
        )
    )
    for command in ("disable", "enable", "unlock", "reset-mfa"):
        ok(cs("users", command, "carol"))

    entries = cli_entries(database)
    assert [e.action for e in entries] == [
        "agency.create",
        "organisation.create",
        "user.create",
        "user.disable",
        "user.enable",
        "user.unlock",
        "user.mfa_reset",
    ]
    assert {(e.actor, e.channel, e.actor_id, e.outcome) for e in entries} == {
        (OPERATOR, "cli", None, "success")
    }
    carol = user_row(database, "carol")
    assert {e.object_id for e in entries[2:]} == {str(carol.id)}
    assert ok(cs("audit", "verify")).stdout.startswith("audit chain intact: 7 entries")


# --- bad input ------------------------------------------------------------------------------

BAD_INPUT = [
    (("users", "disable", "nobody"), None, "no user named 'nobody'"),
    (("users", "enable", "nobody"), None, "no user named 'nobody'"),
    (("users", "unlock", "nobody"), None, "no user named 'nobody'"),
    (("users", "reset-mfa", "nobody"), None, "no user named 'nobody'"),
    (
        (
            "users",
            "create",
            "olga",
            "--email",
            "olga@x.example",
            "--role",
            "le_officer",
            "--name",
            "Olga",
        ),
        None,
        "a law-enforcement officer must belong to an agency",
    ),
    (
        (
            "users",
            "create",
            "pat",
            "--email",
            "pat@x.example",
            "--role",
            "partner",
            "--name",
            "Pat",
        ),
        None,
        "a partner analyst must belong to an organisation",
    ),
    (
        ("users", "create", "eve", "--email", "not-an-email", "--role", "admin", "--name", "Eve"),
        None,
        "email: value is not a valid email address",
    ),
    (
        (
            "users",
            "create",
            "Bad Name!",
            "--email",
            "b@x.example",
            "--role",
            "admin",
            "--name",
            "B",
        ),
        None,
        "username: String should match pattern",
    ),
    (
        (
            "users",
            "create",
            "weak",
            "--email",
            "weak@x.example",
            "--role",
            "admin",
            "--name",
            "Weak",
            "--password-stdin",
        ),
        "short\n",
        "the password must have at least 12 characters",
    ),
    (
        (
            "users",
            "create",
            "weak",
            "--email",
            "weak@x.example",
            "--role",
            "admin",
            "--name",
            "Weak",
            "--password-stdin",
        ),
        "\n",
        "no password on standard input",
    ),
    (
        (
            "users",
            "create",
            "olga",
            "--email",
            "olga@x.example",
            "--role",
            "le_officer",
            "--name",
            "Olga",
            "--agency",
            "Atlantis PD",
        ),
        None,
        "no agency named 'Atlantis PD'",
    ),
    (
        (
            "users",
            "create",
            "ann",
            "--email",
            "ann@x.example",
            "--role",
            "admin",
            "--name",
            "Ann",
            "--agency",
            "999",
        ),
        None,
        "no agency with id 999",
    ),
    (("agencies", "create", "Some Unit", "--country", "GBR"), None, "country: String should"),
    (
        ("agencies", "create", "Some Unit", "--country", "GB", "--domain", "not a domain"),
        None,
        "'not a domain' is not a domain name",
    ),
]


@pytest.mark.parametrize(("args", "stdin", "message"), BAD_INPUT)
def test_bad_input_is_one_error_line_and_exit_2(
    cli_db: str, database: Database, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    refused(cs(*args, input=stdin), message)
    assert cli_entries(database) == []  # nothing was changed, nothing was recorded


def test_duplicates_are_refused(cli_db: str, database: Database) -> None:
    create = ("users", "create", "dup", "--email", "dup@example.org", "--role", "trainee")
    ok(cs(*create, "--name", "Dup", "--password-stdin", input=STRONG + "\n"))
    refused(
        cs(*create, "--name", "Dup", "--password-stdin", input=STRONG + "\n"),
        "the username 'dup' is taken",
    )
    ok(cs("orgs", "create", "Feedco", "--kind", "fiu"))
    refused(cs("orgs", "create", "Feedco", "--kind", "fiu"), "an organisation named 'Feedco'")
    ok(cs("agencies", "create", "Unit 9", "--country", "NL"))
    refused(cs("agencies", "create", "Unit 9", "--country", "NL"), "an agency named 'Unit 9'")
    assert len(cli_entries(database)) == 3


def test_a_usage_error_is_reported_by_typer(cli_db: str) -> None:
    result = cs("users", "create", "x", "--email", "x@example.org", "--role", "wizard")
    assert result.exit_code == 2
    assert "wizard" in result.output
    assert "Traceback" not in result.output


UNMIGRATED_COMMANDS = [
    ("users", "list"),
    ("users", "disable", "someone"),
    ("users", "reset-mfa", "someone"),
    ("agencies", "list"),
    ("agencies", "create", "Unit", "--country", "GB"),
    ("orgs", "list"),
    ("audit", "verify"),
    ("audit", "tail"),
    ("demo", "seed"),
    ("serve", "--port", "1"),
]


# The check is the same on both backends: every command on SQLite, one on PostgreSQL.
@pytest.mark.parametrize(
    ("backend", "args"),
    [("sqlite", args) for args in UNMIGRATED_COMMANDS] + [("postgresql", ("users", "list"))],
    ids=lambda v: v if isinstance(v, str) else " ".join(v),
)
def test_every_command_refuses_an_unmigrated_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_db_url: str, args: tuple[str, ...]
) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("CHAINSLEUTH_DEMO", "1")
    refused(cs(*args), "the database has no chainsleuth tables: run `chainsleuth db upgrade`")


def test_production_without_a_secret_is_refused(
    cli_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINSLEUTH_ENV", "production")
    for args in (("users", "list"), ("db", "upgrade"), ("audit", "verify")):
        refused(cs(*args), "CHAINSLEUTH_SECRET_KEY must be set")


# --- the audit chain ------------------------------------------------------------------------


def test_audit_verify_and_a_direct_database_edit(cli_db: str, database: Database) -> None:
    ok(cs("agencies", "create", "Unit A", "--country", "GB"))
    ok(cs("agencies", "create", "Unit B", "--country", "GB"))
    ok(cs("orgs", "create", "Org C", "--kind", "other"))

    intact = ok(cs("audit", "verify"))
    assert intact.stdout.startswith("audit chain intact: 3 entries, head #3 ")
    as_json = json.loads(ok(cs("audit", "verify", "--json")).stdout)
    assert as_json["ok"] is True and as_json["checked"] == 3

    unprotect_audit_log(database.engine)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2"))

    broken = cs("audit", "verify")
    assert broken.exit_code == 1, broken.output
    message = flat(broken.stdout)
    assert message.startswith("audit chain BROKEN at entry #2: its content was altered")
    assert "(1 entries before it verified)" in message
    broken_json = cs("audit", "verify", "--json")
    assert broken_json.exit_code == 1
    assert json.loads(broken_json.stdout)["broken_seq"] == 2


def test_audit_tail(cli_db: str, database: Database) -> None:
    ok(cs("agencies", "create", "Tail Unit", "--country", "GB"))
    ok(cs("orgs", "create", "Tail Org", "--kind", "other"))
    with database.session() as s:
        audit.record(
            s,
            actor=Actor.anonymous(ip="203.0.113.7"),
            action="auth.login",
            outcome=Outcome.FAILURE,
        )
        s.commit()

    everything = ok(cs("audit", "tail")).stdout
    for expected in ("agency.create", "organisation.create", "auth.login", "203.0.113.7"):
        assert expected in everything
    # oldest first, as a log reads
    assert everything.index("agency.create") < everything.index("auth.login")

    newest = ok(cs("audit", "tail", "-n", "1")).stdout
    assert "auth.login" in newest and "agency.create" not in newest
    only_orgs = ok(cs("audit", "tail", "--action", "organisation.")).stdout
    assert "organisation.create" in only_orgs and "agency.create" not in only_orgs
    failures = ok(cs("audit", "tail", "--outcome", "failure")).stdout
    assert "auth.login" in failures and "agency.create" not in failures
    mine = ok(cs("audit", "tail", "--actor", "anonymous")).stdout
    assert "auth.login" in mine and "agency.create" not in mine
    assert cs("audit", "tail", "--outcome", "maybe").exit_code == 2
    assert cs("audit", "tail", "-n", "0").exit_code == 2


# --- the installed command, in a subprocess -------------------------------------------------


def chainsleuth(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("chainsleuth")
    return subprocess.run(
        [str(command), *args],
        env={**os.environ, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_error_line(proc: subprocess.CompletedProcess[str], message: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("error: ")
    assert message in proc.stderr


def test_the_installed_command(tmp_path: Path) -> None:
    """An operator's session on the embedded default: upgrade, check, verify, tamper."""
    data_dir = tmp_path / "data"
    env = {"CHAINSLEUTH_DATA_DIR": str(data_dir)}

    unmigrated = chainsleuth("users", "list", env=env)
    one_error_line(unmigrated, "run `chainsleuth db upgrade` first")

    upgraded = chainsleuth("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    head = HEAD
    assert f"database upgraded from empty to {head}" in upgraded.stdout
    assert (data_dir / "chainsleuth.db").is_file()

    current = chainsleuth("db", "current", env=env)
    assert current.returncode == 0, current.stderr
    assert "(up to date)" in current.stdout

    db = Database(f"sqlite:///{data_dir / 'chainsleuth.db'}")
    try:
        with db.session() as s:
            for i in range(3):
                audit.record(s, actor=Actor.system("test"), action="test.entry", details={"i": i})
            s.commit()
        unprotect_audit_log(db.engine)
        with db.engine.begin() as conn:
            conn.execute(
                text("UPDATE audit_events SET details = :d WHERE seq = 2"), {"d": '{"i":9}'}
            )
    finally:
        db.dispose()
    broken = chainsleuth("audit", "verify", env=env)
    assert broken.returncode == 1, (broken.stdout, broken.stderr)
    assert "audit chain BROKEN at entry #2" in broken.stdout
    assert "Traceback" not in broken.stderr


def test_the_module_refuses_production_without_a_secret(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "chainsleuth", "db", "upgrade"],
        env={
            **os.environ,
            "CHAINSLEUTH_ENV": "production",
            "CHAINSLEUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    one_error_line(proc, "CHAINSLEUTH_SECRET_KEY must be set")
    assert not (tmp_path / "prod.db").exists()

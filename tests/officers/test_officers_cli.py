"""``chainsleuth agencies import`` (the world's registry, idempotent, audited),
``chainsleuth officers ...`` and ``chainsleuth mail outbox``."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chainsleuth.audit.models import AuditEvent
from chainsleuth.cli import app
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.officers import service as officer_service
from chainsleuth.officers.schemas import OfficerSignup
from chainsleuth.orgs.models import Agency
from factories import TEST_SECRET, outbox_link

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", db_url)
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("COLUMNS", "200")


def cs(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def refused(result: Result, message: str) -> None:
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert "Traceback" not in result.output


def test_world_agencies_import_is_idempotent(
    cli_env: None, world: Path, database: Database
) -> None:
    with (world / "agencies" / "agencies.csv").open() as fh:
        source = list(csv.DictReader(fh))
    first = ok(cs("agencies", "import", str(world)))
    assert f"{len(source)} created, 0 updated, 0 unchanged" in first.stdout
    with database.session() as s:
        agencies = {a.external_id: a for a in s.scalars(select(Agency))}
        assert set(agencies) == {r["agency_id"] for r in source}
        for row in source:
            agency = agencies[row["agency_id"]]
            assert agency.name == row["name"] and agency.country == row["country"]
            assert agency.email_domains == [row["email_domain"]]
            assert agency.kind == row["kind"]
            expected = "supranational" if row["kind"] == "international" else "national"
            assert agency.jurisdiction_level == expected
            assert agency.status == "active"
        events = s.scalar(select(func.count()).select_from(AuditEvent))

    again = ok(cs("agencies", "import", str(world / "agencies" / "agencies.csv")))
    assert f"0 created, 0 updated, {len(source)} unchanged" in again.stdout
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Agency)) == len(source)
        # the second run changed nothing, and said so in one audit entry
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == (events or 0) + 1
        imports = s.scalars(select(AuditEvent).where(AuditEvent.action == "agency.import")).all()
        assert len(imports) == 2
    listed = ok(cs("agencies", "list")).stdout
    assert "Europol" in listed and "supranational" in listed


def test_an_edited_source_updates_and_bad_files_are_refused(
    cli_env: None, tmp_path: Path, database: Database
) -> None:
    path = tmp_path / "agencies.csv"
    header = "agency_id,name,country,email_domain,kind\n"
    path.write_text(header + "AG1,Cyber Unit,GB,cyber.police.uk,police\n")
    ok(cs("agencies", "import", str(path)))
    path.write_text(
        header.replace("kind", "kind,callback_phone")
        + "AG1,Cyber Unit,GB,cyber.police.uk unit.police.uk,police,+44 20 7946 0000\n"
    )
    assert "0 created, 1 updated" in ok(cs("agencies", "import", str(path))).stdout
    with database.session() as s:
        agency = s.scalar(select(Agency))
        assert agency is not None
        assert agency.email_domains == ["cyber.police.uk", "unit.police.uk"]
        assert agency.callback_phone == "+442079460000"
        before = s.scalar(select(func.count()).select_from(AuditEvent))

    bad = tmp_path / "bad.csv"
    bad.write_text(header + "AG2,Fake Unit,GB,gmail.com,police\n")
    refused(cs("agencies", "import", str(bad)), "line 2: email_domains")
    bad.write_text("name,country\nX Unit,GB\n")
    refused(cs("agencies", "import", str(bad)), "missing column(s) email_domain")
    refused(cs("agencies", "import", str(tmp_path / "nowhere")), "no agencies.csv")
    with database.session() as s:  # nothing half-written
        assert s.scalar(select(func.count()).select_from(Agency)) == 1
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before

    ok(cs("agencies", "set-status", "AG1", "suspended"))
    assert "suspended" in ok(cs("agencies", "list")).stdout


def test_officers_commands_and_the_outbox(
    cli_env: None, session: Session, settings: Settings
) -> None:
    ok(cs("agencies", "create", "Cyber Unit", "--country", "GB", "--domain", "cyber.police.uk"))
    officer = officer_service.signup(
        session,
        settings=settings,
        data=OfficerSignup(full_name="Ann Lee", email="ann@cyber.police.uk", username="ann.lee"),
        base_url="http://portal.example",
        ip=None,
    )
    session.commit()
    mails = ok(cs("mail", "outbox")).stdout
    assert "ann@cyber.police.uk" in mails and "Confirm your e-mail address" in mails
    bodies = ok(cs("mail", "outbox", "--body")).stdout
    assert "http://portal.example/officers/verify?token=" in bodies

    refused(cs("officers", "approve", str(officer.id)), "not waiting for approval")
    officer_service.verify_email(
        session, token=outbox_link(session, settings, officer.email, "/officers/verify"), ip=None
    )
    session.commit()
    assert "pending_approval" in ok(cs("officers", "list")).stdout
    ok(cs("officers", "approve", str(officer.id), "--base-url", "https://le.example"))
    assert (
        "https://le.example/officers/activate?token=" in ok(cs("mail", "outbox", "--body")).stdout
    )
    due = ok(cs("officers", "due", "--within", "200", "--send")).stdout
    assert "ann.lee" in due and "1 re-verification link(s) mailed" in due
    assert "0 re-verification" in ok(cs("officers", "due", "--within", "200", "--send")).stdout
    refused(cs("officers", "reject", "999", "--note", "x"), "no officer sign-up with id 999")

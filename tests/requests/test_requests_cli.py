"""``chainsleuth requests ...``: import the world's history (idempotent), list, show, due,
transition with the workflow's rules, notifications; bad input is one line and exit 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from chainsleuth.cli import app
from chainsleuth.core.db import Database
from chainsleuth.requests.models import LeRequest

runner = CliRunner()


@pytest.fixture
def cli_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> str:
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", db_url)
    monkeypatch.setenv("CHAINSLEUTH_SECRET_KEY", "cli-test-secret-" + "z" * 40)
    monkeypatch.setenv("COLUMNS", "200")
    return db_url


def cs(*args: str) -> Result:
    return runner.invoke(app, list(args))


def count(url: str) -> int:
    db = Database(url)
    try:
        with db.session() as s:
            return int(s.scalar(select(func.count()).select_from(LeRequest)) or 0)
    finally:
        db.dispose()


def test_import_the_worlds_requests_then_work_them(cli_db: str, world: Path) -> None:
    with (world / "agencies" / "requests.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    first = cs("requests", "import", str(world))
    assert first.exit_code == 0, (first.output, first.exception)
    assert f"requests: {len(rows)} added, 0 unchanged" in first.output
    again = cs("requests", "import", str(world / "agencies"))
    assert again.exit_code == 0 and f"0 added, {len(rows)} unchanged" in again.output
    assert count(cli_db) == len(rows)

    listed = json.loads(cs("requests", "list", "--json", "--limit", "500").output)
    assert len(listed) == len(rows)
    open_one = next(r for r in listed if r["status"] == "triage")
    shown = cs("requests", "show", open_one["reference"], "--json")
    detail = json.loads(shown.output)
    source = next(r for r in rows if r["case_reference"] == detail["case_reference"])
    assert len(detail["subjects"]) == len(json.loads(source["subjects"]))
    assert detail["type"] == source["type"]

    filtered = json.loads(cs("requests", "list", "--json", "--status", "triage").output)
    assert filtered and {r["status"] for r in filtered} == {"triage"}
    assert len(filtered) == sum(1 for r in rows if r["status"] == "open")
    # a step the workflow does not allow: one line, exit 2
    bad = cs("requests", "transition", open_one["reference"], "delivered")
    assert bad.exit_code == 2 and "cannot move to delivered" in bad.output
    assert "Traceback" not in bad.output
    ok = cs("requests", "transition", open_one["reference"], "rejected", "--note", "no basis")
    assert ok.exit_code == 0 and "now rejected" in ok.output
    due = cs("requests", "due")
    assert due.exit_code == 0
    notices = cs("requests", "notify-due")
    assert notices.exit_code == 0 and "notices:" in notices.output
    missing = cs("requests", "show", "LER-2000-000000")
    assert missing.exit_code == 2 and "no request" in missing.output


def test_a_bad_history_file_is_refused_whole(cli_db: str, world: Path, tmp_path: Path) -> None:
    folder = tmp_path / "agencies"
    folder.mkdir()
    for name in ("agencies.csv", "officers.csv"):
        (folder / name).write_bytes((world / "agencies" / name).read_bytes())
    with (world / "agencies" / "requests.csv").open() as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = list(reader)[:5]
    rows[1]["agency_id"] = "AG999"
    rows[3]["subjects"] = json.dumps(
        [{"type": "address", "chain": "btc", "value": "1NotAnAddress"}]
    )
    with (folder / "requests.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    result = cs("requests", "import", str(folder))
    assert result.exit_code == 2, result.output
    assert "line 3: unknown agency 'AG999'" in result.output and "line 5" in result.output
    assert count(cli_db) == 0

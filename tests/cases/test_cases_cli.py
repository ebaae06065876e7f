"""``chainsleuth cases list|show|open|close|export|demo-seed``: the operator's view; bad
input is one line and exit code 2; an export of tampered evidence is refused."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from cases_helpers import BTC_ADDR
from pypdf import PdfReader
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chainsleuth.audit.service import Actor
from chainsleuth.cases import evidence as case_evidence
from chainsleuth.cases import service as case_service
from chainsleuth.cli import app as cli_app
from chainsleuth.core.config import Settings
from chainsleuth.demo import service as demo
from factories import make_settings

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, db_url: str) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "200")


def test_open_list_show_close_export(
    cli_env: None, session: Session, settings: Settings, tmp_path: Path
) -> None:
    r = runner.invoke(
        cli_app,
        [
            "cases",
            "open",
            "--title",
            "Sanctioned wallet deposits",
            "--type",
            "sanctions",
            "--severity",
            "critical",
            "--link",
            f"address=btc:{BTC_ADDR}",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "opened case #1" in r.stdout
    r = runner.invoke(cli_app, ["cases", "list", "--json"])
    assert [c["title"] for c in json.loads(r.stdout)] == ["Sanctioned wallet deposits"]
    r = runner.invoke(cli_app, ["cases", "show", "1"])
    assert r.exit_code == 0 and f"link address btc:{BTC_ADDR}" in r.stdout
    assert "opened sanctions case" in r.stdout

    case = case_service.get_case(session, 1, actor=Actor.system())
    row = case_evidence.add_evidence(
        session,
        data_dir=settings.data_dir,
        actor=Actor.system(),
        case=case,
        file_name="ofac.txt",
        stream=io.BytesIO(b"SDN entry"),
    )
    sha = row.sha256
    session.close()
    out = tmp_path / "report.pdf"
    r = runner.invoke(cli_app, ["cases", "export", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    text = "".join(p.extract_text() for p in PdfReader(out).pages)
    assert "Sanctioned wallet deposits" in text and sha in text
    r = runner.invoke(
        cli_app, ["cases", "export", "1", "--format", "json", "--out", str(tmp_path / "b.json")]
    )
    assert json.loads((tmp_path / "b.json").read_text())["evidence"][0]["sha256"] == sha

    (settings.data_dir / row.storage_path).write_bytes(b"SDN entry, edited")
    r = runner.invoke(cli_app, ["cases", "export", "1", "--out", str(tmp_path / "x.pdf")])
    assert r.exit_code == 2 and "no longer matches its hash" in r.stderr
    assert not (tmp_path / "x.pdf").exists()

    r = runner.invoke(cli_app, ["cases", "close", "1"])
    assert r.exit_code == 2  # --reason is required
    r = runner.invoke(cli_app, ["cases", "close", "1", "--reason", "referred_to_le"])
    assert r.exit_code == 0 and "closed case #1" in r.stdout
    r = runner.invoke(cli_app, ["cases", "list", "--status", "closed", "--json"])
    assert len(json.loads(r.stdout)) == 1


def test_bad_input_is_one_line_and_exit_code_2(cli_env: None) -> None:
    r = runner.invoke(cli_app, ["cases", "show", "99"])
    assert r.exit_code == 2 and r.stderr.strip() == "error: no such case: 99"
    r = runner.invoke(
        cli_app, ["cases", "open", "--title", "x", "--type", "fraud", "--link", "address=btc:nope"]
    )
    assert r.exit_code == 2 and "nope" in r.stderr and "Traceback" not in r.output
    r = runner.invoke(
        cli_app, ["cases", "open", "--title", "x", "--type", "fraud", "--link", "btc:nope"]
    )
    assert r.exit_code == 2 and "TYPE=REF" in r.stderr
    r = runner.invoke(cli_app, ["cases", "list", "--json"])
    assert json.loads(r.stdout) == []


def test_demo_seed_is_idempotent(
    cli_env: None, world: Path, session: Session, tmp_path: Path, db_url: str
) -> None:
    demo.seed(session, settings=make_settings(tmp_path, db_url, demo=True))
    session.commit()
    session.close()
    first = runner.invoke(cli_app, ["cases", "demo-seed", str(world)])
    assert first.exit_code == 0, first.output
    assert "opened demo case #1" in first.stdout
    again = runner.invoke(cli_app, ["cases", "demo-seed", str(world)])
    assert again.exit_code == 0 and "there already" in again.stdout
    r = runner.invoke(cli_app, ["cases", "show", "1", "--json"])
    detail = json.loads(r.stdout)
    assert {x["item_type"] for x in detail["links"]} == {"transaction", "address"}
    assert detail["tasks"][0]["assignee"] == "ivy"

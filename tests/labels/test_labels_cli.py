"""``chainsleuth labels ...``: imports print their counts, bad input is one line and exit 2
with nothing imported, ``show`` and ``sources`` report what is known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from label_helpers import OFAC, SDN_SAMPLE, TAGPACKS, XXE, needs_data
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from chainsleuth.audit.models import AuditEvent
from chainsleuth.cli import app
from chainsleuth.core.db import Database
from chainsleuth.labels.models import Label, LabelSource

pytestmark = needs_data
runner = CliRunner()
EVIL = "0x8589427373D6D84E98730D7795D8f6f8731FDA16"


def cs(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def refused(result: Result, message: str) -> None:
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0], lines[0]
    assert "Traceback" not in result.output


def counts(database: Database) -> tuple[int, int, int]:
    with database.session() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Label)) or 0),
            int(s.scalar(select(func.count()).select_from(LabelSource)) or 0),
            int(
                s.scalar(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.action == "labels.import")
                )
                or 0
            ),
        )


def test_import_show_and_sources(cli_db: str, database: Database) -> None:
    out = ok(cs("labels", "import", "ofac-xml", str(SDN_SAMPLE))).stdout
    assert "ofac-sdn (ofac-xml, sdn_advanced_format_sample.xml): added 5" in " ".join(out.split())
    assert "skipped: currency TRX 1, not_an_address 1" in out
    again = ok(cs("labels", "import", "ofac-xml", str(SDN_SAMPLE))).stdout
    assert "(nothing changed)" in again
    ok(cs("labels", "import", "ofac-lists", str(OFAC), "--tlp", "green"))
    shown = json.loads(ok(cs("labels", "show", "eth", EVIL, "--json")).stdout)
    assert shown["address"] == EVIL.lower()
    assert shown["winner"]["category"] == "sanctioned" and shown["winner_from"] == "address"
    assert sorted({x["source"]["name"] for x in shown["own"]}) == ["ofac-lists", "ofac-sdn"]
    assert {x["tlp"] for x in shown["own"] if x["source"]["name"] == "ofac-lists"} == {"GREEN"}
    text = ok(cs("labels", "show", "eth", EVIL)).stdout
    assert "sanctioned (" in text and "EVIL CORP" in text
    assert (
        "no labels for"
        in ok(cs("labels", "show", "btc", "1Lud76Q98VRHCUiyK7XUs7AgFofrqXeP78")).stdout
    )
    sources = json.loads(ok(cs("labels", "sources", "--json")).stdout)
    assert {s["name"]: s["active_labels"] for s in sources} == {"ofac-lists": 590, "ofac-sdn": 5}
    assert "ofac-sdn" in ok(cs("labels", "sources")).stdout
    label_id = shown["own"][0]["id"]
    assert "add" in ok(cs("labels", "history", str(label_id))).stdout


def test_a_folder_of_tagpacks_as_json(cli_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "packs"
    folder.mkdir()
    for name in ("lazarus.yaml", "lazarus2.yaml", "graphsense.actorpack.yaml"):
        (folder / name).write_bytes((TAGPACKS / name).read_bytes())
    results = json.loads(ok(cs("labels", "import", "tagpack", str(folder), "--json")).stdout)
    assert [(r["source"], r["added"]) for r in results] == [
        ("tagpack:lazarus", 21),
        ("tagpack:lazarus2", 6),
    ]


def test_bad_input_is_one_line_exit_2_and_nothing_imported(
    cli_db: str, database: Database, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("title: t\n  tags: [unclosed\n")
    evil = tmp_path / "evil.xml"
    evil.write_bytes(XXE)
    cases = [
        (("tagpack", str(TAGPACKS / "plustoken.yaml")), "is not a valid BTC address"),
        (("tagpack", str(broken)), "is not valid YAML"),
        (("ofac-xml", str(evil)), "refused"),
        (("tagpack", str(TAGPACKS / "graphsense.actorpack.yaml")), "is an ActorPack"),
        (("ofac-csv", str(TAGPACKS / "lazarus.yaml")), "is this OFAC's sdn.csv"),
        (("csv", str(tmp_path / "missing.csv")), "no such file"),
        (("ofac-xml", str(tmp_path)), "is a folder"),
        (("world", str(tmp_path)), "not a world folder"),
    ]
    for args, message in cases:
        refused(cs("labels", "import", *args), message)
    refused(cs("labels", "import", "ofac-xml", str(SDN_SAMPLE), "--tlp", "purple"), "unknown TLP")
    refused(cs("labels", "show", "btc", "nonsense"), "is not a valid Base58Check address")
    refused(cs("labels", "show", "doge", "x"), "unknown chain")
    assert counts(database) == (0, 0, 0)
    # with --skip-invalid the malformed addresses are counted instead
    out = ok(cs("labels", "import", "tagpack", str(TAGPACKS / "plustoken.yaml"), "--skip-invalid"))
    assert "added 10" in out.stdout and "invalid_address 2" in out.stdout
    assert counts(database) == (10, 1, 1)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_unmigrated_database_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, backend: str
) -> None:
    monkeypatch.setenv("CHAINSLEUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAINSLEUTH_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    refused(cs("labels", "sources"), "chainsleuth db upgrade")

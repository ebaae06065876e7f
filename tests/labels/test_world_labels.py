"""The demo world's public attribution (``labels/``): real formats, listed in world.json,
true to the ground truth but partial, and imported by ``labels import world``."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from chainsleuth.cli import app
from chainsleuth.labels.enums import Category, Scope
from chainsleuth.labels.importers.ofac_xml import parse_ofac_xml
from chainsleuth.labels.importers.tagpack import parse_actorpack, parse_tagpack

FILES = ("labels/world.tagpack.yaml", "labels/world.actorpack.yaml", "labels/sdn_advanced.xml")


def truth(world: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """(chain, address) -> (actor type, role)."""
    actors = {
        r["actor_id"]: r["type"]
        for r in pq.read_table(world / "truth" / "actors.parquet").to_pylist()
    }
    out = {}
    for chain in ("btc", "eth"):
        for r in pq.read_table(world / "truth" / f"addresses_{chain}.parquet").to_pylist():
            out[(chain, r["address"])] = (actors[r["actor_id"]], r["role"])
    return out


def test_files_are_listed_with_their_checksums(world: Path) -> None:
    manifest = json.loads((world / "world.json").read_text())
    for rel in FILES:
        entry = manifest["files"][rel]
        assert entry["sha256"] == hashlib.sha256((world / rel).read_bytes()).hexdigest()
    assert "labels/" in (world / "FORMAT.md").read_text()


def test_the_tagpack_is_public_knowledge_not_the_whole_truth(world: Path) -> None:
    path = world / "labels" / "world.tagpack.yaml"
    parsed = parse_tagpack(path.read_bytes(), file_name=path.name)
    assert parsed.skipped_total == 0
    known = truth(world)
    kinds = Counter(known[(x.chain, x.address)] for x in parsed.labels)
    # every exchange's hot and cold wallets, the hot ones defining their cluster
    hot = [x for x in parsed.labels if known[(x.chain, x.address)][1] == "hot"]
    assert hot and all(x.scope is Scope.ENTITY for x in hot)
    assert kinds[("exchange", "cold")] == sum(
        1 for v in known.values() if v == ("exchange", "cold")
    )
    # half of the ransom payment addresses (rounded up), none of the peel chain
    ransom = sum(1 for v in known.values() if v == ("ransomware", "ransom"))
    assert kinds[("ransomware", "ransom")] == (ransom + 1) // 2 >= 1
    assert not any(role in ("peel", "pass_through", "payout") for _, role in kinds)
    categories = {x.category for x in parsed.labels}
    assert {
        Category.EXCHANGE,
        Category.MIXER,
        Category.DARKNET_MARKET,
        Category.RANSOMWARE,
        Category.BRIDGE,
        Category.DEX,
    } <= categories
    # every actor the tags name is in the ActorPack
    actors = world / "labels" / "world.actorpack.yaml"
    defined = {a.ext_id for a in parse_actorpack(actors.read_bytes(), file_name=actors.name).actors}
    assert {x.actor for x in parsed.labels} <= defined


def test_the_sanctions_list_in_sdn_advanced_format(world: Path) -> None:
    path = world / "labels" / "sdn_advanced.xml"
    parsed = parse_ofac_xml(path.read_bytes(), file_name=path.name)
    with (world / "truth" / "sanctions.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((x.chain, x.address, x.label) for x in parsed.labels) == sorted(
        (r["chain"], r["address"], r["entity"]) for r in rows
    )
    assert parsed.skipped_total == 0 and {a.name for a in parsed.actors} == {
        r["entity"] for r in rows
    }


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_import_world_shows_tagpack_and_ofac_labels(
    world: Path, cli_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["labels", "import", "world", str(world), "--json"])
    assert first.exit_code == 0, first.output
    results = {r["source"]: r for r in json.loads(first.stdout)}
    assert set(results) == {"world-actorpack", "world-tagpack", "world-sdn"}
    again = json.loads(
        runner.invoke(app, ["labels", "import", "world", str(world), "--json"]).stdout
    )
    assert all(r["import_id"] is None for r in again)
    # the sanctioned exchange's wallets: the TagPack says exchange, the SDN list sanctioned
    known = truth(world)
    wallet = next(
        a for (c, a), v in sorted(known.items()) if c == "btc" and v == ("sanctioned", "hot")
    )
    shown = runner.invoke(app, ["labels", "show", "btc", wallet, "--json"])
    view = json.loads(shown.stdout)
    assert {c["category"] for c in view["conflicts"]} == {"exchange", "sanctioned"}
    assert view["winner"]["category"] == "sanctioned"  # authority data beats a web crawl

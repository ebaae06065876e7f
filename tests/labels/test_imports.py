"""Imports into the database (SQLite and PostgreSQL): provenance, idempotence, a newer
version updating and retiring with history, nothing half-imported, one audit entry each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from label_helpers import IMPORTER, OFAC, SDN_SAMPLE, TAGPACKS, import_file, needs_data
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.models import AuditEvent
from chainsleuth.core.errors import Conflict, InvalidInput
from chainsleuth.labels import service as label_service
from chainsleuth.labels.enums import Category, ImportFormat, Tlp
from chainsleuth.labels.importers import parse
from chainsleuth.labels.models import Label, LabelActor, LabelHistory, LabelImport, LabelSource

pytestmark = needs_data

EVIL = "0x8589427373d6d84e98730d7795d8f6f8731fda16"
A1 = "1Lud76Q98VRHCUiyK7XUs7AgFofrqXeP78"
A2 = "377CY1m8W2qbQQX5HHjziimdh2faGjDeLv"
A3 = "1MfVk1utxgvGjMFV3K3CzXsDRDZznj5tey"


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def pack(version: str, tags: list[tuple[str, str, str]]) -> bytes:
    """A small TagPack: (address, label, abuse) per tag."""
    lines = [
        "title: Test pack",
        "creator: tests",
        "currency: BTC",
        "confidence: forensic",
        f"lastmod: {version}",
        "source: https://example.org/pack",
        "tags:",
    ]
    for address, label, abuse in tags:
        lines += [f"- address: {address}", f"  label: {label}", f"  abuse: {abuse}"]
    return ("\n".join(lines) + "\n").encode()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_real_files_import_with_provenance(session: Session) -> None:
    xml = import_file(session, ImportFormat.OFAC_XML, SDN_SAMPLE)
    assert (xml.added, xml.skipped, xml.actors_added) == (5, 2, 2)
    lists = import_file(session, ImportFormat.OFAC_LISTS, OFAC)
    assert lists.source == "ofac-lists" and lists.added == 590
    lazarus = import_file(session, ImportFormat.TAGPACK, TAGPACKS / "lazarus.yaml")
    assert lazarus.added == 21
    found = label_service.labels_for(
        session, chain="eth", addresses=[EVIL.upper().replace("X", "x")]
    )
    labels = found[EVIL]
    assert {x.source.name for x in labels} == {"ofac-sdn", "ofac-lists"}
    sdn = [x for x in labels if x.source.name == "ofac-sdn"]
    assert sorted(x.actor.name for x in sdn if x.actor) == ["BAD ACTOR", "EVIL CORP"]
    source = session.scalar(select(LabelSource).where(LabelSource.name == "ofac-sdn"))
    assert source is not None and source.version == "2026-09-18"
    assert source.sha256 and len(source.sha256) == 64 and source.kind == "ofac"
    one = sdn[0]
    assert one.tlp is Tlp.CLEAR and one.confidence_name == "authority_data"
    assert one.source_uri and "sanctionssearch.ofac.treas.gov" in one.source_uri
    assert one.created_by == IMPORTER.name
    # the stub actor named by a tag (lazarusgroup) exists until its ActorPack arrives
    assert session.scalar(select(LabelActor.name).where(LabelActor.ext_id == "lazarusgroup"))
    assert [e.object_id for e in events(session, "labels.import")] == [
        str(s.id) for s in session.scalars(select(LabelSource).order_by(LabelSource.id))
    ]


def test_reimporting_the_same_file_changes_nothing(session: Session) -> None:
    first = import_file(session, ImportFormat.TAGPACK, TAGPACKS / "interpol-real_services.yaml")
    assert first.added == 10
    before = (count(session, Label), count(session, LabelHistory), count(session, LabelImport))
    stamp = session.scalar(select(LabelSource.imported_at))
    again = import_file(session, ImportFormat.TAGPACK, TAGPACKS / "interpol-real_services.yaml")
    assert (again.added, again.updated, again.retired, again.unchanged) == (0, 0, 0, 10)
    assert again.import_id is None and not again.changed
    after = (count(session, Label), count(session, LabelHistory), count(session, LabelImport))
    assert after == before
    session.expire_all()
    assert session.scalar(select(LabelSource.imported_at)) == stamp
    # the attempt itself is audited
    assert len(events(session, "labels.import")) == 2


def test_a_newer_version_updates_and_retires_with_history(session: Session, tmp_path: Path) -> None:
    v1 = write(
        tmp_path,
        "pack.yaml",
        pack("2024-01-01", [(A1, "7ev3n", "ransomware"), (A2, "Apt", "ransomware")]),
    )
    first_version = v1.read_bytes()
    assert import_file(session, ImportFormat.TAGPACK, v1).added == 2
    v2 = write(
        tmp_path,
        "pack.yaml",
        pack("2024-02-01", [(A1, "7ev3n", "scam"), (A3, "Bucbi", "ransomware")]),
    )
    result = import_file(session, ImportFormat.TAGPACK, v2)
    # A1 changed category: a new key (retire + add); A2 disappeared: retired; A3: added
    assert (result.added, result.updated, result.retired) == (2, 0, 2)
    rows = {(x.address, x.category): x for x in session.scalars(select(Label))}
    assert rows[(A2, "ransomware")].active is False and rows[(A2, "ransomware")].retired_at
    assert rows[(A1, "scam")].active and not rows[(A1, "ransomware")].active
    assert label_service.labels_for(session, chain="btc", addresses=[A2])[A2] == []
    retired = label_service.labels_for(session, chain="btc", addresses=[A2], include_retired=True)
    assert [x.active for x in retired[A2]] == [False]
    history = label_service.history(session, label_id=rows[(A2, "ransomware")].id, viewer=None)
    assert [h.action for h in history] == ["add", "retire"]
    assert history[0].import_id != history[1].import_id
    source = session.scalar(select(LabelSource).where(LabelSource.name == "tagpack:pack"))
    assert source is not None and source.version == "2024-02-01"
    # a label whose fields change in place is an update, with before and after
    v3 = write(
        tmp_path,
        "pack.yaml",
        pack(
            "2024-03-01",
            [(A1, "7ev3n (v3)", "scam"), (A3, "Bucbi", "ransomware"), (A2, "Apt", "ransomware")],
        ),
    )
    third = import_file(session, ImportFormat.TAGPACK, v3)
    assert (third.added, third.updated, third.retired, third.unchanged) == (0, 2, 0, 1)
    changes = label_service.history(session, label_id=rows[(A1, "scam")].id, viewer=None)
    assert changes[-1].action == "update"
    assert changes[-1].changes == {"label": ["7ev3n", "7ev3n (v3)"]}
    back = label_service.history(session, label_id=rows[(A2, "ransomware")].id, viewer=None)
    assert [h.action for h in back] == ["add", "retire", "reactivate"]
    imports = list(session.scalars(select(LabelImport).order_by(LabelImport.id)))
    assert [(i.added, i.updated, i.retired) for i in imports] == [(2, 0, 0), (2, 0, 2), (0, 2, 0)]
    # an older file is refused, unless asked for
    old = write(tmp_path, "old.yaml", first_version)
    with pytest.raises(Conflict, match="older than version 2024-03-01"):
        import_file(session, ImportFormat.TAGPACK, old, source_name="tagpack:pack")
    again = import_file(
        session, ImportFormat.TAGPACK, old, source_name="tagpack:pack", allow_older=True
    )
    assert again.retired == 2


def test_a_failing_import_leaves_nothing_behind(session: Session, tmp_path: Path) -> None:
    seq = audit.verify(session).head_seq
    # valid tags first, then an address that is not one: the parser stops before the database
    bad = write(
        tmp_path,
        "bad.yaml",
        pack("2024-01-01", [(A1, "x", "ransomware"), ("1NotAnAddress", "y", "scam")]),
    )
    with pytest.raises(InvalidInput, match="tag 2: '1NotAnAddress'"):
        import_file(session, ImportFormat.TAGPACK, bad)
    # an error inside the write (a source of another format) rolls the transaction back
    import_file(session, ImportFormat.OFAC_XML, SDN_SAMPLE)
    n = (count(session, Label), count(session, LabelActor), count(session, LabelSource))
    with pytest.raises(Conflict, match="holds ofac-xml labels"):
        import_file(
            session, ImportFormat.TAGPACK, TAGPACKS / "lazarus.yaml", source_name="ofac-sdn"
        )
    assert (count(session, Label), count(session, LabelActor), count(session, LabelSource)) == n
    assert audit.verify(session).head_seq == seq + 1  # only the good import's entry
    assert audit.verify(session).ok


def test_actorpack_links_actors_and_retires_missing_ones(session: Session, tmp_path: Path) -> None:
    import_file(session, ImportFormat.TAGPACK, TAGPACKS / "lazarus.yaml")
    v1 = write(
        tmp_path,
        "actors.yaml",
        b"title: a\ncreator: c\nlastmod: '2024-01-01'\nactors:\n"
        b"- {id: lazarusgroup, label: Lazarus Group, categories: [organization],"
        b" jurisdictions: [KP], uri: example.org}\n"
        b"- {id: other, label: Other, categories: [exchange]}\n",
    )
    first = import_file(session, ImportFormat.ACTORPACK, v1)
    assert (first.actors_added, first.actors_updated) == (1, 1)  # the stub is filled in
    lazarus = label_service.labels_for(
        session, chain="btc", addresses=["134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak"]
    )
    (label,) = lazarus["134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak"]
    assert label.actor is not None and label.actor.name == "Lazarus Group"
    assert label.actor.jurisdictions == ["KP"]
    v2 = write(
        tmp_path,
        "actors.yaml",
        v1.read_bytes().split(b"- {id: other")[0].replace(b"2024-01-01", b"2024-02-01"),
    )
    second = import_file(session, ImportFormat.ACTORPACK, v2)
    assert second.actors_retired == 1
    other = session.scalar(select(LabelActor).where(LabelActor.ext_id == "other"))
    assert other is not None and other.retired_at is not None


def test_lookups_other_domains_use(session: Session) -> None:
    import_file(session, ImportFormat.OFAC_XML, SDN_SAMPLE)
    import_file(session, ImportFormat.TAGPACK, TAGPACKS / "interpol-real_services.yaml")
    sanctioned = label_service.addresses_with_categories(
        session, chain="eth", categories=[Category.SANCTIONED]
    )
    assert sanctioned == sorted({EVIL, "0x" + "1" * 40, "0x" + "2" * 40})
    mixers = label_service.addresses_with_categories(
        session, chain="btc", categories=["mixer", "exchange"]
    )
    assert len(mixers) == 7
    assert label_service.addresses_with_categories(session, chain="btc", categories=[]) == []
    found = label_service.labels_for(
        session, chain="btc", addresses=[A1, "12aNKp2iDKuhEde2YfPdd4DFGenRUTKupL"]
    )
    assert found[A1] == [] and len(found["12aNKp2iDKuhEde2YfPdd4DFGenRUTKupL"]) == 1
    with pytest.raises(InvalidInput):
        label_service.labels_for(session, chain="btc", addresses=["not-an-address"])
    with pytest.raises(InvalidInput, match="unknown chain"):
        label_service.labels_for(session, chain="doge", addresses=[A1])


def test_tlp_option_marks_labels_that_name_none(session: Session, tmp_path: Path) -> None:
    body = b"chain,address,category,tlp\nbtc,%s,scam,\nbtc,%s,scam,RED\n" % (
        A1.encode(),
        A2.encode(),
    )
    path = write(tmp_path, "case.csv", body)
    import_file(session, ImportFormat.CSV, path, tlp=Tlp.GREEN)
    got = {x.address: x.tlp for x in session.scalars(select(Label))}
    assert got == {A1: "GREEN", A2: "RED"}
    details = json.loads(events(session, "labels.import")[0].details)
    assert details["added"] == 2 and details["format"] == "csv"


def test_parse_refuses_several_files_for_a_single_file_format() -> None:
    with pytest.raises(InvalidInput, match="reads one file"):
        parse(ImportFormat.CSV, [("a.csv", b"x"), ("b.csv", b"y")])


def test_two_sources_naming_one_actor_do_not_take_it_from_each_other(session: Session) -> None:
    import_file(session, ImportFormat.OFAC_XML, SDN_SAMPLE)
    csv_like = SDN_SAMPLE.read_bytes().replace(b"EVIL CORP", b"EVIL CORPORATION")
    parsed = parse(ImportFormat.OFAC_XML, [("copy.xml", csv_like)])
    other = label_service.import_parsed(
        session,
        parsed=parsed,
        sha256="0" * 64,
        file_name="copy.xml",
        actor=IMPORTER,
        source_name="ofac-sdn-copy",
    )
    assert (other.actors_added, other.actors_updated) == (0, 0)
    again = import_file(session, ImportFormat.OFAC_XML, SDN_SAMPLE)
    assert not again.changed
    name = session.scalar(select(LabelActor.name).where(LabelActor.ext_id == "ofac-sdn:1001"))
    assert name == "EVIL CORP"

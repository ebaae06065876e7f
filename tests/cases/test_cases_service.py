"""Cases through their services: lifecycle, the timeline written with the audit log,
restricted access, links, tasks, saved views, evidence hashes, the PDF and JSON reports."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest
from cases_helpers import BTC_ADDR, BTC_ADDR_2, ETH_ADDR, actor_for, trace_graph
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.models import AuditEvent
from chainsleuth.auth.enums import Role
from chainsleuth.cases import evidence as case_evidence
from chainsleuth.cases import report as case_report
from chainsleuth.cases import saved as case_saved
from chainsleuth.cases import service as case_service
from chainsleuth.cases import team as case_team
from chainsleuth.cases.enums import CaseStatus, ItemType, ParticipantRole, TaskStatus
from chainsleuth.cases.models import Case, CaseEvent
from chainsleuth.cases.schemas import CaseFilter, StatusChange, TaskCreate, TaskUpdate
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound, NotVisible
from factories import make_user


@pytest.fixture
def ivan(session: Session, settings: Settings):  # type: ignore[no-untyped-def]
    return make_user(session, settings, role=Role.INVESTIGATOR, with_mfa=False).user


@pytest.fixture
def olga(session: Session, settings: Settings):  # type: ignore[no-untyped-def]
    return make_user(session, settings, role=Role.INVESTIGATOR, with_mfa=False).user


def _open(session: Session, user, **kw) -> Case:  # type: ignore[no-untyped-def]
    values = {"title": "Ransom payments to wallet X", "type": "ransomware", "severity": "high"}
    values.update(kw)
    return case_service.open_case(session, actor=actor_for(user), **values)  # type: ignore[arg-type]


def _kinds(session: Session, case: Case) -> list[str]:
    return list(
        session.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    )


def test_lifecycle_needs_a_reason_to_close_and_reopens(session: Session, ivan) -> None:  # type: ignore[no-untyped-def]
    actor = actor_for(ivan)
    case = _open(session, ivan)
    assert case.status == "open" and case.owner_id == ivan.id
    for status in ("in_progress", "escalated", "referred"):
        case_service.change_status(
            session, actor=actor, case=case, data=StatusChange(status=status)
        )  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="cannot become escalated"):
        case_service.change_status(
            session, actor=actor, case=case, data=StatusChange(status=CaseStatus.ESCALATED)
        )
    with pytest.raises(InvalidInput, match="needs a reason"):
        case_service.change_status(
            session, actor=actor, case=case, data=StatusChange(status=CaseStatus.CLOSED)
        )
    assert case.status == "referred"
    case_service.close_case(session, actor=actor, case=case, reason="referred_to_le", note="NCA")
    assert (case.status, case.close_reason, case.close_note) == ("closed", "referred_to_le", "NCA")
    assert case.closed_at is not None
    case_service.change_status(
        session, actor=actor, case=case, data=StatusChange(status=CaseStatus.OPEN)
    )
    assert case.status == "open" and case.close_reason is None and case.closed_at is None
    assert _kinds(session, case) == ["opened", "status", "status", "status", "closed", "reopened"]


def test_every_timeline_entry_is_written_with_its_audit_entry(session: Session, ivan) -> None:  # type: ignore[no-untyped-def]
    case = _open(session, ivan, links=[{"item_type": "address", "item_ref": f"btc:{BTC_ADDR}"}])
    case_team.add_note(session, actor=actor_for(ivan), case=case, body="Victim reported on 1 May")
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert [e.kind for e in events] == ["opened", "link_added", "note_added"]
    for e in events:
        entry = session.get(AuditEvent, e.audit_seq)
        assert entry is not None and entry.action == f"case.{e.kind}"
        assert entry.object_id == str(case.id) and entry.actor == ivan.username
        assert json.loads(entry.details)["case_id"] == case.id
    assert audit.verify(session).ok

    # one transaction: a change that fails half-way leaves neither the event nor the audit
    before_events = session.scalar(select(func.count()).select_from(CaseEvent))
    before_audit = session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(InvalidInput):
        _open(session, ivan, links=[{"item_type": "address", "item_ref": "btc:not-an-address"}])
    session.rollback()
    assert session.scalar(select(func.count()).select_from(CaseEvent)) == before_events
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before_audit
    assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_a_restricted_case_exists_only_for_its_participants(session: Session, ivan, olga) -> None:  # type: ignore[no-untyped-def]
    case = _open(session, ivan, restricted=True)
    open_case = _open(session, ivan, title="Open to staff")
    with pytest.raises(NotVisible, match="no such case"):
        case_service.get_case(session, case.id, actor=actor_for(olga))
    with pytest.raises(NotFound):
        case_service.get_case(session, 999_999, actor=actor_for(olga))
    listed, total = case_service.list_cases(session, actor=actor_for(olga), flt=CaseFilter())
    assert [c.id for c in listed] == [open_case.id] and total == 1
    case_team.add_participant(
        session,
        actor=actor_for(ivan),
        case=case,
        username=olga.username,
        role=ParticipantRole.VIEWER,
    )
    assert case_service.get_case(session, case.id, actor=actor_for(olga)) is case
    listed, total = case_service.list_cases(session, actor=actor_for(olga), flt=CaseFilter())
    assert total == 2


def test_links_are_validated_and_canonical(session: Session, ivan) -> None:  # type: ignore[no-untyped-def]
    case = _open(session, ivan)
    add = case_service.add_link
    a = actor_for(ivan)
    link = add(session, actor=a, case_id=case.id, item_type="address", item_ref=f"eth:{ETH_ADDR}")
    assert link.item_ref == "eth:" + ETH_ADDR.lower()
    link = add(
        session, actor=a, case_id=case.id, item_type="address", item_ref=f"BTC:{BTC_ADDR_2.upper()}"
    )
    assert link.item_ref == f"btc:{BTC_ADDR_2}"
    tx = add(
        session, actor=a, case_id=case.id, item_type="transaction", item_ref="btc:" + "AB" * 32
    )
    assert tx.item_ref == "btc:" + "ab" * 32
    with pytest.raises(Conflict):
        add(session, actor=a, case_id=case.id, item_type="address", item_ref=f"eth:{ETH_ADDR}")
    bad = [
        ("address", "btc:1BoatSLRHtKNngkdXEeobR76b53LETtpyX"),  # checksum
        ("address", BTC_ADDR),  # no chain
        ("address", "doge:" + BTC_ADDR),
        ("customer", "C000000404"),
        ("case", str(case.id)),
        ("case", "777"),
        ("snapshot", "1"),
        ("entity", "btc:abc"),
        ("freeze", "abc"),
        ("alert", "424242"),  # the alerts table is there: the id must name an alert
        ("request", "424242"),
    ]
    for item_type, ref in bad:
        with pytest.raises(InvalidInput):
            add(session, actor=a, case_id=case.id, item_type=item_type, item_ref=ref)
        session.rollback()
    other = _open(session, ivan, title="Related")
    add(session, actor=a, case_id=case.id, item_type=ItemType.CASE, item_ref=str(other.id))
    found = case_service.cases_linking(
        session, actor=a, item_type="address", item_ref="eth:" + ETH_ADDR.lower()
    )
    assert [c.id for c in found] == [case.id]


def test_tasks_have_assignees_and_due_dates(session: Session, ivan, olga) -> None:  # type: ignore[no-untyped-def]
    a = actor_for(ivan)
    case = _open(session, ivan)
    task = case_team.add_task(
        session,
        actor=a,
        case=case,
        data=TaskCreate(title="Request KYC", assignee=olga.username, due_date=date(2030, 1, 2)),
    )
    assert task.assignee_id == olga.id and task.status == "open"
    with pytest.raises(InvalidInput, match="no active user"):
        case_team.add_task(
            session, actor=a, case=case, data=TaskCreate(title="x", assignee="nobody")
        )
    case_team.update_task(
        session, actor=a, case=case, task=task, data=TaskUpdate(status=TaskStatus.DONE)
    )
    assert task.status == "done" and task.done_at is not None
    with pytest.raises(InvalidInput, match="nothing to change"):
        case_team.update_task(
            session, actor=a, case=case, task=task, data=TaskUpdate(status=TaskStatus.DONE)
        )
    assert _kinds(session, case)[-2:] == ["task_added", "task_updated"]


def test_saved_views_filter_the_list(session: Session, ivan, olga) -> None:  # type: ignore[no-untyped-def]
    a = actor_for(ivan)
    _open(session, ivan, title="Fraud one", type="fraud", severity="low")
    crit = _open(session, ivan, title="Sanctions hit", type="sanctions", severity="critical")
    _open(session, olga, title="Olga's", type="sanctions", severity="critical")
    view = case_saved.save_view(
        session,
        actor=a,
        name="My critical sanctions",
        flt=CaseFilter(type=["sanctions"], severity=["critical"], mine=True),  # type: ignore[list-item]
    )
    with pytest.raises(Conflict):
        case_saved.save_view(session, actor=a, name="My critical sanctions", flt=CaseFilter())
    loaded = case_saved.get_view(session, actor=a, view_id=view.id)
    rows, total = case_service.list_cases(
        session, actor=a, flt=CaseFilter.model_validate(loaded.filters)
    )
    assert [c.id for c in rows] == [crit.id] and total == 1
    rows, total = case_service.list_cases(session, actor=a, flt=CaseFilter(q="one"))
    assert total == 1
    with pytest.raises(NotFound):  # a view is its owner's alone
        case_saved.get_view(session, actor=actor_for(olga), view_id=view.id)


def test_snapshots_are_checked(session: Session, ivan) -> None:  # type: ignore[no-untyped-def]
    case = _open(session, ivan)
    snap = case_saved.save_snapshot(
        session, actor=actor_for(ivan), case=case, title="forward", graph=trace_graph()
    )
    assert (snap.node_count, snap.edge_count) == (4, 3) and len(snap.sha256) == 64
    broken = trace_graph()
    broken["edges"][0]["target"] = "btc:nowhere"
    with pytest.raises(InvalidInput, match="join two of its nodes"):
        case_saved.save_snapshot(session, actor=actor_for(ivan), case=case, title="x", graph=broken)


def test_evidence_is_hashed_at_upload_and_tampering_refuses_export(
    session: Session,
    settings: Settings,
    ivan,  # type: ignore[no-untyped-def]
) -> None:
    import hashlib

    a = actor_for(ivan)
    case = _open(session, ivan)
    content = b"screenshot of the ransom note\n" * 1000
    row = case_evidence.add_evidence(
        session,
        data_dir=settings.data_dir,
        actor=a,
        case=case,
        file_name="../../etc/note.png",
        stream=io.BytesIO(content),
        content_type="image/png",
    )
    assert row.sha256 == hashlib.sha256(content).hexdigest() and row.size == len(content)
    assert row.file_name == "note.png"
    stored = case_evidence.file_path(settings.data_dir, row)
    assert stored.read_bytes() == content and settings.data_dir in stored.parents
    with pytest.raises(InvalidInput, match="empty"):
        case_evidence.add_evidence(
            session,
            data_dir=settings.data_dir,
            actor=a,
            case=case,
            file_name="e.txt",
            stream=io.BytesIO(b""),
        )

    export = case_report.export(
        session, data_dir=settings.data_dir, actor=a, case=case, fmt=case_report.ReportFormat.JSON
    )
    assert json.loads(export.content)["evidence"][0]["sha256"] == row.sha256

    stored.write_bytes(content + b"edited")
    with pytest.raises(case_evidence.EvidenceTampered, match="no longer matches its hash"):
        case_report.export(
            session,
            data_dir=settings.data_dir,
            actor=a,
            case=case,
            fmt=case_report.ReportFormat.PDF,
        )
    session.rollback()  # the refusal was committed on its own
    refused = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "case.evidence_tampered")
    ).all()
    assert len(refused) == 1 and refused[0].outcome == "failure"
    assert refused[0].object_type == "case_evidence" and refused[0].object_id == str(row.id)
    assert _kinds(session, case)[-1] == "evidence_tampered"
    custody = [e.action for e in case_evidence.custody(session, case, row)]
    assert custody == ["case.evidence_added", "case.exported", "case.evidence_tampered"]


def test_pdf_report_is_valid_and_names_the_case_and_hashes(
    session: Session,
    settings: Settings,
    ivan,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    a = actor_for(ivan)
    case = _open(session, ivan, title="Peel chain from hack 2024", summary="Funds peeled off.")
    case_service.add_link(
        session, actor=a, case_id=case.id, item_type="address", item_ref=f"btc:{BTC_ADDR}"
    )
    case_saved.save_snapshot(session, actor=a, case=case, title="forward", graph=trace_graph(8))
    rows = [
        case_evidence.add_evidence(
            session,
            data_dir=settings.data_dir,
            actor=a,
            case=case,
            file_name=f"f{i}.txt",
            stream=io.BytesIO(f"file {i}".encode()),
        )
        for i in range(3)
    ]
    export = case_report.export(
        session, data_dir=settings.data_dir, actor=a, case=case, fmt=case_report.ReportFormat.PDF
    )
    assert export.content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(export.content))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Peel chain from hack 2024" in text
    for r in rows:
        assert r.sha256 in text
    assert BTC_ADDR in text and "Timeline" in text and "Graphs" in text
    assert _kinds(session, case)[-1] == "exported"
    last = session.scalars(select(CaseEvent).order_by(CaseEvent.id.desc()).limit(1)).one()
    assert last.details["sha256"] == export.sha256
    assert sorted(last.details["evidence_ids"]) == sorted(r.id for r in rows)


def test_an_evidence_file_over_the_limit_leaves_nothing_behind(
    session: Session,
    settings: Settings,
    ivan,  # type: ignore[no-untyped-def]
) -> None:
    from chainsleuth.core.errors import PayloadTooLarge

    case = _open(session, ivan)
    with pytest.raises(PayloadTooLarge):
        case_evidence.add_evidence(
            session,
            data_dir=settings.data_dir,
            actor=actor_for(ivan),
            case=case,
            file_name="big.bin",
            stream=io.BytesIO(b"x" * 5000),
            max_bytes=4096,
        )
    folder = settings.data_dir / case_evidence.EVIDENCE_DIR / f"case-{case.id}"
    assert list(folder.iterdir()) == []
    assert case_evidence.all_evidence(session, case) == []
    assert _kinds(session, case) == ["opened"]

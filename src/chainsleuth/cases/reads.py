"""Cases as the API and the pages show them (the ``*Read`` schemas), in few queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from chainsleuth.auth.models import User
from chainsleuth.cases import evidence as case_evidence
from chainsleuth.cases import links as case_links
from chainsleuth.cases import saved as case_saved
from chainsleuth.cases import service as case_service
from chainsleuth.cases import team as case_team
from chainsleuth.cases.models import Case, CaseEvent, CaseEvidence, CaseLink, CaseTask
from chainsleuth.cases.schemas import (
    CaseDetail,
    CaseRead,
    EventRead,
    EvidenceRead,
    LinkRead,
    NoteRead,
    Page,
    ParticipantRead,
    SnapshotRead,
    TaskRead,
)


def case_read(case: Case, users: dict[int, User]) -> CaseRead:
    owner = users.get(case.owner_id) if case.owner_id is not None else None
    return CaseRead.model_validate(
        {
            "id": case.id,
            "title": case.title,
            "type": case.type,
            "severity": case.severity,
            "status": case.status,
            "summary": case.summary,
            "owner": owner.username if owner else None,
            "restricted": case.restricted,
            "close_reason": case.close_reason,
            "close_note": case.close_note,
            "closed_at": case.closed_at,
            "created_at": case.created_at,
            "updated_at": case.updated_at,
        }
    )


def case_reads(session: Session, cases: Sequence[Case]) -> list[CaseRead]:
    users = case_service.usernames(session, [c.owner_id for c in cases])
    return [case_read(c, users) for c in cases]


def task_read(task: CaseTask, users: dict[int, User], today: date | None = None) -> TaskRead:
    today = today or date.today()
    assignee = users.get(task.assignee_id) if task.assignee_id is not None else None
    return TaskRead.model_validate(
        {
            "id": task.id,
            "title": task.title,
            "description": task.description,
            "assignee": assignee.username if assignee else None,
            "due_date": task.due_date,
            "status": task.status,
            "done_at": task.done_at,
            "created_at": task.created_at,
            "overdue": task.status == "open"
            and task.due_date is not None
            and task.due_date < today,
        }
    )


def link_read(link: CaseLink) -> LinkRead:
    data = LinkRead.model_validate(link)
    data.url = case_links.url_for(link.case_id, link.item_type, link.item_ref)
    return data


def event_page(rows: Sequence[CaseEvent], total: int, next_before: int | None) -> Page[EventRead]:
    return Page[EventRead](
        items=[EventRead.model_validate(e) for e in rows], total=total, next_before=next_before
    )


def evidence_page(
    rows: Sequence[CaseEvidence], total: int, next_before: int | None
) -> Page[EvidenceRead]:
    return Page[EvidenceRead](
        items=[EvidenceRead.model_validate(f) for f in rows], total=total, next_before=next_before
    )


def case_detail(session: Session, case: Case, *, page_size: int = 50) -> CaseDetail:
    """The case and what hangs off it; the timeline and the evidence a page at a time."""
    people = case_team.participants(session, case)
    tasks = case_team.tasks(session, case)
    users = {u.id: u for _, u in people}
    users |= case_service.usernames(
        session, [case.owner_id, *(t.assignee_id for t in tasks if t.assignee_id not in users)]
    )
    return CaseDetail(
        case=case_read(case, users),
        participants=[
            ParticipantRead(
                user_id=u.id,
                username=u.username,
                full_name=u.full_name,
                role=p.role,
                added_at=p.added_at,
            )
            for p, u in people
        ],  # fmt: skip
        tasks=[task_read(t, users) for t in tasks],
        links=[link_read(x) for x in case_links.links(session, case)],
        notes=[NoteRead.model_validate(n) for n in case_team.notes(session, case)],
        snapshots=[SnapshotRead.model_validate(s) for s in case_saved.snapshots(session, case)],
        timeline=event_page(*case_service.timeline(session, case, limit=page_size)),
        evidence=evidence_page(*case_evidence.evidence_page(session, case, limit=page_size)),
    )

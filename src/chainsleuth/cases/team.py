"""The people and the work of a case: participants, tasks with assignees and due dates,
notes. Each change is written with its timeline and audit entries (``events.record_event``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.auth.models import User
from chainsleuth.cases.enums import EventKind, ParticipantRole, TaskStatus
from chainsleuth.cases.events import record_event
from chainsleuth.cases.models import Case, CaseNote, CaseParticipant, CaseTask
from chainsleuth.cases.schemas import TaskCreate, TaskUpdate
from chainsleuth.cases.service import _user
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound
from chainsleuth.core.models import MAX_ROW_ID, utcnow

# --- participants -----------------------------------------------------------------------


def participants(session: Session, case: Case) -> list[tuple[CaseParticipant, User]]:
    rows = session.execute(
        select(CaseParticipant, User)
        .join(User, User.id == CaseParticipant.user_id)
        .where(CaseParticipant.case_id == case.id)
        .order_by(CaseParticipant.id)
    ).all()
    return [(p, u) for p, u in rows]


def add_participant(
    session: Session, *, actor: Actor, case: Case, username: str, role: ParticipantRole
) -> CaseParticipant:
    if role is ParticipantRole.OWNER:
        raise InvalidInput("change the owner with the owner field instead")
    user = _user(session, username)
    exists = session.scalar(
        select(CaseParticipant.id).where(
            CaseParticipant.case_id == case.id, CaseParticipant.user_id == user.id
        )
    )
    if exists is not None:
        raise Conflict(f"{user.username} takes part in the case already")
    row = CaseParticipant(case_id=case.id, user_id=user.id, role=role.value)
    session.add(row)
    record_event(
        session,
        actor=actor,
        case=case,
        kind=EventKind.PARTICIPANT_ADDED,
        summary=f"added {user.username} ({role.value})",
        details={"user_id": user.id, "role": role.value},
    )
    session.commit()
    return row


def remove_participant(session: Session, *, actor: Actor, case: Case, username: str) -> None:
    user = _user(session, username)
    if user.id == case.owner_id:
        raise InvalidInput("the owner cannot be removed: give the case another owner first")
    done = session.execute(
        delete(CaseParticipant).where(
            CaseParticipant.case_id == case.id, CaseParticipant.user_id == user.id
        )
    )
    if not getattr(done, "rowcount", 0):
        raise InvalidInput(f"{user.username} does not take part in the case")
    record_event(
        session,
        actor=actor,
        case=case,
        kind=EventKind.PARTICIPANT_REMOVED,
        summary=f"removed {user.username}",
        details={"user_id": user.id},
    )
    session.commit()


# --- tasks and notes --------------------------------------------------------------------


def tasks(session: Session, case: Case) -> Sequence[CaseTask]:
    return session.scalars(
        select(CaseTask)
        .where(CaseTask.case_id == case.id)
        .order_by(CaseTask.status, CaseTask.due_date.is_(None), CaseTask.due_date, CaseTask.id)
    ).all()


def get_task(session: Session, case: Case, task_id: int) -> CaseTask:
    task = session.get(CaseTask, task_id) if 1 <= task_id <= MAX_ROW_ID else None
    if task is None or task.case_id != case.id:
        raise NotFound(f"case {case.id} has no task {task_id}")
    return task


def add_task(session: Session, *, actor: Actor, case: Case, data: TaskCreate) -> CaseTask:
    assignee = _user(session, data.assignee) if data.assignee else None
    if data.due_date is not None and data.due_date < date(2000, 1, 1):
        raise InvalidInput("the due date is too far in the past")
    task = CaseTask(
        case_id=case.id,
        title=data.title,
        description=data.description,
        assignee_id=assignee.id if assignee else None,
        due_date=data.due_date,
        status=TaskStatus.OPEN.value,
    )
    session.add(task)
    session.flush()
    who = f" for {assignee.username}" if assignee else ""
    due = f", due {data.due_date.isoformat()}" if data.due_date else ""
    record_event(
        session,
        actor=actor,
        case=case,
        kind=EventKind.TASK_ADDED,
        summary=f"task {task.title!r}{who}{due}",
        details={
            "task_id": task.id,
            "assignee_id": task.assignee_id,
            "due_date": data.due_date.isoformat() if data.due_date else None,
        },
    )
    session.commit()
    return task


def update_task(
    session: Session, *, actor: Actor, case: Case, task: CaseTask, data: TaskUpdate
) -> CaseTask:
    changes: dict[str, Any] = {}
    if data.status is not None and data.status.value != task.status:
        task.status = data.status.value
        task.done_at = utcnow() if data.status is TaskStatus.DONE else None
        changes["status"] = data.status.value
    if data.assignee is not None:
        assignee = _user(session, data.assignee) if data.assignee.strip() else None
        new_id = assignee.id if assignee else None
        if new_id != task.assignee_id:
            task.assignee_id = new_id
            changes["assignee"] = assignee.username if assignee else None
    if data.due_date is not None and data.due_date != task.due_date:
        task.due_date = data.due_date
        changes["due_date"] = data.due_date.isoformat()
    if not changes:
        raise InvalidInput("nothing to change")
    text = ", ".join(f"{k} {v}" for k, v in changes.items())
    record_event(
        session,
        actor=actor,
        case=case,
        kind=EventKind.TASK_UPDATED,
        summary=f"task {task.title!r}: {text}",
        details={"task_id": task.id, **changes},
    )
    session.commit()
    return task


def add_note(session: Session, *, actor: Actor, case: Case, body: str) -> CaseNote:
    text = body.strip()
    if not text:
        raise InvalidInput("a note needs some text")
    note = CaseNote(case_id=case.id, author_id=actor.user_id, author=actor.name, body=text)
    session.add(note)
    session.flush()
    record_event(
        session,
        actor=actor,
        case=case,
        kind=EventKind.NOTE_ADDED,
        summary="note: " + (text[:120] + ("…" if len(text) > 120 else "")),
        details={"note_id": note.id},
    )
    session.commit()
    return note


def notes(session: Session, case: Case) -> Sequence[CaseNote]:
    return session.scalars(
        select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id.desc())
    ).all()

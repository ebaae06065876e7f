"""Cases: opening, changing, closing; who may see them; tasks, notes, links, saved graphs.

Every change of a case goes through :func:`_event`, which writes the timeline entry and the
audit entry together in the caller's transaction; the public functions commit. A case that
is restricted is visible only to its owner and participants: to everyone else (whatever
their permissions) it does not exist (:class:`NotVisible`, reported as 404, audited as an
access denial). A caller without a user (the CLI, the system) sees every case.

Other domains use :func:`open_case`, and :mod:`chainsleuth.cases.links` to link their items
(``add_link``) or to put a step of theirs on a case's timeline (``record_step``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.auth import service as user_service
from chainsleuth.auth.models import User
from chainsleuth.cases import links as case_links
from chainsleuth.cases.enums import (
    TRANSITIONS,
    CaseStatus,
    CaseType,
    CloseReason,
    EventKind,
    ItemType,
    ParticipantRole,
    Severity,
    TaskStatus,
)
from chainsleuth.cases.events import record_event
from chainsleuth.cases.models import (
    Case,
    CaseEvent,
    CaseLink,
    CaseParticipant,
    CaseTask,
)
from chainsleuth.cases.schemas import (
    CaseCreate,
    CaseFilter,
    CaseUpdate,
    LinkCreate,
    StatusChange,
)
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound, NotVisible
from chainsleuth.core.models import MAX_ROW_ID, utcnow

# --- access -----------------------------------------------------------------------------


def _visible_clause(user_id: int) -> Any:
    member = select(CaseParticipant.case_id).where(CaseParticipant.user_id == user_id)
    return or_(Case.restricted.is_(False), Case.owner_id == user_id, Case.id.in_(member))


def can_see(session: Session, case: Case, user_id: int | None) -> bool:
    if user_id is None or not case.restricted or case.owner_id == user_id:
        return True
    found = session.scalar(
        select(CaseParticipant.id).where(
            CaseParticipant.case_id == case.id, CaseParticipant.user_id == user_id
        )
    )
    return found is not None


def get_case(session: Session, case_id: int, *, actor: Actor) -> Case:
    """The case, if it exists and the actor may see it; otherwise "no such case" (404)."""
    case = session.get(Case, case_id) if 1 <= case_id <= MAX_ROW_ID else None
    if case is None:
        raise NotFound(f"no such case: {case_id}")
    if not can_see(session, case, actor.user_id):
        raise NotVisible(f"no such case: {case_id}")
    return case


def _user(session: Session, username: str) -> User:
    user = user_service.get_by_username(session, username.strip())
    if user is None or not user.is_active:
        raise InvalidInput(f"there is no active user {username.strip()!r}")
    if not user.role.is_internal:
        raise InvalidInput(f"{user.username} is not on the exchange's staff")
    return user


def usernames(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}


# --- cases ------------------------------------------------------------------------------


def open_case(
    session: Session,
    *,
    actor: Actor,
    title: str,
    type: CaseType | str,  # noqa: A002 - the field's name
    severity: Severity | str = Severity.MEDIUM,
    summary: str = "",
    restricted: bool = False,
    owner: str | None = None,
    participants: Sequence[str] = (),
    links: Sequence[LinkCreate | dict[str, Any]] = (),
) -> Case:
    """Open a case (for other domains too: an alert or a request opens one with its link)."""
    data = CaseCreate.model_validate(
        {
            "title": title,
            "type": type,
            "severity": severity,
            "summary": summary,
            "restricted": restricted,
            "owner": owner,
            "participants": list(participants),
            "links": [x.model_dump() if isinstance(x, LinkCreate) else x for x in links],
        }
    )
    return create_case(session, actor=actor, data=data)


def create_case(session: Session, *, actor: Actor, data: CaseCreate) -> Case:
    owner = _user(session, data.owner) if data.owner else None
    owner_id = owner.id if owner else actor.user_id
    case = Case(
        title=data.title,
        type=data.type.value,
        severity=data.severity.value,
        status=CaseStatus.OPEN.value,
        summary=data.summary,
        restricted=data.restricted,
        owner_id=owner_id,
        created_by_id=actor.user_id,
    )
    session.add(case)
    session.flush()
    record_event(
        session,
        actor=actor,
        case=case,
        kind=EventKind.OPENED,
        summary=f"opened {data.type.label.lower()} case {case.title!r} ({data.severity.value})",
        details={"type": case.type, "severity": case.severity, "restricted": case.restricted},
    )
    members = {owner_id: ParticipantRole.OWNER} if owner_id is not None else {}
    for name in data.participants:
        members.setdefault(_user(session, name).id, ParticipantRole.MEMBER)
    for user_id, role in members.items():
        session.add(CaseParticipant(case_id=case.id, user_id=user_id, role=role.value))
    for link in data.links:
        case_links.add_link_in(session, actor=actor, case=case, data=link)
    session.commit()
    return case


def update_case(session: Session, *, actor: Actor, case: Case, data: CaseUpdate) -> Case:
    changes: dict[str, Any] = {}
    for field in ("title", "summary"):
        value = getattr(data, field)
        if value is not None and value != getattr(case, field):
            changes[field] = value
    for field in ("type", "severity"):
        value = getattr(data, field)
        if value is not None and value.value != getattr(case, field):
            changes[field] = value.value
    if not changes and data.restricted is None and data.owner is None:
        raise InvalidInput("nothing to change")
    for field, value in changes.items():
        setattr(case, field, value)
    if changes:
        record_event(
            session,
            actor=actor,
            case=case,
            kind=EventKind.UPDATED,
            summary="changed " + ", ".join(sorted(changes)),
            details={k: v for k, v in changes.items() if k != "summary"},
        )
    if data.restricted is not None and data.restricted != case.restricted:
        case.restricted = data.restricted
        record_event(
            session,
            actor=actor,
            case=case,
            kind=EventKind.RESTRICTED,
            summary="restricted to its participants" if data.restricted else "opened to staff",
            details={"restricted": data.restricted},
        )
    if data.owner is not None:
        set_owner(session, actor=actor, case=case, username=data.owner, commit=False)
    session.commit()
    return case


def set_owner(
    session: Session, *, actor: Actor, case: Case, username: str, commit: bool = True
) -> Case:
    user = _user(session, username)
    if user.id == case.owner_id:
        raise InvalidInput(f"{user.username} owns the case already")
    previous = case.owner_id
    case.owner_id = user.id
    _ensure_participant(session, case, user.id, ParticipantRole.OWNER)
    if previous is not None:
        old = session.scalar(
            select(CaseParticipant).where(
                CaseParticipant.case_id == case.id, CaseParticipant.user_id == previous
            )
        )
        if old is not None and old.role == ParticipantRole.OWNER.value:
            old.role = ParticipantRole.MEMBER.value
    record_event(
        session,
        actor=actor,
        case=case,
        kind=EventKind.OWNER,
        summary=f"owner is now {user.username}",
        details={"owner_id": user.id, "previous_owner_id": previous},
    )
    if commit:
        session.commit()
    return case


def change_status(session: Session, *, actor: Actor, case: Case, data: StatusChange) -> Case:
    current = CaseStatus(case.status)
    target = data.status
    if target == current:
        raise InvalidInput(f"the case is {current.label.lower()} already")
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current]))
        raise InvalidInput(
            f"a case that is {current.value} cannot become {target.value} (allowed: {allowed})"
        )
    details: dict[str, Any] = {"from": current.value, "to": target.value}
    if target is CaseStatus.CLOSED:
        if data.reason is None:
            reasons = ", ".join(r.value for r in CloseReason)
            raise InvalidInput(f"closing a case needs a reason ({reasons})")
        open_tasks = session.scalar(
            select(func.count())
            .select_from(CaseTask)
            .where(CaseTask.case_id == case.id, CaseTask.status == TaskStatus.OPEN.value)
        )
        case.close_reason, case.close_note, case.closed_at = data.reason.value, data.note, utcnow()
        details |= {"reason": data.reason.value, "note": data.note, "open_tasks": open_tasks}
        kind, summary = EventKind.CLOSED, f"closed: {data.reason.label.lower()}"
    elif current is CaseStatus.CLOSED:
        case.close_reason = case.close_note = case.closed_at = None
        details["note"] = data.note
        kind, summary = EventKind.REOPENED, "reopened"
    else:
        if data.reason is not None:
            raise InvalidInput("a reason is given only when closing a case")
        details["note"] = data.note
        kind, summary = EventKind.STATUS, f"status {current.value} -> {target.value}"
    case.status = target.value
    record_event(session, actor=actor, case=case, kind=kind, summary=summary, details=details)
    session.commit()
    return case


def close_case(
    session: Session, *, actor: Actor, case: Case, reason: CloseReason | str, note: str | None
) -> Case:
    data = StatusChange.model_validate({"status": "closed", "reason": reason, "note": note})
    return change_status(session, actor=actor, case=case, data=data)


def _filtered(stmt: Select[Any], flt: CaseFilter, *, user_id: int | None) -> Select[Any]:
    if user_id is not None:
        stmt = stmt.where(_visible_clause(user_id))
    if flt.q:
        stmt = stmt.where(Case.title.ilike(f"%{flt.q}%", escape="\\"))
    if flt.status:
        stmt = stmt.where(Case.status.in_([s.value for s in flt.status]))
    elif not flt.include_closed:
        stmt = stmt.where(Case.status != CaseStatus.CLOSED.value)
    if flt.type:
        stmt = stmt.where(Case.type.in_([t.value for t in flt.type]))
    if flt.severity:
        stmt = stmt.where(Case.severity.in_([s.value for s in flt.severity]))
    if flt.owner:
        stmt = stmt.join(User, User.id == Case.owner_id).where(User.username == flt.owner)
    if flt.mine and user_id is not None:
        mine = select(CaseParticipant.case_id).where(CaseParticipant.user_id == user_id)
        stmt = stmt.where(or_(Case.owner_id == user_id, Case.id.in_(mine)))
    return stmt


def _escaped(flt: CaseFilter) -> CaseFilter:
    if not flt.q:
        return flt
    q = flt.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return flt.model_copy(update={"q": q})


def list_cases(
    session: Session, *, actor: Actor, flt: CaseFilter, limit: int = 100, offset: int = 0
) -> tuple[Sequence[Case], int]:
    """The cases the actor may see that match, most recently changed first, and their count."""
    flt = _escaped(flt)
    total = session.scalar(
        _filtered(select(func.count()).select_from(Case), flt, user_id=actor.user_id)
    )
    rows = session.scalars(
        _filtered(select(Case), flt, user_id=actor.user_id)
        .order_by(Case.updated_at.desc(), Case.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, int(total or 0)


def _ensure_participant(session: Session, case: Case, user_id: int, role: ParticipantRole) -> None:
    row = session.scalar(
        select(CaseParticipant).where(
            CaseParticipant.case_id == case.id, CaseParticipant.user_id == user_id
        )
    )
    if row is None:
        session.add(CaseParticipant(case_id=case.id, user_id=user_id, role=role.value))
    else:
        row.role = role.value


# --- links (their rules: :mod:`chainsleuth.cases.links`) -----------------------------


def add_link(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    item_type: ItemType | str,
    item_ref: str,
    note: str | None = None,
) -> CaseLink:
    """Link an item to a case (other domains call this: "add to case")."""
    case = get_case(session, case_id, actor=actor)
    data = LinkCreate.model_validate({"item_type": item_type, "item_ref": item_ref, "note": note})
    try:
        link = case_links.add_link_in(session, actor=actor, case=case, data=data)
        session.commit()
    except IntegrityError as exc:  # a concurrent add of the same link
        session.rollback()
        raise Conflict("the case is linked to that item already") from exc
    return link


def cases_linking(
    session: Session, *, actor: Actor, item_type: ItemType | str, item_ref: str
) -> Sequence[Case]:
    """The cases (visible to the actor) that link to an item given in its canonical form."""
    stmt = (
        select(Case)
        .join(CaseLink, CaseLink.case_id == Case.id)
        .where(CaseLink.item_type == str(item_type), CaseLink.item_ref == item_ref)
    )
    if actor.user_id is not None:
        stmt = stmt.where(_visible_clause(actor.user_id))
    return session.scalars(stmt.order_by(Case.id)).all()


# --- the timeline, a page at a time --------------------------------------------------------


def timeline(
    session: Session, case: Case, *, limit: int = 50, before: int | None = None
) -> tuple[Sequence[CaseEvent], int, int | None]:
    """Newest first, keyset-paged on the event id: (events, total, next ``before``)."""
    stmt = select(CaseEvent).where(CaseEvent.case_id == case.id)
    if before is not None:
        stmt = stmt.where(CaseEvent.id < before)
    rows = session.scalars(stmt.order_by(CaseEvent.id.desc()).limit(limit + 1)).all()
    total = session.scalar(
        select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, int(total or 0), rows[-1].id if more and rows else None

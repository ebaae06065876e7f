"""Alerts: raising (deduplicated), the investigator's workflow, comments, bulk actions.

Status moves ``new -> in_review -> escalated -> closed`` (any open status may go to any
other open status or be closed); closing needs a disposition and a note; a closed alert is
re-opened only when the caller says so explicitly (``reopen``), with a note. Every change is
written with its audit event (object type ``alert``) in the caller's transaction: the
audit log is the alert's history. The team lead's figures are in ``chainsleuth.alerts.stats``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chainsleuth.alerts.enums import (
    OPEN_STATUSES,
    AlertSource,
    AlertStatus,
    Disposition,
    Severity,
    SubjectType,
)
from chainsleuth.alerts.models import Alert, AlertComment
from chainsleuth.alerts.rules import (
    MAX_DETAILS_BYTES,
    MAX_NOTE_LENGTH,
    _choice,
    _clean_reasons,
    canonical_subject,
    dedup_key,
    merge_details,
    parse_disposition,
    parse_severity,
    parse_source,
    parse_status,
)
from chainsleuth.audit import service as audit
from chainsleuth.audit.models import AuditEvent
from chainsleuth.audit.service import Actor, canonical_json
from chainsleuth.auth import service as auth_service
from chainsleuth.auth.enums import ROLE_PERMISSIONS, Permission
from chainsleuth.auth.models import User
from chainsleuth.chain.chains import get_chain
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound
from chainsleuth.core.models import MAX_ROW_ID, utcnow

MAX_PAGE = 200
MAX_BULK = 500
OBJECT_TYPE = "alert"

#: which open status may follow which (closing is handled apart: it needs a disposition)
_NEXT: dict[AlertStatus, frozenset[AlertStatus]] = {
    AlertStatus.NEW: frozenset({AlertStatus.IN_REVIEW, AlertStatus.ESCALATED}),
    AlertStatus.IN_REVIEW: frozenset({AlertStatus.NEW, AlertStatus.ESCALATED}),
    AlertStatus.ESCALATED: frozenset({AlertStatus.IN_REVIEW}),
}


def raise_alert(
    session: Session,
    *,
    actor: Actor,
    severity: str,
    subject_type: str,
    subject: str,
    chain: str | None,
    reasons: list[str],
    source: str,
    screening_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> Alert:
    """Add an alert and its audit event in the caller's transaction (the caller commits).

    While an alert with the same subject, chain, source and reasons is open, that alert is
    bumped instead (``occurrences`` + 1, ``last_seen``, the severity raised if higher, the
    details merged (``merge_details``), the newest screening kept).
    """
    sev = parse_severity(severity)
    stype: SubjectType = _choice(SubjectType, subject_type, "subject type")
    src = parse_source(source)
    chain_id = get_chain(chain).id if chain is not None else None
    subj = canonical_subject(stype, subject, chain_id)
    cleaned = _clean_reasons(reasons)
    if screening_id is not None and not 1 <= screening_id <= MAX_ROW_ID:
        raise InvalidInput(f"{screening_id} is not a screening id")
    body = dict(details or {})
    try:
        size = len(canonical_json(body).encode())
    except (TypeError, ValueError) as exc:
        raise InvalidInput("the alert's details must be JSON") from exc
    if size > MAX_DETAILS_BYTES:
        raise InvalidInput("the alert's details are too large")
    key = dedup_key(
        subject_type=stype.value, subject=subj, chain=chain_id, source=src.value, reasons=cleaned
    )
    now = utcnow()
    merged = None if details is None else body
    existing = _open_with_key(session, key)
    if existing is not None:
        return _repeat(
            session,
            existing,
            actor=actor,
            now=now,
            sev=sev,
            body=merged,
            screening_id=screening_id,
        )
    alert = Alert(
        severity=sev.value,
        subject_type=stype.value,
        subject=subj,
        chain=chain_id,
        reasons=cleaned,
        source=src.value,
        screening_id=screening_id,
        details=body,
        dedup_key=key,
        status=AlertStatus.NEW.value,
        occurrences=1,
        first_seen=now,
        last_seen=now,
    )
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        # Another raiser inserted the same open alert since we looked (the partial unique
        # index uq_alerts_open_dedup_key): this one is a repeat of it.
        existing = _open_with_key(session, key)
        if existing is None:
            raise
        return _repeat(
            session,
            existing,
            actor=actor,
            now=now,
            sev=sev,
            body=merged,
            screening_id=screening_id,
        )
    audit.record(
        session,
        actor=actor,
        action="alert.raised",
        object_type=OBJECT_TYPE,
        object_id=alert.id,
        details={
            "severity": sev.value,
            "subject_type": stype.value,
            "subject": subj,
            "chain": chain_id,
            "source": src.value,
            "screening_id": screening_id,
        },
    )
    return alert


# -- reading ----------------------------------------------------------------------------


def _open_with_key(session: Session, key: str) -> Alert | None:
    """The open alert with this deduplication key, locked for the update (None: none)."""
    return session.scalars(
        select(Alert)
        .where(Alert.dedup_key == key, Alert.status.in_([s.value for s in OPEN_STATUSES]))
        .order_by(Alert.id)
        .limit(1)
        .with_for_update(of=Alert)
    ).first()


def _repeat(
    session: Session,
    existing: Alert,
    *,
    actor: Actor,
    now: datetime,
    sev: Severity,
    body: dict[str, Any] | None,
    screening_id: int | None,
) -> Alert:
    """Bump an open alert for a repeat of it, audited as ``alert.repeated``."""
    existing.occurrences += 1
    existing.last_seen = now
    if sev.rank > Severity(existing.severity).rank:
        existing.severity = sev.value
    if body is not None:
        existing.details = merge_details(existing.details, body)
    if screening_id is not None:
        existing.screening_id = screening_id
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="alert.repeated",
        object_type=OBJECT_TYPE,
        object_id=existing.id,
        details={"occurrences": existing.occurrences, "screening_id": screening_id},
    )
    return existing


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id) if 1 <= alert_id <= MAX_ROW_ID else None
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


@dataclass(frozen=True)
class AlertFilter:
    status: Sequence[AlertStatus] = ()
    severity: Sequence[Severity] = ()
    source: Sequence[AlertSource] = ()
    #: a username, ``"none"`` for unassigned alerts
    assignee: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    subject: str | None = None
    open_only: bool = False


_SEVERITY_ORDER = case({s.value: s.rank for s in Severity}, value=Alert.severity, else_=0).desc()


def _filtered(session: Session, stmt: Select[Any], flt: AlertFilter) -> Select[Any]:
    if flt.status:
        stmt = stmt.where(Alert.status.in_([s.value for s in flt.status]))
    elif flt.open_only:
        stmt = stmt.where(Alert.status.in_([s.value for s in OPEN_STATUSES]))
    if flt.severity:
        stmt = stmt.where(Alert.severity.in_([s.value for s in flt.severity]))
    if flt.source:
        stmt = stmt.where(Alert.source.in_([s.value for s in flt.source]))
    if flt.assignee:
        if flt.assignee.strip().lower() == "none":
            stmt = stmt.where(Alert.assignee_id.is_(None))
        else:
            user = auth_service.get_by_username(session, flt.assignee.strip())
            if user is None:
                raise InvalidInput(f"no user {flt.assignee!r}")
            stmt = stmt.where(Alert.assignee_id == user.id)
    if flt.since is not None:
        stmt = stmt.where(Alert.first_seen >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(Alert.first_seen < flt.until)
    if flt.subject:
        text = flt.subject.strip()
        stmt = stmt.where(or_(Alert.subject == text, Alert.subject == text.lower()))
    return stmt


def list_alerts(
    session: Session, *, flt: AlertFilter, limit: int = 50, offset: int = 0
) -> tuple[Sequence[Alert], int]:
    """Alerts matching the filter, worst first then newest, and how many match in all."""
    if flt.since and flt.until and flt.since >= flt.until:
        raise InvalidInput("'since' must be before 'until'")
    limit = max(1, min(limit, MAX_PAGE))
    total = session.scalar(_filtered(session, select(func.count()).select_from(Alert), flt))
    items = session.scalars(
        _filtered(session, select(Alert), flt)
        .order_by(_SEVERITY_ORDER, Alert.last_seen.desc(), Alert.id.desc())
        .limit(limit)
        .offset(max(0, offset))
    ).all()
    return items, int(total or 0)


def history(session: Session, alert: Alert, *, limit: int = 200) -> Sequence[AuditEvent]:
    """The alert's audit events, oldest first."""
    events = audit.search(
        session,
        flt=audit.AuditFilter(object_type=OBJECT_TYPE, object_id=str(alert.id)),
        limit=limit,
    )
    return list(reversed(events))


def workers(session: Session) -> list[User]:
    """Active users who may work alerts (for assignment)."""
    users = session.scalars(
        select(User).where(User.is_active.is_(True)).order_by(User.username)
    ).all()
    return [u for u in users if Permission.ALERTS_WORK in ROLE_PERMISSIONS[u.role]]


# -- working ----------------------------------------------------------------------------


def _assignee(session: Session, username: str) -> User:
    user = auth_service.get_by_username(session, username.strip())
    if user is None:
        raise InvalidInput(f"no user {username!r} to assign the alert to")
    if not user.is_active:
        raise InvalidInput(f"{user.username} is disabled and cannot be assigned alerts")
    if Permission.ALERTS_WORK not in ROLE_PERMISSIONS[user.role]:
        raise InvalidInput(f"{user.username} may not work alerts and cannot be assigned one")
    return user


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    text = note.strip()
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"the note is longer than {MAX_NOTE_LENGTH} characters")
    return text or None


def assign(session: Session, *, actor: Actor, alert: Alert, assignee: str | None) -> Alert:
    """Give the alert to a user who may work alerts, or to nobody (``None``)."""
    if alert.status == AlertStatus.CLOSED:
        raise Conflict(f"alert {alert.id} is closed: re-open it before assigning it")
    user = _assignee(session, assignee) if assignee else None
    before = alert.assignee.username if alert.assignee else None
    after = user.username if user else None
    if before == after:
        return alert
    alert.assignee_id = user.id if user else None
    alert.assignee = user
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="alert.assigned",
        object_type=OBJECT_TYPE,
        object_id=alert.id,
        details={"from": before, "to": after},
    )
    return alert


def set_status(
    session: Session,
    *,
    actor: Actor,
    alert: Alert,
    status: str,
    disposition: str | None = None,
    note: str | None = None,
    reopen: bool = False,
) -> Alert:
    """Move the alert; closing needs a disposition and a note, re-opening ``reopen=True``."""
    target = parse_status(status)
    current = AlertStatus(alert.status)
    text = _note(note)
    if target is current:
        if target is AlertStatus.CLOSED:
            raise Conflict(f"alert {alert.id} is closed already")
        return alert
    details: dict[str, Any] = {"from": current.value, "to": target.value}
    if current is AlertStatus.CLOSED:
        if not reopen:
            raise Conflict(
                f"alert {alert.id} is closed ({alert.disposition}); re-open it explicitly "
                "(reopen) with a note to work it again"
            )
        if text is None:
            raise InvalidInput("re-opening a closed alert needs a note saying why")
        details["previous_disposition"] = alert.disposition
        alert.disposition = None
        alert.disposition_note = None
        alert.closed_at = None
        alert.closed_by_id = None
        action = "alert.reopened"
    elif target is AlertStatus.CLOSED:
        if disposition is None:
            known = ", ".join(d.value for d in Disposition)
            raise InvalidInput(f"closing an alert needs a disposition ({known})")
        disp = parse_disposition(disposition)
        if text is None:
            raise InvalidInput("closing an alert needs a note on the disposition")
        alert.disposition = disp.value
        alert.disposition_note = text
        alert.closed_at = utcnow()
        alert.closed_by_id = actor.user_id
        details["disposition"] = disp.value
        action = "alert.closed"
    else:
        if target not in _NEXT[current]:
            raise Conflict(f"alert {alert.id} cannot go from {current.label} to {target.label}")
        action = "alert.status_changed"
    if disposition is not None and target is not AlertStatus.CLOSED:
        raise InvalidInput("a disposition is given only when closing an alert")
    if text is not None:
        details["note"] = text
    alert.status = target.value
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        object_type=OBJECT_TYPE,
        object_id=alert.id,
        details=details,
    )
    return alert


def add_comment(session: Session, *, actor: Actor, alert: Alert, body: str) -> AlertComment:
    text = body.strip()
    if not text:
        raise InvalidInput("a comment cannot be empty")
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"a comment is at most {MAX_NOTE_LENGTH} characters")
    comment = AlertComment(alert=alert, author_id=actor.user_id, author=actor.name, body=text)
    session.add(comment)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="alert.commented",
        object_type=OBJECT_TYPE,
        object_id=alert.id,
        details={"comment_id": comment.id, "length": len(text)},
    )
    return comment


BULK_ACTIONS = ("assign", "close", "escalate", "review")


def bulk(
    session: Session,
    *,
    actor: Actor,
    alert_ids: Sequence[int],
    action: str,
    assignee: str | None = None,
    disposition: str | None = None,
    note: str | None = None,
) -> list[Alert]:
    """One action on many alerts, all or nothing (the caller commits or rolls back)."""
    if action not in BULK_ACTIONS:
        raise InvalidInput(f"unknown bulk action {action!r}: use one of {', '.join(BULK_ACTIONS)}")
    ids = list(dict.fromkeys(alert_ids))
    if not ids:
        raise InvalidInput("select at least one alert")
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"at most {MAX_BULK} alerts at once")
    if any(not 1 <= i <= MAX_ROW_ID for i in ids):
        raise InvalidInput("an alert id is out of range")
    found = {a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound("no alert " + ", ".join(str(i) for i in missing[:10]))
    if action == "assign" and assignee:
        _assignee(session, assignee)  # refuse an unknown assignee before changing anything
    alerts = [found[i] for i in ids]
    for alert in alerts:
        if action == "assign":
            assign(session, actor=actor, alert=alert, assignee=assignee)
        elif action == "close":
            set_status(
                session,
                actor=actor,
                alert=alert,
                status="closed",
                disposition=disposition,
                note=note,
            )
        elif action == "escalate":
            set_status(session, actor=actor, alert=alert, status="escalated", note=note)
        else:
            set_status(session, actor=actor, alert=alert, status="in_review", note=note)
    audit.record(
        session,
        actor=actor,
        action="alert.bulk",
        object_type=OBJECT_TYPE,
        details={"action": action, "ids": ids, "assignee": assignee, "disposition": disposition},
    )
    return alerts


__all__ = [
    "AlertFilter",
    "add_comment",
    "assign",
    "bulk",
    "canonical_subject",
    "dedup_key",
    "get_alert",
    "history",
    "list_alerts",
    "merge_details",
    "parse_disposition",
    "parse_severity",
    "parse_source",
    "parse_status",
    "raise_alert",
    "set_status",
    "workers",
]

"""Recording and verifying the audit log.

Every entry holds the SHA-256 of the previous entry and of its own canonical content, so
that an edited, inserted or deleted row breaks the chain. ``record`` is the one helper that
every domain calls, inside the same transaction as the change it records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, select
from sqlalchemy.orm import Session

from chainsleuth.audit.enums import Channel, Outcome
from chainsleuth.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from chainsleuth.core.hotsql import HotStatement
from chainsleuth.core.models import Base, utcnow

HEAD_ID = 1


@dataclass(frozen=True)
class Actor:
    """Who does something, and from where."""

    user_id: int | None
    name: str
    channel: Channel = Channel.WEB
    ip: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(user_id=None, name=name, channel=Channel.SYSTEM)

    @classmethod
    def anonymous(cls, *, ip: str | None, channel: Channel = Channel.WEB) -> Actor:
        return cls(user_id=None, name="anonymous", channel=channel, ip=ip)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _content(
    *,
    seq: int,
    ts: datetime,
    actor_id: int | None,
    actor: str,
    channel: str,
    action: str,
    object_type: str | None,
    object_id: str | None,
    ip: str | None,
    outcome: str,
    details: str,
    prev_hash: str,
) -> str:
    return canonical_json(
        {
            "seq": seq,
            "ts": ts.isoformat(timespec="microseconds"),
            "actor_id": actor_id,
            "actor": actor,
            "channel": channel,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "ip": ip,
            "outcome": outcome,
            "details": json.loads(details),
            "prev_hash": prev_hash,
        }
    )


def entry_hash(event: Any) -> str:
    """The hash of an entry (an ``AuditEvent`` or a row with the same columns)."""
    content = _content(
        seq=event.seq,
        ts=event.ts,
        actor_id=event.actor_id,
        actor=event.actor,
        channel=event.channel,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        ip=event.ip,
        outcome=event.outcome,
        details=event.details,
        prev_hash=event.prev_hash,
    )
    return hashlib.sha256(content.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    outcome: Outcome = Outcome.SUCCESS,
    object_type: str | None = None,
    object_id: str | int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one entry in the caller's transaction (the caller commits).

    Core statements on the session's connection, not the ORM's unit of work (the entry is
    returned, not added to the session): every audited action pays for this, and the
    screening hot path most of all."""
    return AuditEvent(**_append(session, actor, action, outcome, object_type, object_id, details))


def _append(
    session: Session,
    actor: Actor,
    action: str,
    outcome: Outcome,
    object_type: str | None,
    object_id: str | int | None,
    details: dict[str, Any] | None,
) -> dict[str, Any]:
    """``record``'s work: the entry appended, as its columns."""
    session.flush()  # the caller's pending rows first, as the ORM's autoflush did
    conn = session.connection()
    # Taking the head row first serialises writers on every backend: PostgreSQL locks the
    # row and re-reads it after a concurrent commit; SQLite holds its write lock.
    if conn.dialect.name == "postgresql":
        # two statements: the head taken, then the entry written as the head's new hash is
        # set (a writable CTE), both on the driver's cursor
        seq, prev_hash = _HOT_TAKE_HEAD.one(session)
        entry = _entry(seq, prev_hash, actor, action, outcome, object_type, object_id, details)
        _append_setting_hash(session, entry)
        return entry
    seq, prev_hash = conn.execute(_TAKE_HEAD).one()
    entry = _entry(seq, prev_hash, actor, action, outcome, object_type, object_id, details)
    conn.execute(_EVENTS.insert(), entry)
    conn.execute(_SET_HASH, {"new_hash": entry["hash"]})
    return entry


def _append_setting_hash(session: Session, entry: dict[str, Any]) -> None:
    """Write ``entry`` (``_entry``'s columns) and set the head's hash to its hash."""
    params = {f"e_{k}": v for k, v in entry.items()}
    params["new_hash"] = entry["hash"]
    _APPEND_SETTING_HASH.rows(session, params)


def record_insert(
    session: Session,
    table: Table,
    values: dict[str, Any],
    *,
    actor: Actor,
    action: str,
    object_type: str,
    details: dict[str, Any],
) -> tuple[int, dict[str, Any]]:
    """Insert one row into ``table`` and append its audit entry (the object: the row's new
    integer ``id``), in the caller's transaction: an insert and ``record``; (the id, the
    entry's columns).

    On PostgreSQL it takes two statements instead of four (a hot path's round trips): a
    writable CTE inserts the row while the same statement takes the chain's head, and
    another writes the entry while its statement sets the head's new hash."""
    session.flush()
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        row_id = int(conn.execute(table.insert().returning(table.c.id), values).scalar_one())
        entry = _append(session, actor, action, Outcome.SUCCESS, object_type, row_id, details)
        return row_id, entry
    names = tuple(sorted(values))
    take = _insert_taking_head(table, names)
    seq, prev_hash, row_id = take.one(session, {f"v_{k}": values[k] for k in names})
    entry = _entry(seq, prev_hash, actor, action, Outcome.SUCCESS, object_type, row_id, details)
    _append_setting_hash(session, entry)
    return int(row_id), entry


def _entry(
    seq: int,
    prev_hash: str,
    actor: Actor,
    action: str,
    outcome: Outcome,
    object_type: str | None,
    object_id: str | int | None,
    details: dict[str, Any] | None,
) -> dict[str, Any]:
    """An entry's columns, its hash included (written as they are; ``record`` returns them
    as an ``AuditEvent``)."""
    entry: dict[str, Any] = {
        "seq": seq,
        "ts": utcnow(),
        "actor_id": actor.user_id,
        "actor": actor.name,
        "channel": str(actor.channel),
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "ip": actor.ip,
        "outcome": str(outcome),
        "details": canonical_json(details or {}),
        "prev_hash": prev_hash,
    }
    entry["hash"] = hashlib.sha256(_content(**entry).encode()).hexdigest()
    return entry


#: (table, columns) -> the PostgreSQL statement of ``record_insert``'s first step
_TAKING_HEAD: dict[tuple[str, tuple[str, ...]], HotStatement] = {}


def _insert_taking_head(table: Table, names: tuple[str, ...]) -> HotStatement:
    key = (table.name, names)
    found = _TAKING_HEAD.get(key)
    if found is None:
        new_row = (
            table.insert()
            .values({k: bindparam(f"v_{k}", type_=table.c[k].type) for k in names})
            .returning(table.c.id)
            .cte("new_row")
        )
        found = _TAKING_HEAD[key] = HotStatement(
            _HEAD.update()
            .where(_HEAD.c.id == HEAD_ID)
            .values(seq=_HEAD.c.seq + 1)
            .returning(_HEAD.c.seq, _HEAD.c.hash, select(new_row.c.id).scalar_subquery())
            .add_cte(new_row)
        )
    return found


_EVENTS: Table = Base.metadata.tables["audit_events"]
_HEAD: Table = Base.metadata.tables["audit_head"]
_TAKE_HEAD = (
    _HEAD.update()
    .where(_HEAD.c.id == HEAD_ID)
    .values(seq=_HEAD.c.seq + 1)
    .returning(_HEAD.c.seq, _HEAD.c.hash)
)
_HOT_TAKE_HEAD = HotStatement(_TAKE_HEAD)
_SET_HASH = _HEAD.update().where(_HEAD.c.id == HEAD_ID).values(hash=bindparam("new_hash"))
#: PostgreSQL: the entry's insert (a writable CTE) and the head's new hash, one statement
_APPEND_SETTING_HASH = HotStatement(
    _SET_HASH.add_cte(
        _EVENTS.insert()
        .values({c.name: bindparam(f"e_{c.name}", type_=c.type) for c in _EVENTS.columns})
        .cte("new_event")
    )
)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "broken_seq": self.broken_seq,
            "reason": self.reason,
        }


def verify(session: Session, *, batch: int = 5000) -> VerifyResult:
    """Walk the chain up to its head and report the first broken entry.

    The walk stops at the head as read when it starts: entries that writers commit meanwhile
    (PostgreSQL lets them) lie past it, and the next verification covers them.
    """
    tip = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)
    ).one_or_none()
    if tip is None:
        return VerifyResult(False, 0, 0, "", 0, "the audit head row is missing")
    head_seq, head_hash = tip

    def broken(checked: int, seq: int, reason: str) -> VerifyResult:
        return VerifyResult(False, checked, head_seq, head_hash, seq, reason)

    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    last_seq = 0
    while True:
        # plain rows, not ORM objects: the walk must not fill the caller's identity map
        rows = session.execute(
            select(AuditEvent.__table__)
            .where(AuditEvent.seq > last_seq, AuditEvent.seq <= head_seq)
            .order_by(AuditEvent.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            if event.seq != expected_seq:
                return broken(checked, expected_seq, f"entry {expected_seq} is missing (deleted)")
            if event.prev_hash != prev_hash:
                return broken(checked, event.seq, "its link to the previous entry does not match")
            if entry_hash(event) != event.hash:
                return broken(checked, event.seq, "its content was altered after it was written")
            prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
            last_seq = event.seq
    if last_seq != head_seq:
        return broken(
            checked,
            last_seq + 1,
            f"the chain ends at entry {last_seq} but its head says {head_seq}: "
            "entries at the end were deleted",
        )
    if prev_hash != head_hash:
        return broken(
            max(checked - 1, 0),
            last_seq,
            "it does not match the chain's head: the entry was rewritten or the head altered",
        )
    return VerifyResult(True, checked, head_seq, head_hash)


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    outcome: Outcome | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    actor_id: int | None = None


def _filtered(stmt: Select[Any], flt: AuditFilter) -> Select[Any]:
    if flt.actor:
        stmt = stmt.where(AuditEvent.actor == flt.actor)
    if flt.actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == flt.actor_id)
    if flt.action:
        # a prefix ("auth.") or a whole action ("auth.login")
        stmt = stmt.where(AuditEvent.action.startswith(flt.action, autoescape=True))
    if flt.outcome:
        stmt = stmt.where(AuditEvent.outcome == str(flt.outcome))
    if flt.object_type:
        stmt = stmt.where(AuditEvent.object_type == flt.object_type)
    if flt.object_id:
        stmt = stmt.where(AuditEvent.object_id == flt.object_id)
    if flt.since:
        stmt = stmt.where(AuditEvent.ts >= flt.since)
    if flt.until:
        stmt = stmt.where(AuditEvent.ts < flt.until)
    return stmt


def search(
    session: Session, *, flt: AuditFilter, limit: int = 50, before_seq: int | None = None
) -> Sequence[AuditEvent]:
    """Newest first, keyset-paged on ``seq``."""
    stmt = _filtered(select(AuditEvent), flt)
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    return session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit)).all()


def count(session: Session, *, flt: AuditFilter) -> int:
    return int(session.scalar(_filtered(select(func.count()).select_from(AuditEvent), flt)) or 0)


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))

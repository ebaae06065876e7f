"""The watch list itself: entries (addresses and entities under watch), their hits, and how
far each chain has been scanned. The scan is ``chainsleuth.alerts.watch``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from chainsleuth.alerts.enums import WatchKind
from chainsleuth.alerts.models import WatchlistEntry, WatchlistHit, WatchScanState
from chainsleuth.alerts.schemas import WatchEntryCreate
from chainsleuth.audit import service as audit
from chainsleuth.audit.service import Actor
from chainsleuth.chain.addresses import canonical_address
from chainsleuth.chain.chains import get_chain
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound
from chainsleuth.core.models import MAX_ROW_ID, as_utc, utcnow
from chainsleuth.entities import service as entity_service

OBJECT_TYPE = "watchlist_entry"


def canonical_value(kind: WatchKind, chain: str, value: str) -> str:
    if kind is WatchKind.ADDRESS:
        return canonical_address(chain, value)
    text = value.strip()
    if not text.isdigit() or int(text) > MAX_ROW_ID:
        raise InvalidInput(f"{value!r} is not an entity id (a whole number)")
    return str(int(text))


def add_entry(
    session: Session,
    *,
    actor: Actor,
    data: WatchEntryCreate,
    store_root: Path | None = None,
) -> WatchlistEntry:
    """Put an address or entity under watch (audited); ``store_root`` checks an entity."""
    chain = get_chain(data.chain).id
    value = canonical_value(data.kind, chain, data.value)
    expires = as_utc(data.expires_at)
    if expires is not None and expires <= utcnow():
        raise InvalidInput("the expiry must lie in the future")
    if data.kind is WatchKind.ENTITY and store_root is not None:
        entity_service.members(store_root, chain, int(value))  # NotFound for a merged id
    existing = session.scalars(
        select(WatchlistEntry).where(
            WatchlistEntry.kind == data.kind.value,
            WatchlistEntry.chain == chain,
            WatchlistEntry.value == value,
            WatchlistEntry.removed_at.is_(None),
        )
    ).first()
    if existing is not None and not _expired(existing):
        raise Conflict(f"{data.kind.value} {value} on {chain} is under watch already")
    entry = WatchlistEntry(
        kind=data.kind.value,
        chain=chain,
        value=value,
        reason=data.reason,
        severity=data.severity.value,
        added_by=actor.name,
        added_by_id=actor.user_id,
        expires_at=expires,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="watchlist.added",
        object_type=OBJECT_TYPE,
        object_id=entry.id,
        details={
            "kind": entry.kind,
            "chain": chain,
            "value": value,
            "reason": entry.reason,
            "severity": entry.severity,
            "expires_at": expires.isoformat() if expires else None,
        },
    )
    return entry


def get_entry(session: Session, entry_id: int) -> WatchlistEntry:
    entry = session.get(WatchlistEntry, entry_id) if 1 <= entry_id <= MAX_ROW_ID else None
    if entry is None:
        raise NotFound(f"no watch-list entry {entry_id}")
    return entry


def remove_entry(session: Session, *, actor: Actor, entry_id: int) -> WatchlistEntry:
    """Take an entry off the list (kept, with its hits, for the record; audited)."""
    entry = get_entry(session, entry_id)
    if entry.removed_at is not None:
        raise Conflict(f"watch-list entry {entry_id} was removed already")
    entry.removed_at = utcnow()
    entry.removed_by = actor.name
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="watchlist.removed",
        object_type=OBJECT_TYPE,
        object_id=entry.id,
        details={"kind": entry.kind, "chain": entry.chain, "value": entry.value},
    )
    return entry


def _expired(entry: WatchlistEntry, at: datetime | None = None) -> bool:
    return entry.expires_at is not None and entry.expires_at <= (at or utcnow())


def list_entries(
    session: Session, *, include_removed: bool = False, chain: str | None = None
) -> list[tuple[WatchlistEntry, int]]:
    """Entries with their number of hits, newest first."""
    hits = (
        select(WatchlistHit.entry_id, func.count().label("n"))
        .group_by(WatchlistHit.entry_id)
        .subquery()
    )
    stmt = select(WatchlistEntry, func.coalesce(hits.c.n, 0)).outerjoin(
        hits, hits.c.entry_id == WatchlistEntry.id
    )
    if not include_removed:
        stmt = stmt.where(WatchlistEntry.removed_at.is_(None))
    if chain is not None:
        stmt = stmt.where(WatchlistEntry.chain == get_chain(chain).id)
    rows = session.execute(stmt.order_by(WatchlistEntry.id.desc())).all()
    return [(entry, int(n)) for entry, n in rows]


def active_entries(session: Session, chain: str) -> list[WatchlistEntry]:
    now = utcnow()
    return list(
        session.scalars(
            select(WatchlistEntry)
            .where(
                WatchlistEntry.chain == chain,
                WatchlistEntry.removed_at.is_(None),
                or_(WatchlistEntry.expires_at.is_(None), WatchlistEntry.expires_at > now),
            )
            .order_by(WatchlistEntry.id)
        )
    )


def entry_hits(
    session: Session, *, entry_id: int | None = None, alert_id: int | None = None, limit: int = 200
) -> list[WatchlistHit]:
    stmt = select(WatchlistHit)
    if entry_id is not None:
        stmt = stmt.where(WatchlistHit.entry_id == entry_id)
    if alert_id is not None:
        stmt = stmt.where(WatchlistHit.alert_id == alert_id)
    return list(session.scalars(stmt.order_by(WatchlistHit.id.desc()).limit(limit)))


def next_height(session: Session, chain: str) -> int | None:
    state = session.get(WatchScanState, chain)
    return state.next_height if state else None


def _advance(session: Session, chain: str, first: int, last: int) -> None:
    """Move the scan mark past ``first..last`` when that range continues from it (a range
    after a gap, left by a failed check, leaves the mark for ``watch scan`` to catch up)."""
    state = session.get(WatchScanState, chain)
    if state is None:
        session.add(WatchScanState(chain=chain, next_height=last + 1))
    elif first <= state.next_height <= last:
        state.next_height = last + 1

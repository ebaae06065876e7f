"""Alerts, their comments, the watch list and what the watch list has seen.

An alert says that something (an address, entity, transfer, customer or account) needs an
investigator's eyes, for reasons in plain words, from a source (a screening, the watch list,
a typology detector, a person). While it is open, the same subject raised again by the same
source for the same reasons bumps ``occurrences`` and ``last_seen`` instead of adding a new
alert (``dedup_key``). Its history is the audit log (object type ``alert``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chainsleuth.auth.models import User
from chainsleuth.core.models import Base, TimestampMixin, utcnow
from chainsleuth.exchange.models import Amount

#: the open statuses (alerts.enums.OPEN_STATUSES) as SQL, for the partial unique index
OPEN_WHERE = "status IN ('new', 'in_review', 'escalated')"


class Alert(TimestampMixin, Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_status_severity", "status", "severity"),
        Index("ix_alerts_dedup_key_status", "dedup_key", "status"),
        # At most one open alert per deduplication key, even when two raisers race: the
        # second insert fails and raise_alert bumps the first instead.
        Index(
            "uq_alerts_open_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=text(OPEN_WHERE),
            postgresql_where=text(OPEN_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    severity: Mapped[str] = mapped_column(String(8))  # Severity
    subject_type: Mapped[str] = mapped_column(String(16))  # SubjectType
    subject: Mapped[str] = mapped_column(String(200), index=True)
    chain: Mapped[str | None] = mapped_column(String(8))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(16), index=True)  # AlertSource
    #: the screening that raised it
    screening_id: Mapped[int | None] = mapped_column(ForeignKey("risk_screenings.id"), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: SHA-256 of subject type, subject, chain, source and the sorted reasons
    dedup_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="new")  # AlertStatus
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    disposition: Mapped[str | None] = mapped_column(String(16))  # Disposition
    disposition_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="selectin")
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    comments: Mapped[list[AlertComment]] = relationship(
        back_populates="alert", order_by="AlertComment.id", cascade="all, delete-orphan"
    )


class AlertComment(Base):
    __tablename__ = "alert_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    alert: Mapped[Alert] = relationship(back_populates="comments")


class WatchlistEntry(TimestampMixin, Base):
    """An address or an entity under watch; ``removed_at`` set once taken off the list."""

    __tablename__ = "watchlist_entries"
    __table_args__ = (Index("ix_watchlist_entries_chain_value", "chain", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # WatchKind
    chain: Mapped[str] = mapped_column(String(8))
    #: the canonical address, or the entity id as decimal text
    value: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(8), default="high")  # Severity
    added_by: Mapped[str] = mapped_column(String(128))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime | None] = mapped_column()
    removed_at: Mapped[datetime | None] = mapped_column()
    removed_by: Mapped[str | None] = mapped_column(String(128))


class WatchlistHit(Base):
    """Funds from a watched address or entity that reached one of our deposit addresses."""

    __tablename__ = "watchlist_hits"
    __table_args__ = (
        Index(
            "uq_watchlist_hits_entry_tx_address",
            "entry_id",
            "tx_hash",
            "deposit_address",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("watchlist_entries.id"), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    chain: Mapped[str] = mapped_column(String(8))
    tx_hash: Mapped[str] = mapped_column(String(80))
    height: Mapped[int] = mapped_column(BigInteger)
    #: the watched address the funds came from (a member of the entity for entity entries)
    from_address: Mapped[str] = mapped_column(String(100))
    deposit_address: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[str | None] = mapped_column(String(32))
    asset: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Amount())
    hops: Mapped[int] = mapped_column(Integer, default=1)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class WatchScanState(Base):
    """How far the watch list has looked, per chain (the next block to scan)."""

    __tablename__ = "watch_scan_state"

    chain: Mapped[str] = mapped_column(String(8), primary_key=True)
    next_height: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

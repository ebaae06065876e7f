"""Cases and what hangs off them (``cases``, ``case_*``).

A case's timeline (:class:`CaseEvent`) is written by ``cases.events.record_event`` together with
the audit entry, in the caller's transaction; each event keeps the audit entry's ``seq``.
Links to other domains are generic (:class:`CaseLink`: ``item_type`` + ``item_ref``), so
that the case tables depend on no other domain's tables.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.core.models import Base, TimestampMixin, utcnow

CASE_FK = "cases.id"
USER_FK = "users.id"


class Case(TimestampMixin, Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK))
    #: only its participants (and the owner) may see a restricted case
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    close_reason: Mapped[str | None] = mapped_column(String(32))
    close_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]


class CaseParticipant(Base):
    __tablename__ = "case_participants"
    __table_args__ = (UniqueConstraint("case_id", "user_id", name="uq_case_participants_member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey(CASE_FK, ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(USER_FK), index=True)
    role: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseTask(TimestampMixin, Base):
    __tablename__ = "case_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey(CASE_FK, ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK), index=True)
    due_date: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16))
    done_at: Mapped[datetime | None]


class CaseEvent(Base):
    """One entry of a case's timeline."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_id_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey(CASE_FK, ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the audit entry written with it
    audit_seq: Mapped[int] = mapped_column(BigInteger)


class CaseLink(Base):
    __tablename__ = "case_links"
    __table_args__ = (
        UniqueConstraint("case_id", "item_type", "item_ref", name="uq_case_links_item"),
        Index("ix_case_links_item_type_item_ref", "item_type", "item_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey(CASE_FK, ondelete="CASCADE"), index=True)
    item_type: Mapped[str] = mapped_column(String(16))
    #: canonical reference: ``btc:ADDRESS`` for addresses, an id otherwise
    item_ref: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseNote(Base):
    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey(CASE_FK, ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK))
    author: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseEvidence(Base):
    """A file held for a case; its SHA-256 is computed by the server when it arrives."""

    __tablename__ = "case_evidence"
    __table_args__ = (Index("ix_case_evidence_case_id_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey(CASE_FK, ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: relative to the data folder
    storage_path: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK))
    uploaded_by: Mapped[str] = mapped_column(String(128))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseSnapshot(Base):
    """A trace graph saved to a case, as the /trace page drew it."""

    __tablename__ = "case_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey(CASE_FK, ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    graph: Mapped[dict[str, Any]] = mapped_column(JSON)
    node_count: Mapped[int] = mapped_column(Integer)
    edge_count: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseView(Base):
    """A saved filter of the case list, per user."""

    __tablename__ = "case_views"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_case_views_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(USER_FK, ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

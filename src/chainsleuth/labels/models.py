"""Attribution in the operational database: actors, sources, imports, labels, history.

A label says that an address (or the entity holding it, ``scope``) belongs to a category and
possibly an actor, according to a source, with a confidence and a TLP marking. Labels are
never deleted: an import that no longer lists one retires it, and every add, update, retire
and reactivation is kept in ``label_history``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
    update,
)
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, relationship

from chainsleuth.core.models import Base, TimestampMixin, utcnow


class LabelActor(TimestampMixin, Base):
    """A real-world actor (an exchange, a mixer, a ransomware group), from ActorPacks."""

    __tablename__ = "actors"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the ActorPack id (``binance``, ``lazarusgroup``): what tags refer to
    ext_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    jurisdictions: Mapped[list[str]] = mapped_column(JSON, default=list)
    uri: Mapped[str | None] = mapped_column(String(1000))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: the ActorPack source it came from; None for a stub named by a tag before its pack
    source_id: Mapped[int | None] = mapped_column(ForeignKey("label_sources.id"), index=True)
    retired_at: Mapped[datetime | None] = mapped_column()


class LabelSource(TimestampMixin, Base):
    """Where labels come from: one TagPack, the OFAC list, a CSV feed, manual labels."""

    __tablename__ = "label_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # SourceKind
    format: Mapped[str] = mapped_column(String(16))  # ImportFormat or "manual"
    title: Mapped[str | None] = mapped_column(String(500))
    uri: Mapped[str | None] = mapped_column(String(1000))
    #: the version the source gives itself (TagPack lastmod, SDN date of issue)
    version: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    sha256: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[datetime | None] = mapped_column()
    imported_by: Mapped[str | None] = mapped_column(String(128))


class LabelImport(Base):
    """One import that changed something: what file, by whom, and what it did."""

    __tablename__ = "label_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("label_sources.id"), index=True)
    format: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str | None] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    retired: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Label(TimestampMixin, Base):
    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("source_id", "key", name="uq_labels_source_key"),
        Index("ix_labels_chain_address", "chain", "address"),
        Index("ix_labels_chain_category", "chain", "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("label_sources.id"), index=True)
    #: identifies the label within its source across versions (chain, address, discriminator)
    key: Mapped[str] = mapped_column(String(500))
    chain: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(String(16))  # Scope
    category: Mapped[str] = mapped_column(String(32))  # Category
    label: Mapped[str] = mapped_column(String(500))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"), index=True)
    confidence: Mapped[int] = mapped_column(Integer)  # 0-100
    confidence_name: Mapped[str | None] = mapped_column(String(32))
    tlp: Mapped[str] = mapped_column(String(16))  # Tlp
    source_uri: Mapped[str | None] = mapped_column(String(1000))
    first_seen: Mapped[datetime | None] = mapped_column()
    last_seen: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(128))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: the tenant that owns a label a partner or officer added (TLP sharing); None: ours
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    retired_at: Mapped[datetime | None] = mapped_column()
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    source: Mapped[LabelSource] = relationship(lazy="joined")
    actor: Mapped[LabelActor | None] = relationship(lazy="joined")


class LabelHistory(Base):
    """Every change of a label: added, updated (with the fields before and after), retired."""

    __tablename__ = "label_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id"), index=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("label_imports.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # HistoryAction
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by: Mapped[str] = mapped_column(String(128))
    #: field -> [before, after] (all fields, before null, for an add)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LabelsVersion(Base):
    """One row: a counter raised in the same transaction as every write to the labels,
    their actors or their sources (the session hooks below), so that caches of what labels
    say (categories, counterparties' names) check it with one primary-key read instead of
    counting labels."""

    __tablename__ = "labels_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


VERSION_ROW = 1
_WATCHED = frozenset({"labels", "actors", "label_sources"})
_BUMP = (
    update(LabelsVersion.__table__)  # type: ignore[arg-type]
    .where(LabelsVersion.__table__.c.id == VERSION_ROW)
    .values(value=LabelsVersion.__table__.c.value + 1)
)


#: ``session.info`` key of the session's reading of the counter (``labels_version``)
VERSION_MEMO = "chainsleuth.labels_version"


def _bump(session: Session) -> None:
    session.connection().execute(_BUMP)
    session.info.pop(VERSION_MEMO, None)  # the session's reading is out of date now


@event.listens_for(Session, "before_flush")
def _on_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in (*session.new, *session.deleted, *session.dirty):
        if isinstance(obj, Label | LabelActor | LabelSource) and (
            obj in session.new or obj in session.deleted or session.is_modified(obj)
        ):
            _bump(session)
            return


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if state.is_select:
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _WATCHED:
        _bump(state.session)

"""Gatherings and response packages as tables (``le_gatherings``, ``le_gathering_items``,
``le_packages``, ``le_package_files``, ``le_package_downloads``).

A gathering holds *which* items were found for a request's subjects and *from which
records* (the source table, how many rows and the SHA-256 of their canonical content), not
the personal data itself: the records stay in the exchange's tables, and building the
package reads them again and refuses when they no longer match what the reviewer saw.
A package is one signed ZIP under the data folder; its files and every download are rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chainsleuth.core.models import Base, TimestampMixin, utcnow

GATHERING_FK = "le_gatherings.id"
PACKAGE_FK = "le_packages.id"


class Gathering(TimestampMixin, Base):
    __tablename__ = "le_gatherings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("le_requests.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: the request's reference (what the officer quotes)
    reference: Mapped[str] = mapped_column(String(64))
    legal_basis: Mapped[str] = mapped_column(String(500))
    #: the subjects as gathered: [{kind, value, chain, date_of_birth, since, until}]
    subjects: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    since: Mapped[datetime | None] = mapped_column()
    until: Mapped[datetime | None] = mapped_column()
    #: the moment balances are given at (the end of the time range, or the gathering)
    balances_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))
    #: what the gathering could not do (subjects without records, no chain store, ...)
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    gathered_by: Mapped[str] = mapped_column(String(128))
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None] = mapped_column()

    items: Mapped[list[GatheringItem]] = relationship(
        back_populates="gathering", order_by="GatheringItem.id", lazy="selectin"
    )


class GatheringItem(Base):
    """One category of records of one customer (or one of their chains)."""

    __tablename__ = "le_gathering_items"
    __table_args__ = (
        Index("ix_le_gathering_items_gathering_customer", "gathering_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gathering_id: Mapped[int] = mapped_column(ForeignKey(GATHERING_FK, ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(32))
    #: which subjects of the request led to this customer (their positions, 0-based)
    subjects: Mapped[list[int]] = mapped_column(JSON)
    category: Mapped[str] = mapped_column(String(32))
    #: the chain of an on-chain item; None for the exchange's own records
    chain: Mapped[str | None] = mapped_column(String(8))
    #: where the rows come from (a table, or the chain store)
    source: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    #: SHA-256 of the rows' canonical content when gathered
    digest: Mapped[str] = mapped_column(String(64))
    #: a few figures for the reviewer (first and last time, totals per asset)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: ticked by the reviewer: only selected items go into the package
    selected: Mapped[bool] = mapped_column(default=False)

    gathering: Mapped[Gathering] = relationship(back_populates="items")


class Package(Base):
    __tablename__ = "le_packages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gathering_id: Mapped[int] = mapped_column(ForeignKey(GATHERING_FK), unique=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("le_requests.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    reference: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(200))
    #: relative to the data folder
    storage_path: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)  # base64 Ed25519 over manifest.json
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()

    files: Mapped[list[PackageFile]] = relationship(
        back_populates="package", order_by="PackageFile.name", lazy="selectin"
    )


class PackageFile(Base):
    __tablename__ = "le_package_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey(PACKAGE_FK, ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(32))
    rows: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))

    package: Mapped[Package] = relationship(back_populates="files")


class PackageDownload(Base):
    __tablename__ = "le_package_downloads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey(PACKAGE_FK, ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    username: Mapped[str] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)

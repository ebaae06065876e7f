from __future__ import annotations

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.core.models import Base, TimestampMixin


class Agency(TimestampMixin, Base):
    """A law-enforcement agency or authority whose officers use the portal."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    email_domains: Mapped[list[str]] = mapped_column(JSON, default=list)


class Organisation(TimestampMixin, Base):
    """A partner organisation (analytics firm, other exchange, FIU) that shares intelligence."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))

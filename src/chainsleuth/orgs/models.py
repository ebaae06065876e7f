from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chainsleuth.core.models import Base, TimestampMixin


class Agency(TimestampMixin, Base):
    """A law-enforcement agency or authority whose officers use the portal."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    #: official e-mail domains: officers sign up from these (or their subdomains) only
    email_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: a JurisdictionLevel value
    jurisdiction_level: Mapped[str] = mapped_column(
        String(16), default="national", server_default="national"
    )
    #: police, tax, fiu, international, ... (free text, from the source)
    kind: Mapped[str | None] = mapped_column(String(32))
    #: the registered call-back number, E.164: second-channel verification of requests
    callback_phone: Mapped[str | None] = mapped_column(String(32))
    #: an AgencyStatus value
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    #: the agency's id in the source it was imported from (the world's ``agency_id``)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)

    contacts: Mapped[list[AgencyContact]] = relationship(
        back_populates="agency",
        order_by="AgencyContact.id",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class AgencyContact(Base):
    """A named person at an agency (liaison, duty desk, legal counsel)."""

    __tablename__ = "agency_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))

    agency: Mapped[Agency] = relationship(back_populates="contacts")


class Organisation(TimestampMixin, Base):
    """A partner organisation (analytics firm, other exchange, FIU) that shares intelligence."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))

"""Officer sign-ups, their one-time e-mail links, verification failures and the mail outbox.

An ``Officer`` is created by the public sign-up and becomes a ``User`` (role le_officer)
when an administrator approves it; ``user_id`` then links the two. Links sent by e-mail are
random tokens of which only the SHA-256 is stored; mail bodies in the outbox are encrypted
with a key derived from the secret key (they carry those links).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chainsleuth.core.models import Base, TimestampMixin, utcnow
from chainsleuth.orgs.models import Agency


class Officer(TimestampMixin, Base):
    __tablename__ = "officers"
    __table_args__ = (Index("ix_officers_status_verified_until", "status", "verified_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: lower-case; on an official domain of the agency
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: the username the officer asked for (the User's, once approved)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    #: an OfficerStatus value
    status: Mapped[str] = mapped_column(String(24))
    email_verified_at: Mapped[datetime | None]
    #: after this the officer must verify the e-mail address again before sending requests
    verified_until: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    signup_ip: Mapped[str | None] = mapped_column(String(64))

    agency: Mapped[Agency] = relationship(lazy="joined")


class OfficerToken(Base):
    """A one-time link: sign-up verification, activation or re-verification."""

    __tablename__ = "officer_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), index=True
    )
    #: a TokenPurpose value
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    officer: Mapped[Officer] = relationship(lazy="joined")


class VerificationFailure(Base):
    """A failed check of a sender: a call-back the agency did not confirm, a bad link, ..."""

    __tablename__ = "officer_verification_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: a FailureKind value
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(1000), default="")
    recorded_by: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailMessage(Base):
    """One e-mail waiting in (or sent from) the outbox."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_addr: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    #: Fernet-encrypted text body (it may carry a one-time link)
    body: Mapped[str] = mapped_column(Text)
    #: what the mail is about, for the outbox list: "officer.signup", ...
    template: Mapped[str] = mapped_column(String(64))
    #: a MailStatus value
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

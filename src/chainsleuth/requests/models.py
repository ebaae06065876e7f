"""Law-enforcement requests as tables (``le_request*``).

A request belongs to an agency (``agency_id``: what scopes it to the agency's officers) and
usually to the officer who submitted it (imported history may name none). Subjects are
stored canonical (addresses and hashes through the chain canonicalisers); documents are
stored under the data folder by their SHA-256. The customer-notification state machine
lives on the request (``notification_*``) with its history in ``le_request_notifications``;
each notice mailed to a customer (through the officers' outbox) is a ``le_request_notices`` row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chainsleuth.core.models import Base, TimestampMixin, utcnow

REQUEST_FK = "le_requests.id"


class LeRequest(TimestampMixin, Base):
    __tablename__ = "le_requests"
    __table_args__ = (
        # the officer's list (own agency, newest first) and the staff queue's filters
        Index("ix_le_requests_agency_received", "agency_id", "received_at", "id"),
        Index("ix_le_requests_received", "received_at", "id"),
        Index("ix_le_requests_status_received", "status", "received_at", "id"),
        Index("ix_le_requests_type_received", "type", "received_at", "id"),
        Index("ix_le_requests_open_sla", "is_open", "sla_warn_at"),
        Index("ix_le_requests_duplicate", "agency_id", "case_reference", "subjects_digest"),
        Index("ix_le_requests_notification", "notification_state", "notification_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: LER-<year>-<id, six digits or more>; what the officer quotes
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    #: the id of an imported request in its source (the world's ``request_id``)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    officer_name: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    #: False once delivered, rejected or closed (kept as a column for the SLA index)
    is_open: Mapped[bool] = mapped_column(default=True)
    legal_basis: Mapped[str] = mapped_column(String(500))
    jurisdiction: Mapped[str] = mapped_column(String(200))
    case_reference: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[datetime | None]
    nondisclosure: Mapped[bool] = mapped_column(default=False)
    nondisclosure_until: Mapped[datetime | None]
    emergency: Mapped[bool] = mapped_column(default=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey(REQUEST_FK), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey(REQUEST_FK), index=True)
    #: SHA-256 of the sorted canonical subjects: duplicate detection
    subjects_digest: Mapped[str] = mapped_column(String(64))
    subject_count: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    sla_due_at: Mapped[datetime]
    #: the 80 % point of the SLA clock
    sla_warn_at: Mapped[datetime]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: whether the officer was a verified sender when the request came in
    sender_verified: Mapped[bool] = mapped_column(default=False)
    verification_state: Mapped[str] = mapped_column(String(16))
    notification_state: Mapped[str] = mapped_column(String(16))
    notification_due_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]

    subjects: Mapped[list[LeRequestSubject]] = relationship(
        back_populates="request", order_by="LeRequestSubject.position"
    )


class LeRequestSubject(Base):
    __tablename__ = "le_request_subjects"
    __table_args__ = (Index("ix_le_request_subjects_kind_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey(REQUEST_FK, ondelete="CASCADE"), index=True)
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    #: canonical: addresses and hashes as the chain stores them, e-mails lower-case, ...
    value: Mapped[str] = mapped_column(String(300))
    chain: Mapped[str | None] = mapped_column(String(8))
    #: names with a date of birth keep the date here (ISO)
    date_of_birth: Mapped[str | None] = mapped_column(String(10))
    time_from: Mapped[datetime | None]
    time_until: Mapped[datetime | None]

    request: Mapped[LeRequest] = relationship(back_populates="subjects")


class LeRequestDocument(Base):
    __tablename__ = "le_request_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey(REQUEST_FK, ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    #: relative to the data folder
    storage_path: Mapped[str] = mapped_column(String(300))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeRequestMessage(Base):
    __tablename__ = "le_request_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey(REQUEST_FK, ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class LeRequestApproval(Base):
    __tablename__ = "le_request_approvals"
    __table_args__ = (UniqueConstraint("request_id", "approver_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey(REQUEST_FK, ondelete="CASCADE"), index=True)
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approver_name: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeRequestVerification(Base):
    """A second-channel call-back to the agency's registered number."""

    __tablename__ = "le_request_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey(REQUEST_FK, ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reviewer_name: Mapped[str] = mapped_column(String(200))
    phone_number: Mapped[str] = mapped_column(String(40))
    contact_name: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeRequestNotification(Base):
    """One step of the customer-notification state machine of a request."""

    __tablename__ = "le_request_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey(REQUEST_FK, ondelete="CASCADE"), index=True)
    state_from: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeRequestNotice(Base):
    """A notice to one customer whose records a request disclosed: the mail in the outbox
    (``mail_id``), or none when the customer has no e-mail address on file."""

    __tablename__ = "le_request_notices"
    __table_args__ = (UniqueConstraint("request_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey(REQUEST_FK, ondelete="CASCADE"), index=True)
    customer_id: Mapped[str] = mapped_column(String(32))
    #: a NoticeOutcome value
    outcome: Mapped[str] = mapped_column(String(16))
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("mail_outbox.id"))
    #: the address written to, masked as the reviewer may see it
    to_masked: Mapped[str | None] = mapped_column(String(254))
    #: what was disclosed, as the notice names it
    categories: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

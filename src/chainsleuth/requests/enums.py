"""Machine values of the requests domain: types, workflow states, subjects, notifications."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum


class RequestType(StrEnum):
    INFORMATION_REQUEST = "information_request"
    SUBPOENA = "subpoena"  # subpoena or production order
    COURT_ORDER = "court_order"
    SEARCH_WARRANT = "search_warrant"
    EMERGENCY_DISCLOSURE = "emergency_disclosure"
    PRESERVATION = "preservation"
    FREEZE_ORDER = "freeze_order"
    SEIZURE_ORDER = "seizure_order"
    FOLLOW_UP = "follow_up"

    @property
    def label(self) -> str:
        return _TYPE_LABELS[self]

    @property
    def sla(self) -> timedelta:
        """The time the exchange gives itself to respond (the deadline can shorten it)."""
        return _SLA[self]

    @property
    def is_emergency(self) -> bool:
        return self is RequestType.EMERGENCY_DISCLOSURE

    @property
    def needs_second_channel(self) -> bool:
        """Emergency, freeze and seizure: a call-back and two approvers before acting."""
        return self in SECOND_CHANNEL_TYPES


_TYPE_LABELS = {
    RequestType.INFORMATION_REQUEST: "Information request",
    RequestType.SUBPOENA: "Subpoena / production order",
    RequestType.COURT_ORDER: "Court order",
    RequestType.SEARCH_WARRANT: "Search warrant",
    RequestType.EMERGENCY_DISCLOSURE: "Emergency disclosure request",
    RequestType.PRESERVATION: "Preservation request",
    RequestType.FREEZE_ORDER: "Freeze order",
    RequestType.SEIZURE_ORDER: "Seizure order",
    RequestType.FOLLOW_UP: "Follow-up",
}
_SLA = {
    RequestType.INFORMATION_REQUEST: timedelta(days=14),
    RequestType.SUBPOENA: timedelta(days=21),
    RequestType.COURT_ORDER: timedelta(days=21),
    RequestType.SEARCH_WARRANT: timedelta(days=10),
    RequestType.EMERGENCY_DISCLOSURE: timedelta(hours=4),
    RequestType.PRESERVATION: timedelta(days=2),
    RequestType.FREEZE_ORDER: timedelta(hours=24),
    RequestType.SEIZURE_ORDER: timedelta(days=5),
    RequestType.FOLLOW_UP: timedelta(days=10),
}
SECOND_CHANNEL_TYPES = frozenset(
    {RequestType.EMERGENCY_DISCLOSURE, RequestType.FREEZE_ORDER, RequestType.SEIZURE_ORDER}
)
#: The share of the SLA after which a request is flagged as running late.
SLA_WARNING_SHARE = 0.8


class RequestStatus(StrEnum):
    RECEIVED = "received"
    TRIAGE = "triage"
    ASSIGNED = "assigned"
    GATHERING = "gathering"
    LEGAL_REVIEW = "legal_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    MORE_INFO_NEEDED = "more_info_needed"
    DELIVERED = "delivered"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def is_open(self) -> bool:
        return self not in (RequestStatus.CLOSED, RequestStatus.DELIVERED, RequestStatus.REJECTED)


class SubjectKind(StrEnum):
    ACCOUNT_ID = "account_id"
    CUSTOMER_ID = "customer_id"
    EMAIL = "email"
    PHONE = "phone"
    NAME_DOB = "name_dob"
    ADDRESS = "address"
    TX_HASH = "tx_hash"

    @property
    def label(self) -> str:
        return _SUBJECT_LABELS[self]


_SUBJECT_LABELS = {
    SubjectKind.ACCOUNT_ID: "Account id",
    SubjectKind.CUSTOMER_ID: "Customer id",
    SubjectKind.EMAIL: "E-mail",
    SubjectKind.PHONE: "Phone",
    SubjectKind.NAME_DOB: "Name and date of birth",
    SubjectKind.ADDRESS: "On-chain address",
    SubjectKind.TX_HASH: "Transaction hash",
}


class DocumentKind(StrEnum):
    SIGNED_ORDER = "signed_order"  # the signed legal document (PDF)
    SUBJECTS_FILE = "subjects_file"  # the CSV/XLSX the subjects came from


class VerificationState(StrEnum):
    NOT_REQUIRED = "not_required"
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class CallbackOutcome(StrEnum):
    CONFIRMED = "confirmed"
    FAILED = "failed"


class ApprovalDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class MessageDirection(StrEnum):
    FROM_AGENCY = "from_agency"
    TO_AGENCY = "to_agency"


class NotificationState(StrEnum):
    """Whether and when the customer named in a request is told about it.

    queued (notify by default, once the request is delivered) -> sent;
    held (a non-disclosure order runs) -> queued when it ends;
    deferred (an emergency) -> queued when the request is closed;
    any open state -> cancelled when nothing was disclosed (rejected, closed undelivered).
    """

    QUEUED = "queued"
    HELD = "held"
    DEFERRED = "deferred"
    SENT = "sent"
    CANCELLED = "cancelled"


class NoticeOutcome(StrEnum):
    """What became of the notice to one customer."""

    MAILED = "mailed"
    NO_ADDRESS = "no_address"

"""Pydantic schemas of the requests API: what an officer sends, what everyone reads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chainsleuth.core.models import RowId
from chainsleuth.requests.enums import (
    ApprovalDecision,
    CallbackOutcome,
    RequestStatus,
    RequestType,
)

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]


class RequestCreate(BaseModel):
    """The form of a new request (the subjects and the signed PDF come beside it)."""

    type: RequestType
    legal_basis: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)
    ]
    jurisdiction: Text200
    case_reference: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)
    ]
    deadline: datetime | None = None
    nondisclosure: bool = False
    nondisclosure_until: datetime | None = None
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = ""
    #: a follow-up names the request it follows (its reference)
    parent_reference: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    time_from: datetime | None = None
    time_until: datetime | None = None


class SubjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    value: str
    chain: str | None
    date_of_birth: str | None
    time_from: datetime | None
    time_until: datetime | None


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    direction: str
    author_name: str
    body: str
    created_at: datetime


class ApprovalRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    approver_name: str
    decision: str
    note: str
    created_at: datetime


class VerificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reviewer_name: str
    phone_number: str
    contact_name: str
    outcome: str
    note: str
    created_at: datetime


class NotificationStepRead(BaseModel):
    """One step of the customer-notification state machine."""

    model_config = ConfigDict(from_attributes=True)

    state_from: str | None
    state: str
    reason: str
    created_at: datetime


class NoticeRead(BaseModel):
    """A notice to one customer (``mail_id``: the mail in the outbox, if one was sent)."""

    model_config = ConfigDict(from_attributes=True)

    customer_id: str
    outcome: str
    mail_id: int | None
    to_masked: str | None
    categories: str
    created_at: datetime


class RequestSummary(BaseModel):
    """A row of a request list."""

    id: int
    reference: str
    type: RequestType
    type_label: str
    status: RequestStatus
    agency_id: int
    agency_name: str
    country: str
    case_reference: str
    emergency: bool
    received_at: datetime
    sla_due_at: datetime
    sla_warning: bool
    sla_breached: bool
    possible_duplicate_of: str | None = None


class RequestRead(RequestSummary):
    """A request with everything the caller may see of it."""

    legal_basis: str
    jurisdiction: str
    description: str
    deadline: datetime | None
    nondisclosure: bool
    nondisclosure_until: datetime | None
    parent_reference: str | None
    officer_name: str | None
    acknowledged_at: datetime | None
    responded_at: datetime | None
    closed_at: datetime | None
    subjects: list[SubjectRead]
    documents: list[DocumentRead]
    messages: list[MessageRead]
    allowed_transitions: list[RequestStatus] = Field(default_factory=list)
    # staff only (None for an officer)
    assignee: str | None = None
    sender_verified: bool | None = None
    sender_confidence: Any = None
    verification_state: str | None = None
    verifications: list[VerificationRead] | None = None
    approvals: list[ApprovalRead] | None = None
    notification_state: str | None = None
    notification_due_at: datetime | None = None
    notified_at: datetime | None = None
    notification_steps: list[NotificationStepRead] | None = None
    notices: list[NoticeRead] | None = None


class Acknowledgement(BaseModel):
    """What an officer gets back at once on submission."""

    id: int
    reference: str
    status: RequestStatus
    received_at: datetime
    acknowledged_at: datetime
    sla_due_at: datetime
    subject_count: int
    possible_duplicate_of: str | None
    message: str


class RequestPage(BaseModel):
    items: list[RequestSummary]
    next_cursor: str | None


class TransitionCreate(BaseModel):
    status: RequestStatus
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    assignee_id: RowId | None = None


class MessageCreate(BaseModel):
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10000)]


class VerificationCreate(BaseModel):
    phone_number: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=6, max_length=40)
    ]
    contact_name: Text200
    outcome: CallbackOutcome
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class ApprovalCreate(BaseModel):
    decision: ApprovalDecision = ApprovalDecision.APPROVE
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""

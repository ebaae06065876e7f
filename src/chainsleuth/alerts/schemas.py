"""Pydantic schemas of alerts and the watch list (as read, created, updated) and figures."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chainsleuth.alerts.enums import AlertStatus, Disposition, Severity, WatchKind
from chainsleuth.core.models import RowId

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class AlertRead(BaseModel):
    id: int
    severity: str
    subject_type: str
    subject: str
    chain: str | None
    reasons: list[str]
    source: str
    screening_id: int | None
    details: dict[str, Any]
    status: str
    assignee: str | None
    occurrences: int
    first_seen: datetime
    last_seen: datetime
    disposition: str | None
    disposition_note: str | None
    closed_at: datetime | None
    closed_by: str | None


class AlertPage(BaseModel):
    items: list[AlertRead]
    total: int
    limit: int
    offset: int


class CommentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author: str
    body: str
    created_at: datetime


class HistoryEntry(BaseModel):
    seq: int
    ts: datetime
    actor: str
    action: str
    details: dict[str, Any]


class AlertDetail(AlertRead):
    comments: list[CommentRead]
    history: list[HistoryEntry]


class AlertUpdate(BaseModel):
    """A change of status (closing needs a disposition and a note) and/or of assignee.

    ``assignee`` given as null unassigns; left out, it stays as it is.
    """

    model_config = ConfigDict(extra="forbid")

    status: AlertStatus | None = None
    disposition: Disposition | None = None
    note: Note | None = None
    reopen: bool = False
    assignee: Username | None = None


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


class BulkAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[RowId], Field(min_length=1, max_length=500)]
    action: Annotated[str, StringConstraints(pattern="^(assign|close|escalate|review)$")]
    assignee: Username | None = None
    disposition: Disposition | None = None
    note: Note | None = None


class BulkResult(BaseModel):
    action: str
    updated: list[int]


class DayCount(BaseModel):
    day: date
    count: int


class AlertStats(BaseModel):
    """The team lead's figures over the last ``days`` days."""

    days: int
    since: datetime
    total: int
    open: int
    closed: int
    per_day: list[DayCount]
    alerts_per_day: float
    median_hours_to_disposition: float | None
    false_positive_share: float | None
    by_status: dict[str, int]
    by_severity: dict[str, int]
    by_source: dict[str, int]
    by_disposition: dict[str, int]


class WatchEntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: WatchKind = WatchKind.ADDRESS
    chain: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=16)]
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    severity: Severity = Severity.HIGH
    expires_at: datetime | None = None


class WatchEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    chain: str
    value: str
    reason: str
    severity: str
    added_by: str
    created_at: datetime
    expires_at: datetime | None
    removed_at: datetime | None
    removed_by: str | None
    hits: int = 0


class WatchHitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entry_id: int
    alert_id: int | None
    chain: str
    tx_hash: str
    height: int
    from_address: str
    deposit_address: str
    customer_id: str | None
    asset: str
    #: in the asset's smallest unit, as text (it can pass 2**63)
    amount: str
    hops: int


class ScanResult(BaseModel):
    chain: str
    from_height: int
    to_height: int
    blocks: int
    hits: int
    alerts: list[int]

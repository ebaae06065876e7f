"""Pydantic schemas of the cases API and forms (``XCreate``, ``XUpdate``, ``XRead``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chainsleuth.cases.enums import (
    CaseStatus,
    CaseType,
    CloseReason,
    ItemType,
    ParticipantRole,
    Severity,
    TaskStatus,
)
from chainsleuth.core.models import RowId

Text300 = Field(min_length=1, max_length=300)
T = TypeVar("T")


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class LinkCreate(BaseModel):
    item_type: ItemType
    item_ref: str = Field(min_length=1, max_length=200, description="btc:ADDRESS, an id, ...")
    note: str | None = Field(default=None, max_length=5000)

    _strip = field_validator("item_ref", "note", mode="before")(_strip)


class CaseCreate(BaseModel):
    title: str = Text300
    type: CaseType
    severity: Severity = Severity.MEDIUM
    summary: str = Field(default="", max_length=20_000)
    restricted: bool = False
    owner: str | None = Field(default=None, max_length=64, description="username; default: you")
    participants: list[str] = Field(default_factory=list, max_length=100)
    links: list[LinkCreate] = Field(default_factory=list, max_length=1000)

    _strip = field_validator("title", "summary", "owner", mode="before")(_strip)


class CaseUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    type: CaseType | None = None
    severity: Severity | None = None
    summary: str | None = Field(default=None, max_length=20_000)
    restricted: bool | None = None
    owner: str | None = Field(default=None, min_length=1, max_length=64)

    _strip = field_validator("title", "summary", "owner", mode="before")(_strip)


class StatusChange(BaseModel):
    status: CaseStatus
    reason: CloseReason | None = Field(default=None, description="required to close")
    note: str | None = Field(default=None, max_length=5000)

    _strip = field_validator("note", mode="before")(_strip)


class ParticipantAdd(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: ParticipantRole = ParticipantRole.MEMBER

    _strip = field_validator("username", mode="before")(_strip)


class TaskCreate(BaseModel):
    title: str = Text300
    description: str = Field(default="", max_length=5000)
    assignee: str | None = Field(default=None, max_length=64, description="username")
    due_date: date | None = None

    _strip = field_validator("title", "description", "assignee", mode="before")(_strip)


class TaskUpdate(BaseModel):
    status: TaskStatus | None = None
    assignee: str | None = Field(default=None, max_length=64)
    due_date: date | None = None


class NoteCreate(BaseModel):
    body: str = Field(min_length=1, max_length=20_000)

    _strip = field_validator("body", mode="before")(_strip)


class SnapshotCreate(BaseModel):
    title: str = Text300
    graph: dict[str, Any] = Field(description="a trace graph as /trace/data returns it")

    _strip = field_validator("title", mode="before")(_strip)


class CaseFilter(BaseModel):
    """The case list's filters (also what a saved view keeps)."""

    q: str | None = Field(default=None, max_length=200)
    status: list[CaseStatus] = Field(default_factory=list)
    type: list[CaseType] = Field(default_factory=list)
    severity: list[Severity] = Field(default_factory=list)
    owner: str | None = Field(default=None, max_length=64)
    mine: bool = False
    include_closed: bool = True

    _strip = field_validator("q", "owner", mode="before")(_strip)


class ViewCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    filters: CaseFilter

    _strip = field_validator("name", mode="before")(_strip)


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CaseRead(_Read):
    id: int
    title: str
    type: CaseType
    severity: Severity
    status: CaseStatus
    summary: str
    owner: str | None
    restricted: bool
    close_reason: CloseReason | None
    close_note: str | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ParticipantRead(_Read):
    user_id: int
    username: str
    full_name: str
    role: ParticipantRole
    added_at: datetime


class TaskRead(_Read):
    id: int
    title: str
    description: str
    assignee: str | None
    due_date: date | None
    status: TaskStatus
    done_at: datetime | None
    created_at: datetime
    overdue: bool


class EventRead(_Read):
    id: int
    ts: datetime
    actor: str
    kind: str
    summary: str
    details: dict[str, Any]
    audit_seq: int


class LinkRead(_Read):
    id: int
    item_type: ItemType
    item_ref: str
    note: str | None
    added_at: datetime
    url: str | None = None


class NoteRead(_Read):
    id: int
    author: str
    body: str
    created_at: datetime


class EvidenceRead(_Read):
    id: int
    file_name: str
    content_type: str
    size: int
    sha256: str
    description: str
    uploaded_by: str
    uploaded_at: datetime


class SnapshotRead(_Read):
    id: int
    title: str
    node_count: int
    edge_count: int
    sha256: str
    created_at: datetime


class ViewRead(_Read):
    id: int
    name: str
    filters: CaseFilter
    created_at: datetime


class Page(BaseModel, Generic[T]):
    """One page of a long list, newest first; ``next_before`` asks for the next page."""

    items: list[T]
    total: int
    next_before: int | None


class CaseDetail(BaseModel):
    case: CaseRead
    participants: list[ParticipantRead]
    tasks: list[TaskRead]
    links: list[LinkRead]
    notes: list[NoteRead]
    snapshots: list[SnapshotRead]
    timeline: Page[EventRead]
    evidence: Page[EvidenceRead]


class CustodyEntry(BaseModel):
    seq: int
    ts: datetime
    actor: str
    action: str
    outcome: str
    details: dict[str, Any]


class CaseRef(BaseModel):
    """What a row id names in a request body."""

    id: RowId

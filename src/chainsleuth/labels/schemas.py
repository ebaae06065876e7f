"""Pydantic schemas of attribution: labels as read and created, sources, resolution."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from chainsleuth.labels.enums import Category, Scope, SourceKind, Tlp

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ActorRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ext_id: str
    name: str
    categories: list[str]
    jurisdictions: list[str]
    uri: str | None


class SourceRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: SourceKind
    version: str | None


class LabelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    chain: str
    address: str
    scope: Scope
    category: Category
    label: str
    actor: ActorRef | None
    source: SourceRef
    confidence: int
    confidence_name: str | None
    tlp: Tlp
    source_uri: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    created_by: str
    active: bool
    retired_at: datetime | None
    details: dict[str, Any]


class LabelCreate(BaseModel):
    """A label an investigator adds by hand."""

    model_config = ConfigDict(extra="forbid")

    chain: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=16)]
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    category: Category
    label: Text
    scope: Scope = Scope.ADDRESS
    actor: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    #: a TagPack confidence level name or a number 0-100
    confidence: str | int = "manual_transaction"
    tlp: Tlp = Tlp.AMBER
    source_uri: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = (
        None
    )
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None

    @field_validator("tlp", mode="before")
    @classmethod
    def _tlp(cls, value: Any) -> Any:
        if isinstance(value, str):
            parsed = Tlp.parse(value)
            return parsed if parsed is not None else value
        return value


class LabelPage(BaseModel):
    items: list[LabelRead]
    total: int
    limit: int
    offset: int


class SourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: SourceKind
    format: str
    title: str | None
    uri: str | None
    version: str | None
    file_name: str | None
    sha256: str | None
    imported_at: datetime | None
    imported_by: str | None
    active_labels: int = 0
    retired_labels: int = 0


class HistoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    label_id: int
    import_id: int | None
    action: str
    at: datetime
    by: str
    changes: dict[str, Any]


class CategoryConflict(BaseModel):
    """One of two or more categories that the labels considered give the same address."""

    category: Category
    label_ids: list[int]
    sources: list[str]


class ResolvedAttribution(BaseModel):
    """What an address is, after the rules: its own labels win over its entity's; the best
    label (confidence, then recency) wins within a side; disagreements are listed."""

    winner: LabelRead | None
    winner_from: Literal["address", "entity"] | None
    own: list[LabelRead]
    entity: list[LabelRead]
    categories: list[Category]
    conflicts: list[CategoryConflict] = Field(default_factory=list)


class ImportResult(BaseModel):
    source: str
    source_id: int
    format: str
    file_name: str | None
    sha256: str
    version: str | None
    import_id: int | None
    added: int
    updated: int
    retired: int
    unchanged: int
    skipped: int
    skipped_by_reason: dict[str, int]
    messages: dict[str, list[str]]
    actors_added: int = 0
    actors_updated: int = 0
    actors_retired: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.added
            or self.updated
            or self.retired
            or self.actors_added
            or self.actors_updated
            or self.actors_retired
        )

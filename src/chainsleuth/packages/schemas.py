"""What gatherings, packages and the request metrics look like to the API and the pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chainsleuth.core.models import RowId


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: str
    subjects: list[int]
    category: str
    chain: str | None
    source: str
    rows: int
    digest: str
    summary: dict[str, Any]
    selected: bool


class GatheringRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: int | None
    agency_id: int
    reference: str
    legal_basis: str
    subjects: list[dict[str, Any]]
    since: datetime | None
    until: datetime | None
    balances_at: datetime
    status: str
    notes: list[str]
    gathered_by: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    items: list[ItemRead]


class SelectionUpdate(BaseModel):
    """The items to produce; every other item of the gathering is withheld."""

    item_ids: list[RowId] = Field(default_factory=list, max_length=100_000)


class PackageFileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    category: str | None
    rows: int | None
    size: int
    sha256: str


class PackageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    gathering_id: int
    request_id: int | None
    agency_id: int
    reference: str
    file_name: str
    size: int
    sha256: str
    manifest_sha256: str
    key_fingerprint: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    delivered_at: datetime | None
    download_path: str
    files: list[PackageFileRead]


class SigningKeyRead(BaseModel):
    algorithm: str = "Ed25519"
    fingerprint: str
    public_key_pem: str

"""What screenings and risk policies look like to the API, the CLI and the pages.

Amounts are integers in the asset's smallest unit; a client may send them as a JSON
integer or as a string of digits (they may exceed 2**53 on account chains).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr


class ScreeningDirection(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


class ScreeningCreate(BaseModel):
    """A deposit or withdrawal to screen: an address, a transaction hash or both."""

    model_config = ConfigDict(extra="forbid")

    chain: str = Field(max_length=16)
    asset: str | None = Field(None, max_length=64, description="symbol; default the native")
    direction: ScreeningDirection
    address: str | None = Field(
        None, max_length=200, description="deposit: our address; withdrawal: the destination"
    )
    tx_hash: str | None = Field(None, max_length=200)
    amount: StrictInt | StrictStr = Field(description="smallest unit, integer or digit string")
    account_id: str | None = Field(None, max_length=48, description="the customer account")
    idempotency_key: str | None = Field(None, min_length=1, max_length=128)


class ScreeningRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    created_by: str
    idempotency_key: str | None
    chain: str
    asset: str
    direction: str
    address: str | None
    tx_hash: str | None
    amount: int
    account_id: str | None
    customer_id: str | None
    severity: str
    action: str
    score: int
    policy_version: int
    alert_id: int | None
    result: dict[str, Any]


class ScreeningPage(BaseModel):
    items: list[ScreeningRead]
    total: int
    limit: int
    offset: int


class PolicyVersionRead(BaseModel):
    version: int
    created_at: datetime
    created_by: str
    comment: str | None
    is_active: bool
    body: dict[str, Any]


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: dict[str, Any]
    comment: str = Field("", max_length=500)

"""API shapes of freezes. The rules (legal basis, dates, amounts) are checked by the service,
so that a refusal is the same, and audited, from every channel."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from chainsleuth.core.models import RowId

#: the largest amount an ``Amount`` column holds (78 digits)
MAX_AMOUNT = 10**77
AmountField = Field(default=None, ge=1, le=MAX_AMOUNT)


class FreezeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=32)
    scope: str = Field(default="account", max_length=16)
    #: the asset account (scopes ``asset`` and ``amount``); or name the asset
    exchange_account_id: str | None = Field(default=None, max_length=48)
    asset: str | None = Field(default=None, max_length=16)
    amount: int | None = AmountField
    request_id: RowId | None = None
    case_id: RowId | None = None
    reason: str = Field(default="", max_length=2000)
    review_at: datetime | None = None
    expires_at: datetime | None = None


class ReleaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


class ExtensionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    review_at: datetime | None = None
    expires_at: datetime | None = None
    note: str = Field(default="", max_length=2000)


class SeizureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_id: RowId
    wallet_address: str = Field(min_length=1, max_length=100)
    #: the asset account to seize from (may be left out when the freeze holds one)
    exchange_account_id: str | None = Field(default=None, max_length=48)
    #: how much (left out: everything held there)
    amount: int | None = AmountField
    note: str = Field(default="", max_length=2000)


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


class HoldRead(BaseModel):
    exchange_account_id: str
    asset: str
    held: int
    placed: int
    released: int
    seized: int
    held_display: str


class ActionRead(BaseModel):
    id: int
    kind: str
    status: str
    requested_by: str
    requested_at: datetime
    note: str | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    new_review_at: datetime | None = None
    new_expires_at: datetime | None = None
    exchange_account_id: str | None = None
    amount: int | None = None
    agency_id: int | None = None
    agency: str | None = None
    wallet_address: str | None = None


class PostingRead(BaseModel):
    account: str
    bucket: str
    amount: int
    display: str
    wallet_address: str | None = None


class JournalRead(BaseModel):
    id: int
    kind: str
    asset: str
    memo: str | None
    actor: str
    created_at: datetime
    postings: list[PostingRead]


class FreezeRead(BaseModel):
    id: int
    customer_id: str
    scope: str
    exchange_account_id: str | None
    asset: str | None
    amount: int | None
    status: str
    request_id: int | None
    case_id: int | None
    reason: str
    review_at: datetime | None
    expires_at: datetime | None
    requested_by: str
    created_at: datetime
    activated_at: datetime | None
    closed_at: datetime | None
    pending_action: str | None = None
    held: list[HoldRead] = []


class FreezeDetail(FreezeRead):
    actions: list[ActionRead]
    trail: list[JournalRead]


class DueRead(BaseModel):
    freeze_id: int
    customer_id: str
    kind: str
    at: datetime
    overdue: bool
    status: str

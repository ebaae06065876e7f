"""API shapes of the exchange's records. Amounts are integers of the asset's smallest unit
(JSON integers of any size), with ``display`` in whole units for people."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chainsleuth.exchange.enums import LinkKind, MatchField


class MaskedKyc(BaseModel):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    date_of_birth: str | None = None
    document: str | None = None
    address: str | None = None


class KycRecord(BaseModel):
    """The decrypted KYC record (only for ``kyc:reveal``; every reveal is audited)."""

    first_name: str | None = None
    last_name: str | None = None
    date_of_birth: str | None = None
    nationality: str | None = None
    country_of_residence: str | None = None
    address_line: str | None = None
    city: str | None = None
    postal_code: str | None = None
    email: str | None = None
    phone: str | None = None
    occupation: str | None = None
    document_type: str | None = None
    document_number: str | None = None
    document_country: str | None = None
    document_expiry: str | None = None


class CustomerSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_type: str
    residence_country: str | None
    kyc_level: int | None
    kyc_status: str | None
    risk_rating: str | None
    registered_at: datetime | None
    masked: MaskedKyc


class ReasonRead(BaseModel):
    field: MatchField
    value: str
    detail: str | None = None


class SubjectMatchRead(BaseModel):
    customer: CustomerSummary
    reasons: list[ReasonRead]


class AccountRead(BaseModel):
    id: str
    asset: str
    status: str
    balance: int | None
    balance_display: str | None
    balance_as_of: datetime | None


class MoneyMove(BaseModel):
    """A deposit or a withdrawal."""

    id: str
    kind: str  # deposit / withdrawal
    account_id: str
    chain: str
    asset: str
    tx_hash: str | None
    output_index: int | None
    address: str
    amount: int
    display: str
    fee: int | None = None
    time: datetime
    status: str
    explorer_path: str | None


class LoginRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    time: datetime
    ip: str | None
    ip_country: str | None
    device_id: str | None
    user_agent: str | None
    success: bool
    mfa: bool


class LinkRead(BaseModel):
    customer_id: str
    kind: LinkKind
    label: str
    value: str
    first_seen: datetime | None
    last_seen: datetime | None
    occurrences: int
    evidence: dict[str, Any]


class CustomerRead(CustomerSummary):
    accounts: list[AccountRead]
    deposits: list[MoneyMove]
    withdrawals: list[MoneyMove]
    logins: list[LoginRead]
    logins_total: int
    links: list[LinkRead]
    kyc: KycRecord | None = Field(
        default=None, description="only after POST .../reveal, for roles with kyc:reveal"
    )


class RevealRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)

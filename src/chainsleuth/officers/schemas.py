from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator

from chainsleuth.auth.schemas import Username
from chainsleuth.officers.enums import ConfidenceRating, FailureKind, OfficerStatus
from chainsleuth.orgs.schemas import Phone

Token = Annotated[str, StringConstraints(strip_whitespace=True, min_length=16, max_length=200)]


class OfficerSignup(BaseModel):
    """What an officer gives at sign-up; the agency follows from the e-mail domain."""

    model_config = ConfigDict(extra="forbid")

    full_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)
    ]
    email: EmailStr
    username: Username
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    phone: Phone | None = None

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Token


class ActivateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Token
    password: Annotated[str, Field(min_length=1, max_length=256)]


class ReverifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class OfficerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    agency_id: int
    email: str
    username: str
    full_name: str
    title: str
    phone: str | None
    status: OfficerStatus
    email_verified_at: datetime | None
    verified_until: datetime | None
    decided_at: datetime | None
    decision_note: str | None
    user_id: int | None
    created_at: datetime


class SignupAccepted(BaseModel):
    id: int
    status: OfficerStatus
    agency: str
    message: str


class ConfidenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int
    rating: ConfidenceRating
    verified_sender: bool
    account_age_days: int
    requests_made: int
    verification_failures: int
    callback_failures: int
    domain_match: str
    verified_until: datetime | None
    reasons: list[str]


class FailureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: FailureKind
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""

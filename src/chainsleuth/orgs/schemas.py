from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from chainsleuth.officers.domains import is_webmail
from chainsleuth.orgs.enums import AgencyStatus, JurisdictionLevel, OrganisationKind

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
Country = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")
]
_DOMAIN = r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def canonical_phone(value: str) -> str:
    """A phone number in E.164 (``+441234567890``): spaces, dots, dashes and brackets go."""
    phone = _PHONE_SEPARATORS.sub("", value.strip())
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    if not _E164.match(phone):
        raise ValueError(f"{value!r} is not a phone number in international form (+country...)")
    return phone


def canonical_domains(value: list[str]) -> list[str]:
    out = []
    for raw in value:
        domain = raw.strip().lower().lstrip("@").rstrip(".")
        if not re.match(_DOMAIN, domain):
            raise ValueError(f"{raw!r} is not a domain name")
        if is_webmail(domain):
            raise ValueError(f"{domain} is a free webmail domain, not an agency's own")
        out.append(domain)
    return sorted(set(out))


Phone = Annotated[str, AfterValidator(canonical_phone)]


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    role: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    email: EmailStr | None = None
    phone: Phone | None = None

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else value


class ContactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str
    email: str | None
    phone: str | None


class AgencyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    country: Country
    email_domains: list[str] = Field(default_factory=list)
    jurisdiction_level: JurisdictionLevel = JurisdictionLevel.NATIONAL
    kind: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    callback_phone: Phone | None = None
    status: AgencyStatus = AgencyStatus.ACTIVE
    contacts: list[ContactCreate] = Field(default_factory=list, max_length=50)
    #: the agency's id in an imported source (the world's ``agency_id``)
    external_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = (
        None
    )

    @field_validator("email_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return canonical_domains(value)


class AgencyUpdate(BaseModel):
    """A partial change; a list given (domains, contacts) replaces the stored one."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    country: Country | None = None
    email_domains: list[str] | None = None
    jurisdiction_level: JurisdictionLevel | None = None
    kind: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    callback_phone: Phone | None = None
    status: AgencyStatus | None = None
    contacts: list[ContactCreate] | None = Field(default=None, max_length=50)

    @field_validator("email_domains")
    @classmethod
    def _domains(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else canonical_domains(value)


class AgencyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    country: str
    email_domains: list[str]
    jurisdiction_level: JurisdictionLevel
    kind: str | None
    callback_phone: str | None
    status: AgencyStatus
    external_id: str | None
    contacts: list[ContactRead]


class AgencyImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    contacts: int


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: OrganisationKind
    country: Country | None = None


class OrganisationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: OrganisationKind
    country: str | None

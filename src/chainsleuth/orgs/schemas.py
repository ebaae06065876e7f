from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from chainsleuth.orgs.enums import OrganisationKind

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
Country = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")
]
_DOMAIN = r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"


class AgencyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    country: Country
    email_domains: list[str] = Field(default_factory=list)

    @field_validator("email_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        import re

        out = []
        for raw in value:
            domain = raw.strip().lower().lstrip("@")
            if not re.match(_DOMAIN, domain):
                raise ValueError(f"{raw!r} is not a domain name")
            out.append(domain)
        return sorted(set(out))


class AgencyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    country: str
    email_domains: list[str]


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

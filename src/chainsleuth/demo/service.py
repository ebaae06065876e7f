"""Seeds the embedded default with demo accounts. Refused outside demo mode."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.auth import service as user_service
from chainsleuth.auth.enums import Role
from chainsleuth.auth.schemas import UserCreate
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import ConfigurationError
from chainsleuth.orgs import service as org_service
from chainsleuth.orgs.enums import OrganisationKind
from chainsleuth.orgs.models import Agency, Organisation
from chainsleuth.orgs.schemas import AgencyCreate, OrganisationCreate

#: Known only to the demo world, which refuses to exist in production.
DEMO_PASSWORD = "demo-password-2026"

AGENCIES = [
    AgencyCreate(
        name="Metropolitan Cyber Crime Unit", country="GB", email_domains=["mccu.police.example"]
    ),
    AgencyCreate(
        name="Federal Financial Crimes Bureau", country="US", email_domains=["ffcb.gov.example"]
    ),
]
ORGANISATIONS = [
    OrganisationCreate(
        name="Chainwatch Analytics", kind=OrganisationKind.ANALYTICS_FIRM, country="DE"
    ),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    role: Role
    agency: str | None = None
    organisation: str | None = None


USERS = [
    DemoUser("admin", "Alex Admin", Role.ADMIN),
    DemoUser("ivy", "Ivy Investigator", Role.INVESTIGATOR),
    DemoUser("leo", "Leo Legal", Role.LEGAL_REVIEWER),
    DemoUser("cora", "Cora Compliance", Role.COMPLIANCE_ANALYST),
    DemoUser("olga", "Olga Officer", Role.LE_OFFICER, agency=AGENCIES[0].name),
    DemoUser("frank", "Frank Fed", Role.LE_OFFICER, agency=AGENCIES[1].name),
    DemoUser("paula", "Paula Partner", Role.PARTNER, organisation=ORGANISATIONS[0].name),
    DemoUser("tom", "Tom Trainee", Role.TRAINEE, agency=AGENCIES[0].name),
]


def seed(session: Session, *, settings: Settings) -> list[DemoUser]:
    """Create what is missing (idempotent); returns the demo logins."""
    if not settings.demo:
        raise ConfigurationError("demo accounts are created only with CHAINSLEUTH_DEMO=1")
    actor = Actor.system("demo-seed")
    agencies = {}
    for a in AGENCIES:
        agency = session.scalar(select(Agency).where(Agency.name == a.name))
        agencies[a.name] = agency or org_service.create_agency(session, actor=actor, data=a)
    orgs = {}
    for o in ORGANISATIONS:
        org = session.scalar(select(Organisation).where(Organisation.name == o.name))
        orgs[o.name] = org or org_service.create_organisation(session, actor=actor, data=o)
    for u in USERS:
        if user_service.get_by_username(session, u.username) is not None:
            continue
        agency = agencies[u.agency] if u.agency else None
        domain = agency.email_domains[0] if agency else "exchange.example"
        user_service.create_user(
            session,
            actor=actor,
            data=UserCreate(
                username=u.username,
                email=f"{u.username}@{domain}",
                full_name=u.full_name,
                role=u.role,
                password=DEMO_PASSWORD,
                agency_id=agency.id if agency else None,
                organisation_id=orgs[u.organisation].id if u.organisation else None,
            ),
        )
    return USERS

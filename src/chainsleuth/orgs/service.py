from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.service import Actor
from chainsleuth.core.errors import Conflict, NotFound
from chainsleuth.orgs.models import Agency, Organisation
from chainsleuth.orgs.schemas import AgencyCreate, OrganisationCreate


def create_agency(session: Session, *, actor: Actor, data: AgencyCreate) -> Agency:
    if session.scalar(select(Agency.id).where(Agency.name == data.name)) is not None:
        raise Conflict(f"an agency named {data.name!r} exists already")
    agency = Agency(name=data.name, country=data.country, email_domains=data.email_domains)
    session.add(agency)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="agency.create",
        object_type="agency",
        object_id=agency.id,
        details=data.model_dump(),
    )
    session.commit()
    return agency


def create_organisation(
    session: Session, *, actor: Actor, data: OrganisationCreate
) -> Organisation:
    if session.scalar(select(Organisation.id).where(Organisation.name == data.name)) is not None:
        raise Conflict(f"an organisation named {data.name!r} exists already")
    org = Organisation(name=data.name, kind=str(data.kind), country=data.country)
    session.add(org)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="organisation.create",
        object_type="organisation",
        object_id=org.id,
        details=data.model_dump(mode="json"),
    )
    session.commit()
    return org


def list_agencies(session: Session) -> Sequence[Agency]:
    return session.scalars(select(Agency).order_by(Agency.name)).all()


def list_organisations(session: Session) -> Sequence[Organisation]:
    return session.scalars(select(Organisation).order_by(Organisation.name)).all()


def require_agency(session: Session, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound(f"no agency with id {agency_id}")
    return agency


def require_organisation(session: Session, organisation_id: int) -> Organisation:
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound(f"no organisation with id {organisation_id}")
    return org


def find_agency(session: Session, name_or_id: str) -> Agency:
    if name_or_id.isdigit():
        return require_agency(session, int(name_or_id))
    agency = session.scalar(select(Agency).where(Agency.name == name_or_id))
    if agency is None:
        raise NotFound(f"no agency named {name_or_id!r}")
    return agency


def find_organisation(session: Session, name_or_id: str) -> Organisation:
    if name_or_id.isdigit():
        return require_organisation(session, int(name_or_id))
    org = session.scalar(select(Organisation).where(Organisation.name == name_or_id))
    if org is None:
        raise NotFound(f"no organisation named {name_or_id!r}")
    return org

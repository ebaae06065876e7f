from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.service import Actor
from chainsleuth.core.errors import Conflict, NotFound
from chainsleuth.orgs.models import Agency, AgencyContact, Organisation
from chainsleuth.orgs.schemas import AgencyCreate, AgencyUpdate, ContactCreate, OrganisationCreate


def _contacts(items: list[ContactCreate]) -> list[AgencyContact]:
    return [AgencyContact(**c.model_dump()) for c in items]


def _check_name_free(session: Session, name: str, *, other_than: int | None = None) -> None:
    existing = session.scalar(select(Agency.id).where(Agency.name == name))
    if existing is not None and existing != other_than:
        raise Conflict(f"an agency named {name!r} exists already")


def _new_agency(session: Session, data: AgencyCreate) -> Agency:
    _check_name_free(session, data.name)
    if data.external_id is not None and (
        session.scalar(select(Agency.id).where(Agency.external_id == data.external_id)) is not None
    ):
        raise Conflict(f"an agency with the external id {data.external_id!r} exists already")
    agency = Agency(
        name=data.name,
        country=data.country,
        email_domains=data.email_domains,
        jurisdiction_level=str(data.jurisdiction_level),
        kind=data.kind,
        callback_phone=data.callback_phone,
        status=str(data.status),
        external_id=data.external_id,
        contacts=_contacts(data.contacts),
    )
    session.add(agency)
    session.flush()
    return agency


def create_agency(session: Session, *, actor: Actor, data: AgencyCreate) -> Agency:
    agency = _new_agency(session, data)
    audit.record(
        session,
        actor=actor,
        action="agency.create",
        object_type="agency",
        object_id=agency.id,
        details=data.model_dump(mode="json"),
    )
    session.commit()
    return agency


def _snapshot(agency: Agency) -> dict[str, Any]:
    return {
        "name": agency.name,
        "country": agency.country,
        "email_domains": list(agency.email_domains),
        "jurisdiction_level": agency.jurisdiction_level,
        "kind": agency.kind,
        "callback_phone": agency.callback_phone,
        "status": agency.status,
        "contacts": [
            {"name": c.name, "role": c.role, "email": c.email, "phone": c.phone}
            for c in agency.contacts
        ],
    }


def _apply(agency: Agency, data: AgencyUpdate) -> dict[str, Any]:
    """Apply the fields that were given; returns {field: [before, after]} of real changes."""
    before = _snapshot(agency)
    given = data.model_fields_set
    for field in ("name", "country", "email_domains", "jurisdiction_level", "kind", "status"):
        value = getattr(data, field)
        if field in given and (value is not None or field == "kind"):
            setattr(
                agency, field, str(value) if field in ("jurisdiction_level", "status") else value
            )
    if "callback_phone" in given:
        agency.callback_phone = data.callback_phone
    if "contacts" in given and data.contacts is not None:
        new = [c.model_dump() for c in data.contacts]
        old = before["contacts"]
        if new != old:
            agency.contacts.clear()
            agency.contacts.extend(_contacts(data.contacts))
    after = _snapshot(agency)
    return {k: [before[k], after[k]] for k in after if before[k] != after[k]}


def update_agency(session: Session, *, actor: Actor, agency_id: int, data: AgencyUpdate) -> Agency:
    agency = require_agency(session, agency_id)
    if data.name is not None:
        _check_name_free(session, data.name, other_than=agency.id)
    changes = _apply(agency, data)
    if changes:
        audit.record(
            session,
            actor=actor,
            action="agency.update",
            object_type="agency",
            object_id=agency.id,
            details={"changes": changes},
        )
        if "status" in changes:
            audit.record(
                session,
                actor=actor,
                action=f"agency.{'suspend' if agency.status == 'suspended' else 'reinstate'}",
                object_type="agency",
                object_id=agency.id,
            )
    session.commit()
    return agency


def import_agencies(
    session: Session,
    *,
    actor: Actor,
    rows: Sequence[AgencyCreate],
    source: str,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Create or update agencies (matched by external id, then by name) in one transaction.

    Idempotent: a second run of the same rows changes nothing. Contacts and the call-back
    number set by an administrator are kept unless the source gives them.
    """
    counts = {"created": 0, "updated": 0, "unchanged": 0, "contacts": 0}
    for data in rows:
        agency = None
        if data.external_id:
            agency = session.scalar(select(Agency).where(Agency.external_id == data.external_id))
        if agency is None:
            agency = session.scalar(select(Agency).where(Agency.name == data.name))
        if agency is None:
            agency = _new_agency(session, data)
            counts["created"] += 1
            counts["contacts"] += len(data.contacts)
            audit.record(
                session,
                actor=actor,
                action="agency.create",
                object_type="agency",
                object_id=agency.id,
                details={**data.model_dump(mode="json"), "source": source},
            )
        else:
            fields = {"name", "country", "email_domains", "jurisdiction_level", "kind"}
            fields |= {f for f in ("callback_phone", "contacts") if f in data.model_fields_set}
            update = AgencyUpdate.model_validate(
                {f: getattr(data, f) for f in fields}
                | (
                    {"contacts": [c.model_dump() for c in data.contacts]}
                    if "contacts" in fields
                    else {}
                )
            )
            if agency.external_id is None and data.external_id:
                agency.external_id = data.external_id
            changes = _apply(agency, update)
            if changes:
                counts["updated"] += 1
                audit.record(
                    session,
                    actor=actor,
                    action="agency.update",
                    object_type="agency",
                    object_id=agency.id,
                    details={"changes": changes, "source": source},
                )
            else:
                counts["unchanged"] += 1
        session.flush()
        if progress is not None:
            progress(1)
    audit.record(
        session,
        actor=actor,
        action="agency.import",
        object_type="agency",
        details={"source": source, **counts},
    )
    session.commit()
    return counts


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


def list_agencies(session: Session, *, status: str | None = None) -> Sequence[Agency]:
    stmt = select(Agency).order_by(Agency.name)
    if status is not None:
        stmt = stmt.where(Agency.status == status)
    return session.scalars(stmt).all()


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
        agency = session.scalar(select(Agency).where(Agency.external_id == name_or_id))
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

"""Case links: what each ``item_type`` accepts, in its canonical form, and where it points.

Addresses and transactions are ``CHAIN:VALUE`` canonicalised by the chain's rules; a
customer must exist; alerts, requests and freezes must exist when their domain's table is
there (they are built alongside: an id is checked against the table named below, read
only); snapshots belong to the same case; a case link names another case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.cases.enums import EventKind, ItemType
from chainsleuth.cases.events import record_event
from chainsleuth.cases.models import Case, CaseEvent, CaseLink, CaseSnapshot
from chainsleuth.cases.schemas import LinkCreate
from chainsleuth.chain.addresses import canonical_address, canonical_hash, display_address
from chainsleuth.chain.chains import get_chain
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound
from chainsleuth.core.models import MAX_ROW_ID, Base
from chainsleuth.exchange import service as exchange_service

#: the tables of the domains whose rows a case may link to by id
ID_TABLES = {ItemType.ALERT: "alerts", ItemType.REQUEST: "le_requests", ItemType.FREEZE: "freezes"}

#: where a linked item's page is (for those that have one)
PAGES = {
    ItemType.ALERT: "/alerts/{ref}",
    ItemType.REQUEST: "/requests/{ref}",
    ItemType.FREEZE: "/freezes/{ref}",
    ItemType.CUSTOMER: "/customers/{ref}",
    ItemType.CASE: "/cases/{ref}",
}


def _row_id(item_type: ItemType, ref: str) -> int:
    text = ref.strip().lstrip("#")
    if not text.isdigit() or not 1 <= int(text) <= MAX_ROW_ID:
        raise InvalidInput(f"a {item_type.value} is named by its number, not {ref!r}")
    return int(text)


def _split(item_type: ItemType, ref: str) -> tuple[str, str]:
    chain, sep, value = ref.strip().partition(":")
    if not sep or not value.strip():
        raise InvalidInput(f"give the {item_type.value} as CHAIN:VALUE (e.g. btc:...), not {ref!r}")
    return get_chain(chain).id, value.strip()


def canonical_ref(session: Session, *, case: Case, item_type: ItemType, item_ref: str) -> str:
    """The stored form of a link's reference; raises InvalidInput when it names nothing."""
    if item_type is ItemType.ADDRESS:
        chain, value = _split(item_type, item_ref)
        return f"{chain}:{canonical_address(chain, value)}"
    if item_type is ItemType.TRANSACTION:
        chain, value = _split(item_type, item_ref)
        return f"{chain}:{canonical_hash(chain, value)}"
    if item_type is ItemType.ENTITY:
        chain, value = _split(item_type, item_ref)
        return f"{chain}:{_row_id(item_type, value)}"
    if item_type is ItemType.CUSTOMER:
        try:
            customer = exchange_service.get_customer(session, item_ref.strip())
        except NotFound as exc:
            raise InvalidInput(f"there is no customer {item_ref.strip()!r}") from exc
        return str(customer.id)
    number = _row_id(item_type, item_ref)
    if item_type is ItemType.SNAPSHOT:
        snap = session.get(CaseSnapshot, number)
        if snap is None or snap.case_id != case.id:
            raise InvalidInput(f"case {case.id} has no saved graph {number}")
    elif item_type is ItemType.CASE:
        if number == case.id:
            raise InvalidInput("a case cannot be linked to itself")
        if session.get(Case, number) is None:
            raise InvalidInput(f"there is no case {number}")
    else:
        table = Base.metadata.tables.get(ID_TABLES[item_type])
        if table is not None and "id" in table.c:
            found = session.execute(select(table.c.id).where(table.c.id == number)).first()
            if found is None:
                raise InvalidInput(f"there is no {item_type.value} {number}")
    return str(number)


def url_for(case_id: int, item_type: str, item_ref: str) -> str | None:
    kind = ItemType(item_type)
    if kind is ItemType.ADDRESS:
        chain, _, value = item_ref.partition(":")
        return f"/chains/{chain}/addresses/{display_address(chain, value)}"
    if kind is ItemType.TRANSACTION:
        chain, _, value = item_ref.partition(":")
        return f"/chains/{chain}/txs/{value}"
    if kind is ItemType.SNAPSHOT:
        return f"/cases/{case_id}?tab=graph#snapshot-{item_ref}"
    page = PAGES.get(kind)
    return page.format(ref=item_ref) if page else None


# --- linking and unlinking --------------------------------------------------------------


def add_link_in(session: Session, *, actor: Actor, case: Case, data: LinkCreate) -> CaseLink:
    ref = canonical_ref(session, case=case, item_type=data.item_type, item_ref=data.item_ref)
    exists = session.scalar(
        select(CaseLink.id).where(
            CaseLink.case_id == case.id,
            CaseLink.item_type == data.item_type.value,
            CaseLink.item_ref == ref,
        )
    )
    if exists is not None:
        raise Conflict(f"the case is linked to {data.item_type.value} {ref} already")
    link = CaseLink(
        case_id=case.id,
        item_type=data.item_type.value,
        item_ref=ref,
        note=data.note or None,
        added_by_id=actor.user_id,
    )
    session.add(link)
    session.flush()
    record_event(
        session,
        actor=actor,
        case=case,
        kind=EventKind.LINK_ADDED,
        summary=f"linked {data.item_type.value} {ref}",
        details={"link_id": link.id, "item_type": link.item_type, "item_ref": ref},
    )
    return link


def record_step(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    item_type: ItemType,
    item_ref: str,
    summary: str,
    details: dict[str, Any] | None = None,
) -> CaseEvent:
    """A step another domain took on an item that concerns a case (a freeze requested with the
    case as its legal basis, then approved): the item is linked to the case if it is not yet,
    and the step goes on the case's timeline with its audit entry, in the caller's transaction
    (the caller commits). The caller's own rules decide who may take the step, so the case's
    visibility is not checked here (a legal reviewer approves freezes on cases they are not
    part of)."""
    case = session.get(Case, case_id) if 1 <= case_id <= MAX_ROW_ID else None
    if case is None:
        raise InvalidInput(f"no case #{case_id}")
    ref = canonical_ref(session, case=case, item_type=item_type, item_ref=item_ref)
    linked = session.scalar(
        select(CaseLink.id).where(
            CaseLink.case_id == case.id,
            CaseLink.item_type == item_type.value,
            CaseLink.item_ref == ref,
        )
    )
    if linked is None:
        add_link_in(
            session,
            actor=actor,
            case=case,
            data=LinkCreate.model_validate({"item_type": item_type, "item_ref": ref}),
        )
    return record_event(
        session,
        actor=actor,
        case=case,
        kind=EventKind.ITEM_STEP,
        summary=summary,
        details={"item_type": item_type.value, "item_ref": ref, **(details or {})},
    )


def remove_link(session: Session, *, actor: Actor, case: Case, link_id: int) -> None:
    link = session.get(CaseLink, link_id) if 1 <= link_id <= MAX_ROW_ID else None
    if link is None or link.case_id != case.id:
        raise NotFound(f"case {case.id} has no link {link_id}")
    session.delete(link)
    record_event(
        session,
        actor=actor,
        case=case,
        kind=EventKind.LINK_REMOVED,
        summary=f"unlinked {link.item_type} {link.item_ref}",
        details={"link_id": link_id, "item_type": link.item_type, "item_ref": link.item_ref},
    )
    session.commit()


def links(session: Session, case: Case) -> Sequence[CaseLink]:
    return session.scalars(
        select(CaseLink)
        .where(CaseLink.case_id == case.id)
        .order_by(CaseLink.item_type, CaseLink.id)
    ).all()

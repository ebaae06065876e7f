"""Case links: what each ``item_type`` accepts, in its canonical form, and where it points.

Addresses and transactions are ``CHAIN:VALUE`` canonicalised by the chain's rules; a
customer must exist; alerts, requests and freezes must exist when their domain's table is
there (they are built alongside: an id is checked against the table named below, read
only); snapshots belong to the same case; a case link names another case.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.cases.enums import ItemType
from chainsleuth.cases.models import Case, CaseSnapshot
from chainsleuth.chain.addresses import canonical_address, canonical_hash, display_address
from chainsleuth.chain.chains import get_chain
from chainsleuth.core.errors import InvalidInput, NotFound
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

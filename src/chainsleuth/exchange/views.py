"""JSON API of the exchange's records: subject search, a customer, the KYC reveal, links.

Every route needs ``exchange:read`` (staff only: officers, partners and trainees get 403);
KYC details are masked unless a user with ``kyc:reveal`` POSTs ``.../reveal``, which is
audited. A customer that does not exist is 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from chainsleuth.auth.enums import Permission
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.models import Customer
from chainsleuth.exchange.schemas import (
    CustomerRead,
    KycRecord,
    LinkRead,
    RevealRequest,
    SubjectMatchRead,
)
from chainsleuth.web.deps import Principal, SessionDep, SettingsDep, requires

router = APIRouter(tags=["exchange"])

CanRead = Annotated[Principal, Depends(requires(Permission.EXCHANGE_READ))]
CanReveal = Annotated[Principal, Depends(requires(Permission.EXCHANGE_READ, Permission.KYC_REVEAL))]
CustomerPath = Annotated[str, Path(min_length=1, max_length=32)]


def load_customer(_: CanRead, db: SessionDep, customer_id: CustomerPath) -> Customer:
    return exchange_service.get_customer(db, customer_id)


def _customer_for_reveal(_: CanReveal, db: SessionDep, customer_id: CustomerPath) -> Customer:
    return exchange_service.get_customer(db, customer_id)


CustomerDep = Annotated[Customer, Depends(load_customer)]


@router.get("/customers")
def search_customers(
    _: CanRead,
    db: SessionDep,
    settings: SettingsDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[SubjectMatchRead]:
    """Customers a name, date of birth, e-mail, phone, document, customer or account id,
    address, transaction hash, IP or device id points to, with why each matched."""
    _query, matches = exchange_service.search(
        db, keys=exchange_service.keys_for(settings), q=q, limit=limit
    )
    return matches


@router.get("/customers/{customer_id}")
def get_customer(customer: CustomerDep, db: SessionDep) -> CustomerRead:
    """A customer (KYC masked), accounts and balances, deposits, withdrawals, logins, links."""
    return exchange_service.customer_read(db, customer)


@router.post("/customers/{customer_id}/reveal")
def reveal(
    principal: CanReveal,
    db: SessionDep,
    settings: SettingsDep,
    customer: Annotated[Customer, Depends(_customer_for_reveal)],
    data: RevealRequest | None = None,
) -> KycRecord:
    """The customer's full KYC record (needs ``kyc:reveal``); the reveal is audited."""
    return exchange_service.reveal_kyc(
        db,
        keys=exchange_service.keys_for(settings),
        actor=principal.actor(),
        customer=customer,
        reason=data.reason if data else None,
    )


@router.get("/customers/{customer_id}/links")
def customer_links(customer: CustomerDep, db: SessionDep) -> list[LinkRead]:
    """The customers linked to this one (shared device, IP, address, KYC detail), with the
    evidence of each link."""
    return exchange_service.links_read(db, customer)

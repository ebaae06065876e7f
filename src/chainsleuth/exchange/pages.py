"""HTML pages of the exchange's records: the customer search and a customer's page.

The KYC card shows masked values; a user with ``kyc:reveal`` has a "Reveal" button that
POSTs (with its CSRF token), writes the audit entry and shows the full record.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from chainsleuth.auth.enums import Permission
from chainsleuth.core.errors import InvalidInput
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.enums import LinkKind
from chainsleuth.exchange.schemas import CustomerRead, KycRecord, SubjectMatchRead
from chainsleuth.web.deps import Principal, SessionDep, SettingsDep, requires
from chainsleuth.web.templating import render

router = APIRouter()

CanRead = Annotated[Principal, Depends(requires(Permission.EXCHANGE_READ))]
CanReveal = Annotated[Principal, Depends(requires(Permission.EXCHANGE_READ, Permission.KYC_REVEAL))]

KYC_LABELS = [
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("date_of_birth", "Date of birth"),
    ("nationality", "Nationality"),
    ("country_of_residence", "Residence"),
    ("address_line", "Address"),
    ("city", "City"),
    ("postal_code", "Postal code"),
    ("email", "E-mail"),
    ("phone", "Phone"),
    ("occupation", "Occupation"),
    ("document_type", "Document"),
    ("document_number", "Document number"),
    ("document_country", "Document country"),
    ("document_expiry", "Document expiry"),
]


@router.get("/customers")
def search_page(
    request: Request,
    _: CanRead,
    db: SessionDep,
    settings: SettingsDep,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    error: str | None = None
    matches: list[SubjectMatchRead] = []
    if q.strip():
        try:
            _query, matches = exchange_service.search(
                db, keys=exchange_service.keys_for(settings), q=q
            )
        except InvalidInput as exc:
            error = exc.message
    return render(
        request,
        "exchange/search.html",
        {"q": q, "matches": matches, "error": error},
        status_code=422 if error else 200,
    )


def _customer_page(
    request: Request,
    principal: Principal,
    detail: CustomerRead,
    kyc: KycRecord | None = None,
) -> Response:
    return render(
        request,
        "exchange/customer.html",
        {
            "c": detail,
            "kyc": kyc,
            "kyc_labels": KYC_LABELS,
            "can_reveal": principal.can(Permission.KYC_REVEAL),
            "can_explore": principal.can(Permission.CHAIN_READ),
            "link_kinds": {k.value: k.label for k in LinkKind},
        },
    )


@router.get("/customers/{customer_id}")
def customer_page(
    request: Request, principal: CanRead, db: SessionDep, customer_id: str
) -> Response:
    customer = exchange_service.get_customer(db, customer_id)
    return _customer_page(request, principal, exchange_service.customer_read(db, customer))


@router.post("/customers/{customer_id}/reveal")
def reveal(
    request: Request,
    principal: CanReveal,
    db: SessionDep,
    settings: SettingsDep,
    customer_id: str,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    customer = exchange_service.get_customer(db, customer_id)
    kyc = exchange_service.reveal_kyc(
        db,
        keys=exchange_service.keys_for(settings),
        actor=principal.actor(),
        customer=customer,
        reason=reason.strip() or None,
    )
    if request.headers.get("hx-request"):
        return render(
            request,
            "exchange/_kyc.html",
            {"kyc": kyc, "kyc_labels": KYC_LABELS, "c": customer, "can_reveal": True},
        )
    return _customer_page(request, principal, exchange_service.customer_read(db, customer), kyc)

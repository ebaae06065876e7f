"""HTML page: look up what is known about an address, and the sources of labels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from chainsleuth.auth.enums import Permission
from chainsleuth.chain.chains import CHAINS
from chainsleuth.core.errors import InvalidInput
from chainsleuth.labels import service as label_service
from chainsleuth.web.deps import Principal, SessionDep, requires
from chainsleuth.web.templating import render

router = APIRouter()

CanRead = Annotated[Principal, Depends(requires(Permission.LABELS_READ))]


@router.get("/labels")
def labels_page(
    request: Request,
    principal: CanRead,
    db: SessionDep,
    chain: Annotated[str, Query(max_length=16)] = "btc",
    address: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    resolved, error, canonical = None, None, ""
    if address.strip():
        try:
            canonical = label_service.canonical(chain, address)
            resolved = label_service.attribution(
                db, chain=chain, address=canonical, viewer=principal.user
            )
        except InvalidInput as exc:
            error = exc.message
    return render(
        request,
        "labels/index.html",
        {
            "chains": sorted(CHAINS),
            "chain": chain.lower(),
            "address": address.strip(),
            "canonical": canonical,
            "resolved": resolved,
            "error": error,
            "sources": label_service.sources(db) if principal.user.role.is_internal else [],
        },
        status_code=422 if error else 200,
    )

"""HTML pages of the chain explorer: overview, address, transaction, block and search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from chainsleuth.attribution import service as attribution_service
from chainsleuth.auth.enums import Permission
from chainsleuth.chain.chains import CHAINS, format_amount
from chainsleuth.chain.records import Asset
from chainsleuth.chain.views import ReaderDep
from chainsleuth.web.deps import Principal, SessionDep, requires
from chainsleuth.web.templating import render

router = APIRouter()

CanRead = Annotated[Principal, Depends(requires(Permission.CHAIN_READ))]
PAGE = 50


def amount(value: int, asset: Asset, *, signed: bool = False) -> str:
    """An amount in whole units with its symbol (``+`` before gains when ``signed``)."""
    sign = "+" if signed and value > 0 else ""
    return f"{sign}{format_amount(value, asset.decimals)} {asset.symbol}"


def _url(request: Request, **params: int) -> str:
    url = request.url.include_query_params(**params)
    return f"{url.path}?{url.query}"


@router.get("/chains")
def overview(request: Request, _: CanRead, reader: ReaderDep) -> Response:
    stats = reader.stats()
    latest = {c.chain: reader.latest_blocks(c.chain, 10) for c in stats.chains}
    return render(
        request,
        "chain/overview.html",
        {"stats": stats, "latest": latest, "chains": CHAINS},
    )


@router.get("/chains/{chain}/addresses/{address}")
def address_page(
    request: Request,
    principal: CanRead,
    reader: ReaderDep,
    db: SessionDep,
    chain: str,
    address: str,
    before: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    summary = reader.address_summary(chain, address)
    page = reader.address_txs(chain, address, limit=PAGE, before=before)
    known = attribution_service.address_attribution(
        db, reader, chain=chain, address=address, viewer=principal.user
    )
    return render(
        request,
        "chain/address.html",
        {
            "summary": summary,
            "page": page,
            "known": known,
            "format_amount": format_amount,
            "chains": CHAINS,
            "amount": amount,
            "older_url": _url(request, before=page.next_before) if page.next_before else None,
            "newest_url": request.url.path if before is not None else None,
        },
    )


@router.get("/chains/{chain}/txs/{tx_hash}")
def tx_page(request: Request, _: CanRead, reader: ReaderDep, chain: str, tx_hash: str) -> Response:
    detail = reader.tx(chain, tx_hash)
    return render(request, "chain/tx.html", {"tx": detail, "amount": amount})


@router.get("/chains/{chain}/blocks/{height}")
def block_page(
    request: Request,
    _: CanRead,
    reader: ReaderDep,
    chain: str,
    height: int,
    after: Annotated[int, Query(ge=-1)] = -1,
) -> Response:
    detail = reader.block(chain, height, limit=PAGE, after=after)
    return render(
        request,
        "chain/block.html",
        {
            "block": detail,
            "amount": amount,
            "more_url": _url(request, after=detail.next_after)
            if detail.next_after is not None
            else None,
        },
    )


@router.get("/search")
def search_page(
    request: Request,
    _: CanRead,
    reader: ReaderDep,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Straight to the page when the query names one thing that exists; else the list."""
    hits = reader.search(q)
    found = [h for h in hits if h.found]
    if len(found) == 1:
        return RedirectResponse(found[0].path, status_code=303)
    return render(request, "chain/search.html", {"q": q, "hits": hits, "found": found})

"""JSON API of the chain store: statistics, addresses, transactions, blocks, search, flows.

Amounts are integers in the asset's smallest unit (they may exceed 2**53 on account
chains). Malformed input (chain, address, hash) is a 422; an unknown transaction or block,
or an address without activity, a 404; a store busy with a load, a 503.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from chainsleuth.auth.enums import Permission
from chainsleuth.chain import flows as flow_service
from chainsleuth.chain.access import ChainStoreAccess
from chainsleuth.chain.flows import Direction, Flow
from chainsleuth.chain.lookups import MAX_PAGE, ChainReader
from chainsleuth.chain.records import (
    AddressTxPage,
    AddressView,
    BlockDetail,
    SearchHit,
    StoreStats,
    TxDetail,
)
from chainsleuth.web.deps import Principal, requires

router = APIRouter(tags=["chains"])

CanRead = Annotated[Principal, Depends(requires(Permission.CHAIN_READ))]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


def chain_reader(request: Request) -> Iterator[ChainReader]:
    """A reader of the chain store for this request."""
    access: ChainStoreAccess = request.app.state.chain_store
    with access.reader() as reader:
        yield reader


ReaderDep = Annotated[ChainReader, Depends(chain_reader)]


@router.get("/chains")
def chains(_: CanRead, reader: ReaderDep) -> StoreStats:
    """Per chain: tip, counts and size on disk."""
    return reader.stats()


@router.get("/chains/{chain}/addresses/{address}")
def address(
    _: CanRead,
    reader: ReaderDep,
    chain: str,
    address: str,
    limit: Limit = 50,
    before: Annotated[int | None, Query(ge=0)] = None,
) -> AddressView:
    """An address's totals and a page of its transactions (newest first, running balance).

    Pass ``next_before`` of a page as ``before`` for the next, older page."""
    summary = reader.address_summary(chain, address)
    return AddressView(
        summary=summary, page=reader.address_txs(chain, address, limit=limit, before=before)
    )


@router.get("/chains/{chain}/addresses/{address}/txs")
def address_txs(
    _: CanRead,
    reader: ReaderDep,
    chain: str,
    address: str,
    limit: Limit = 50,
    before: Annotated[int | None, Query(ge=0)] = None,
) -> AddressTxPage:
    """A page of an address's transactions only."""
    return reader.address_txs(chain, address, limit=limit, before=before)


@router.get("/chains/{chain}/addresses/{address}/flows")
def address_flows(
    _: CanRead,
    reader: ReaderDep,
    chain: str,
    address: str,
    direction: Direction = Direction.BOTH,
    since: datetime | None = None,
    until: datetime | None = None,
    min_value: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[Flow]:
    """Who paid whom: the address's flows (see ``chainsleuth.chain.flows`` for the UTXO rule)."""
    reader.address_summary(chain, address)  # 404 for an address without activity
    table = flow_service.flows(
        reader,
        chain,
        [address],
        direction=direction,
        since=since,
        until=until,
        min_value=min_value,
        limit=limit,
    )
    return flow_service.flow_records(reader, chain, table)


@router.get("/chains/{chain}/txs/{tx_hash}")
def tx(_: CanRead, reader: ReaderDep, chain: str, tx_hash: str) -> TxDetail:
    """A transaction with its inputs and outputs, or its transfer and token transfers."""
    return reader.tx(chain, tx_hash)


@router.get("/chains/{chain}/blocks/{height}")
def block(
    _: CanRead,
    reader: ReaderDep,
    chain: str,
    height: int,
    limit: Limit = 50,
    after: Annotated[int, Query(ge=-1)] = -1,
) -> BlockDetail:
    """A block and a page of its transactions (``after``: the last position seen)."""
    return reader.block(chain, height, limit=limit, after=after)


@router.get("/search")
def search(
    _: CanRead, reader: ReaderDep, q: Annotated[str, Query(min_length=1, max_length=200)]
) -> list[SearchHit]:
    """What ``q`` names on any chain: an address, a transaction or block hash, a height."""
    return reader.search(q)

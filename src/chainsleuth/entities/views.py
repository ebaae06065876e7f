"""JSON API of entities: an entity, an address's entity, and why two addresses are one.

Gated like the chain views (``chain:read``). A malformed chain or address is a 422, a
negative id or a missing ``a``/``b`` a 422 (FastAPI's validation), an unknown address, an
entity id that names no entity, two addresses in different entities or no build yet a 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from chainsleuth.chain.views import CanRead, ReaderDep
from chainsleuth.entities import service as entity_service
from chainsleuth.entities.schemas import AddressEntity, EntitySummary, Why

router = APIRouter(tags=["entities"])

Addr = Annotated[str, Query(min_length=1, max_length=200)]


@router.get("/chains/{chain}/entities/why")
def why(_: CanRead, reader: ReaderDep, chain: str, a: Addr, b: Addr) -> Why:
    """The transactions that put addresses ``a`` and ``b`` into one entity, in order."""
    return entity_service.why_addresses(reader, chain, a, b)


@router.get("/chains/{chain}/entities/{entity_id}")
def entity(
    _: CanRead, reader: ReaderDep, chain: str, entity_id: Annotated[int, Path(ge=0)]
) -> EntitySummary:
    """An entity by id (its smallest address id): size, heuristics, received, top addresses."""
    return entity_service.summary_for(reader, chain, entity_id)


@router.get("/chains/{chain}/addresses/{address}/entity")
def address_entity(_: CanRead, reader: ReaderDep, chain: str, address: str) -> AddressEntity:
    """The entity an address belongs to."""
    return entity_service.address_entity(reader, chain, address)

"""JSON API of tracing: traces, paths between addresses, exposure.

Gated with ``chain:read``. Malformed input is a 422 with its reason; an unknown address
or transaction a 404; a store busy with a load a 503.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from chainsleuth.chain.views import CanRead, ReaderDep
from chainsleuth.tracing import service as tracing_service
from chainsleuth.tracing.schemas import (
    ExposureReport,
    PathBy,
    PathResult,
    TraceGraph,
    TraceRequest,
)
from chainsleuth.web.deps import SessionDep, SettingsDep

router = APIRouter(tags=["tracing"])


def _context(
    request: Request, settings: SettingsDep, db: SessionDep
) -> tracing_service.TracingContext:
    ctx = getattr(request.app.state, "tracing_context", None)
    if isinstance(ctx, tracing_service.TracingContext):
        return ctx
    return tracing_service.context_for(settings, session=db)


@router.post("/traces")
def create_trace(
    _: CanRead,
    reader: ReaderDep,
    settings: SettingsDep,
    db: SessionDep,
    request: Request,
    body: TraceRequest,
) -> TraceGraph:
    """Trace funds forward or backward from an address, a transaction or a set of
    addresses, under the poison, haircut or FIFO model (see ``chainsleuth.tracing.engine``)."""
    return tracing_service.run_trace(reader, body, _context(request, settings, db))


@router.get("/chains/{chain}/paths")
def paths(
    _: CanRead,
    reader: ReaderDep,
    settings: SettingsDep,
    db: SessionDep,
    request: Request,
    chain: str,
    from_: Annotated[list[str], Query(alias="from", min_length=1, max_length=100)],
    to: Annotated[list[str], Query(min_length=1, max_length=100)],
    hops: Annotated[int, Query(ge=1, le=7)] = 5,
    by: PathBy = PathBy.SHORTEST,
    min_value: Annotated[int, Query(ge=0)] = 0,
    since: datetime | None = None,
    until: datetime | None = None,
) -> PathResult:
    """The shortest or highest-value path of funds from ``from`` to ``to`` (repeat either
    for a set of addresses)."""
    return tracing_service.find_path(
        reader, chain, from_, to, _context(request, settings, db), hops=hops, by=by,
        min_value=min_value, since=since, until=until,
    )  # fmt: skip


@router.get("/chains/{chain}/addresses/{address}/exposure")
def exposure(
    _: CanRead,
    reader: ReaderDep,
    settings: SettingsDep,
    db: SessionDep,
    request: Request,
    chain: str,
    address: str,
    hops: Annotated[int, Query(ge=1, le=10)] = 3,
    min_value: Annotated[int, Query(ge=0)] = 0,
) -> ExposureReport:
    """Direct and indirect exposure per category, incoming and outgoing."""
    return tracing_service.exposure(
        reader, chain, [address], _context(request, settings, db), hops=hops, min_value=min_value
    )

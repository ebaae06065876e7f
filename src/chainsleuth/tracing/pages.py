"""The trace page: a form, the trace drawn as a graph (Cytoscape.js, vendored from npm:
``frontend/trace``), its edges as a table; click a node to expand it; export the graph as
PNG, SVG (written by ``static/trace.js`` from the drawn graph), JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from chainsleuth.auth.enums import Permission
from chainsleuth.chain.chains import CHAINS
from chainsleuth.chain.views import ReaderDep
from chainsleuth.tracing import service as tracing_service
from chainsleuth.tracing.engine import MAX_HOPS, Model, TraceDirection
from chainsleuth.tracing.schemas import TraceGraph, TraceRequest
from chainsleuth.web.deps import Principal, SessionDep, SettingsDep, requires
from chainsleuth.web.templating import render

router = APIRouter()

CanRead = Annotated[Principal, Depends(requires(Permission.CHAIN_READ))]
Hops = Annotated[int, Query(ge=1, le=MAX_HOPS)]


def _run(
    request: Request,
    reader: Any,
    settings: Any,
    db: Session,
    chain: str,
    address: str | None,
    tx: str | None,
    direction: TraceDirection,
    model: Model,
    hops: int,
) -> TraceGraph:
    ctx = getattr(request.app.state, "tracing_context", None)
    if not isinstance(ctx, tracing_service.TracingContext):
        ctx = tracing_service.context_for(settings, session=db)
    body = TraceRequest(
        chain=chain, address=address or None, tx=tx or None, direction=direction, model=model,
        hops=hops, max_edges=5_000,
    )  # fmt: skip
    return tracing_service.run_trace(reader, body, ctx)


@router.get("/trace")
def trace_page(
    request: Request,
    _: CanRead,
    reader: ReaderDep,
    settings: SettingsDep,
    db: SessionDep,
    chain: str = "btc",
    address: str | None = None,
    tx: str | None = None,
    direction: TraceDirection = TraceDirection.BACKWARD,
    model: Model = Model.HAIRCUT,
    hops: Hops = 5,
) -> Response:
    graph = None
    if address or tx:
        graph = _run(request, reader, settings, db, chain, address, tx, direction, model, hops)
    data = graph.model_dump_json().replace("</", "<\\/") if graph is not None else None
    return render(
        request,
        "tracing/trace.html",
        {
            "graph": graph,
            "graph_json": data,
            "chains": CHAINS,
            "form": {"chain": chain, "address": address or "", "tx": tx or "",
                     "direction": direction, "model": model, "hops": hops},
            "models": list(Model),
            "directions": list(TraceDirection),
        },
    )  # fmt: skip


@router.get("/trace/data")
def trace_data(
    request: Request,
    _: CanRead,
    reader: ReaderDep,
    settings: SettingsDep,
    db: SessionDep,
    chain: str,
    address: str | None = None,
    tx: str | None = None,
    direction: TraceDirection = TraceDirection.BACKWARD,
    model: Model = Model.HAIRCUT,
    hops: Hops = 1,
) -> Response:
    """The trace as JSON, for the page's expand-on-click (same session, no form)."""
    graph = _run(request, reader, settings, db, chain, address, tx, direction, model, hops)
    return JSONResponse(graph.model_dump(mode="json"))

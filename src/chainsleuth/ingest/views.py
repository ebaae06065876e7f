"""JSON API of ingest: each chain's sync status (source, store tip, node tip, lag, rate)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from chainsleuth.auth.enums import Permission
from chainsleuth.chain.views import ReaderDep
from chainsleuth.core.config import Settings
from chainsleuth.ingest import service as ingest_service
from chainsleuth.web.deps import Principal, requires

router = APIRouter(tags=["ingest"])

#: the sync status is an administrator's view of the data sources
CanAdminister = Annotated[Principal, Depends(requires(Permission.USERS_MANAGE))]


class ChainSync(BaseModel):
    chain: str
    state: str
    error: str | None
    source: str | None
    network: str | None
    store_tip: int | None  # now, from the store
    node_tip: int | None  # as the ingester last saw it
    lag: int | None  # blocks behind the source, as last seen
    blocks_per_s: float | None
    txs_per_s: float | None
    traces: str | None = None  # how internal transfers are read, or why not
    updated_at: datetime | None


def sync_statuses(settings: Settings, store_tips: dict[str, int | None]) -> list[ChainSync]:
    out = []
    for s in ingest_service.statuses(settings):
        tip = store_tips.get(s.chain, s.store_tip)
        lag = None if s.node_tip is None else max(0, s.node_tip - (-1 if tip is None else tip))
        out.append(
            ChainSync(
                chain=s.chain,
                state=s.state,
                error=s.error,
                source=s.source,
                network=s.network,
                store_tip=tip,
                node_tip=s.node_tip,
                lag=lag,
                blocks_per_s=s.blocks_per_s,
                txs_per_s=s.txs_per_s,
                traces=s.traces,
                updated_at=s.updated_at,
            )
        )
    return out


@router.get("/ingest/status")
def status(request: Request, _: CanAdminister, reader: ReaderDep) -> list[ChainSync]:
    """Per chain: the last ingest's state and source, the store's tip, lag and rate."""
    tips = {c.chain: c.tip_height for c in reader.stats().chains}
    return sync_statuses(request.app.state.settings, tips)

"""What traces, paths and exposures look like to the API, the CLI and the page.

Amounts are integers in the smallest unit of their asset (they may exceed 2**53 on
account chains); times are UTC. A node is a *position*: one address holding one asset;
its ``id`` is ``chain:address:ASSET``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from chainsleuth.tracing.engine import MAX_HOPS, Model, TraceDirection

MAX_PATH_HOPS = 7


class PathBy(StrEnum):
    SHORTEST = "shortest"
    VALUE = "value"


class TraceRequest(BaseModel):
    """A trace: from an address, a transaction (its flows) or a set of addresses (an
    entity); exactly one of ``address``, ``tx``, ``addresses``."""

    chain: str
    address: str | None = None
    tx: str | None = None
    addresses: list[str] | None = Field(default=None, max_length=10_000)
    direction: TraceDirection = TraceDirection.BACKWARD
    model: Model = Model.HAIRCUT
    hops: int = Field(default=5, ge=1, le=MAX_HOPS)
    min_value: int = Field(default=0, ge=0)
    since: datetime | None = None
    until: datetime | None = None
    respect_time: bool = True
    asset: str | None = Field(default=None, description="symbol (USDT) or token address")
    stop: list[str] = Field(default_factory=list, max_length=100_000)
    stop_categories: list[str] | None = Field(
        default=None, description="categories at which to stop; default: services"
    )
    max_edges: int = Field(default=20_000, ge=1, le=200_000)


class TraceNode(BaseModel):
    id: str
    chain: str
    address: str | None
    asset: str
    entity: int | None = None
    category: str | None = None
    amount: int
    hop: int
    stop: bool = False


class TraceEdge(BaseModel):
    source: str
    target: str
    kind: str  # flow, swap, bridge
    chain: str
    tx_hash: str
    release_tx_hash: str | None = None  # bridge edges: the release on the other chain
    time: datetime
    asset: str
    asset_out: str
    amount: int  # attributed to the traced funds, in ``asset``
    amount_out: int  # the same in ``asset_out`` (differs on swaps and bridges)
    value: int  # the whole flow, in ``asset``
    hop: int


class TraceGraph(BaseModel):
    chain: str
    direction: TraceDirection
    model: Model
    hops: int
    origin: list[str]
    nodes: list[TraceNode]
    edges: list[TraceEdge]
    truncated: bool


class PathResult(BaseModel):
    chain: str
    by: PathBy
    found: bool
    hops: int
    bottleneck: int = 0
    edges: list[TraceEdge]


class ExposureEntry(BaseModel):
    category: str
    direction: str  # incoming (source of funds) or outgoing (destination)
    asset: str
    value: int
    share: float
    direct_value: int
    indirect_value: int
    min_hops: int
    paths: list[list[TraceEdge]]


class ExposureReport(BaseModel):
    chain: str
    address: str
    hops: int
    received: dict[str, int]  # per asset, what the subject received in all
    sent: dict[str, int]
    entries: list[ExposureEntry]

"""What the entities domain returns (API, CLI ``--json`` and other domains)."""

from __future__ import annotations

from pydantic import BaseModel


class EvidenceStep(BaseModel):
    """One link on the path between two addresses of an entity: ``a`` and ``b`` were joined
    by ``tx`` under ``heuristic`` (and ``tx_b`` via ``via``, for a two-transaction link)."""

    a_id: int
    b_id: int
    a: str
    b: str
    heuristic: str
    confidence: float
    tx_id: int
    tx: str
    tx_b: str | None = None
    via: str | None = None


class Why(BaseModel):
    chain: str
    a: str
    b: str
    entity_id: int
    steps: list[EvidenceStep]


class HeuristicCount(BaseModel):
    heuristic: str
    confidence: float
    merges: int


class TopAddress(BaseModel):
    address_id: int
    address: str
    received: int


class EntitySummary(BaseModel):
    """An entity: its id (the smallest address id in it), size and how it was formed.
    ``received`` is the total of the native asset its addresses received (smallest unit);
    ``heuristics_enabled`` those of the build, ``heuristics`` those behind its merges."""

    chain: str
    entity_id: int
    size: int
    built_to_height: int | None
    heuristics_enabled: list[str]
    heuristics: list[HeuristicCount]
    received: int
    symbol: str
    top_addresses: list[TopAddress]


class AddressEntity(BaseModel):
    chain: str
    address: str
    address_id: int
    entity: EntitySummary


class TypeScore(BaseModel):
    actor_type: str
    addresses: int
    actors: int
    precision: float
    recall: float


class ClusteringScore(BaseModel):
    chain: str
    addresses: int
    actors: int
    entities: int
    heuristics: list[str]
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    precision: float
    recall: float
    by_type: list[TypeScore]

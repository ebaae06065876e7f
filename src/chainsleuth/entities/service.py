"""The entities domain for the rest of chainsleuth.

Use it as ``from chainsleuth.entities import service as entity_service``. Everything works
on a chain store root (``chain_service.store_root(settings)``) and integer address ids.

An **entity id** is the smallest address id in the entity. It is stable while the entity
only gains addresses of larger ids, and changes to the smaller one when two entities merge
(the merged-away id then names no entity: look addresses up again). An address the last
build has not seen (it appeared since) is an entity of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np

from chainsleuth.chain import storage
from chainsleuth.chain.addresses import canonical_address, display_address
from chainsleuth.chain.chains import CHAINS, get_chain
from chainsleuth.chain.enums import ChainKind
from chainsleuth.chain.keys import hex_of
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.entities import evidence as ev
from chainsleuth.entities import source
from chainsleuth.entities import store as es
from chainsleuth.entities.clustering import BuildParams, BuildResult, Progress, get_engine
from chainsleuth.entities.enums import BY_CODE, CONFIDENCE, Heuristic, parse_heuristics
from chainsleuth.entities.schemas import (
    AddressEntity,
    EntitySummary,
    EvidenceStep,
    HeuristicCount,
    TopAddress,
    Why,
)

TOP = 10


def chains_of(chain: str) -> list[str]:
    """``all`` or one chain name -> the chain ids."""
    if chain.strip().lower() == "all":
        return list(CHAINS)
    return [get_chain(chain).id]


def build(
    root: Path,
    chain: str,
    *,
    heuristics: str | Sequence[Heuristic] | None = None,
    full: bool = False,
    params: BuildParams | None = None,
    engine: str = "local",
    progress: Progress | None = None,
) -> list[BuildResult]:
    """Build or bring up to date the entities of ``chain`` (or ``all``) in the store."""
    results: list[BuildResult] = []
    missing: NotFound | None = None
    if engine == "spark":
        from chainsleuth.entities import spark  # noqa: F401, PLC0415 - registers the engine
    runner = get_engine(engine)
    for c in chains_of(chain):
        kind = str(get_chain(c).kind)
        if heuristics is None or isinstance(heuristics, str):
            chosen = parse_heuristics(heuristics, kind)
        else:
            allowed = parse_heuristics(",".join(str(h) for h in heuristics), kind)
            chosen = allowed
        if not chosen:
            if chain.strip().lower() == "all":
                continue
            raise InvalidInput(f"none of the heuristics given applies to {c}")
        try:
            results.append(
                runner.build(
                    root, c, heuristics=chosen, full=full, params=params, progress=progress
                )
            )
        except NotFound as exc:
            if chain.strip().lower() != "all":
                raise
            missing = missing or exc  # a chain with no blocks yet: the others still build
    if not results:
        if missing is not None:
            raise missing
        raise InvalidInput("none of the heuristics given applies to any chain")
    return results


def _state(root: Path, chain: str) -> es.EntityState:
    state = es.load_state(root, chain)
    if state is None:
        raise NotFound(
            f"no entities of {chain} have been built: run `chainsleuth entities build` first"
        )
    return state


def entity_map(root: Path, chain: str) -> np.ndarray:
    """address id -> entity id for every address of the last build (read-only, memory-
    mapped; ids past its end are entities of their own). For bulk jobs."""
    chain = get_chain(chain).id
    return es.load_entities(root, chain, _state(root, chain))


def coinjoins(root: Path, chain: str) -> tuple[np.ndarray, np.ndarray]:
    """The CoinJoin-like transactions the last build skipped: (tx ids ascending, kinds; see
    ``heuristics.CoinJoinKind``)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    chain = get_chain(chain).id
    state = _state(root, chain)
    tables = [pq.read_table(es.entity_dir(root, chain) / f) for f in state.coinjoin_files]
    if not tables:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int8)
    table = pa.concat_tables(tables)
    tx = table["tx_id"].to_numpy()
    order = np.argsort(tx, kind="stable")
    return tx[order], table["kind"].to_numpy()[order]


def entity_of(root: Path, chain: str, address_ids: np.ndarray) -> np.ndarray:
    """The entity id of each address id (int64)."""
    ids = np.asarray(address_ids, dtype=np.int64)
    if ids.size and ids.min() < 0:
        raise InvalidInput("address ids are never negative")
    entities = entity_map(root, chain)
    out = ids.copy()
    inside = ids < entities.size
    out[inside] = entities[ids[inside]]
    return out


def _check_entity(entities: np.ndarray, entity_id: int) -> None:
    if entity_id < 0:
        raise InvalidInput("entity ids are never negative")
    if entity_id < entities.size and int(entities[entity_id]) != entity_id:
        raise NotFound(
            f"{entity_id} is no entity id (it merged into entity {int(entities[entity_id])})"
        )


def members(root: Path, chain: str, entity_id: int) -> np.ndarray:
    """The address ids of an entity, ascending."""
    entities = entity_map(root, chain)
    _check_entity(entities, entity_id)
    if entity_id >= entities.size:
        return np.array([entity_id], dtype=np.int64)
    return np.flatnonzero(np.asarray(entities) == entity_id).astype(np.int64)


def why(root: Path, chain: str, a_id: int, b_id: int) -> list[EvidenceStep]:
    """The chain of merges linking two addresses of one entity, from ``a_id`` to ``b_id``
    (empty when they are the same address). NotFound when they are not one entity."""
    chain = get_chain(chain).id
    state = _state(root, chain)
    entities = es.load_entities(root, chain, state)
    ea, eb = entity_of(root, chain, np.array([a_id, b_id]))
    if ea != eb:
        raise NotFound(f"addresses {a_id} and {b_id} are not one entity")
    if a_id == b_id:
        return []
    edges = ev.entity_edges(root, chain, state, np.asarray(entities), int(ea))
    steps = ev.path(edges, a_id, b_id)
    if not steps:  # pragma: no cover - every entity's evidence spans it
        raise NotFound(f"no evidence links addresses {a_id} and {b_id}")
    rows = [r for r, _, _ in steps]
    tx = edges["tx_id"].to_numpy()[rows]
    tx_b = edges["tx_b"].to_numpy()[rows]
    via = edges["via"].to_numpy()[rows]
    code = edges["heuristic"].to_numpy()[rows]
    flat = storage.FlatFiles(Path(root) / chain)
    prefixed = get_chain(chain).kind is ChainKind.ACCOUNT
    all_tx = np.concatenate([tx, tx_b[tx_b >= 0]])
    hashes = dict(
        zip(all_tx.tolist(), hex_of(flat.tx_hashes(all_tx), prefixed=prefixed), strict=True)
    )
    ids = sorted({x for _, f, t in steps for x in (f, t)} | set(via[via >= 0].tolist()))
    texts = dict(zip(ids, flat.addresses(ids), strict=True))
    out: list[EvidenceStep] = []
    for i, (_, f, t) in enumerate(steps):
        h = BY_CODE[int(code[i])]
        out.append(
            EvidenceStep(
                a_id=f,
                b_id=t,
                a=display_address(chain, texts[f]),
                b=display_address(chain, texts[t]),
                heuristic=str(h),
                confidence=CONFIDENCE[h],
                tx_id=int(tx[i]),
                tx=hashes[int(tx[i])],
                tx_b=hashes[int(tx_b[i])] if tx_b[i] >= 0 else None,
                via=display_address(chain, texts[int(via[i])]) if via[i] >= 0 else None,
            )
        )
    return out


@contextmanager
def _connection(
    root: Path, con: duckdb.DuckDBPyConnection | None
) -> Iterator[duckdb.DuckDBPyConnection]:
    if con is not None:
        yield con
        return
    with source.chain_connection(root) as own:
        yield own


def entity_summary(
    root: Path,
    chain: str,
    entity_id: int,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    top: int = TOP,
) -> EntitySummary:
    """An entity: size, heuristics behind it, native value received, busiest addresses."""
    info = get_chain(chain)
    state = _state(root, info.id)
    entities = np.asarray(es.load_entities(root, info.id, state))
    _check_entity(entities, entity_id)
    ids = members(root, info.id, entity_id)
    counts: dict[int, int] = {}
    if ids.size > 1:
        edges = ev.entity_edges(root, info.id, state, entities, entity_id)
        codes, n = np.unique(edges["heuristic"].to_numpy(), return_counts=True)
        counts = dict(zip(codes.tolist(), n.tolist(), strict=True))
    index = "utxo_address_txs" if info.kind is ChainKind.UTXO else "account_address_txs"
    asset = "" if info.kind is ChainKind.UTXO else f" AND asset_id = {storage.NATIVE_ASSET}"
    with _connection(root, con) as db:
        if ids.size == 1:
            found = storage.rows(
                db,
                f"""SELECT address_id, sum(received)::HUGEINT FROM {index}
                    WHERE chain = ? AND address_id = ?{asset} GROUP BY address_id""",
                [info.id, int(ids[0])],
            )
        else:
            found = storage.rows(
                db,
                f"""SELECT address_id, sum(received)::HUGEINT FROM {index}
                    WHERE chain = ? AND address_id IN (SELECT unnest(?::BIGINT[])){asset}
                    GROUP BY address_id""",
                [info.id, ids.tolist()],
            )
        known = storage.one(db, "SELECT address_count FROM chain_state WHERE chain = ?", [info.id])
    if entity_id >= entities.size and (known is None or entity_id >= int(known[0])):
        raise NotFound(f"no entity {entity_id} on {info.name}")
    received = {int(a): int(v) for a, v in found}
    ranked = sorted(ids.tolist(), key=lambda a: (-received.get(a, 0), a))[:top]
    texts = storage.FlatFiles(Path(root) / info.id).addresses(ranked)
    return EntitySummary(
        chain=info.id,
        entity_id=entity_id,
        size=int(ids.size),
        built_to_height=state.last_height,
        heuristics_enabled=list(state.heuristics),
        heuristics=[
            HeuristicCount(heuristic=str(BY_CODE[c]), confidence=CONFIDENCE[BY_CODE[c]], merges=n)
            for c, n in sorted(counts.items())
        ],
        received=sum(received.values()),
        symbol=info.symbol,
        top_addresses=[
            TopAddress(
                address_id=a, address=display_address(info.id, t), received=received.get(a, 0)
            )
            for a, t in zip(ranked, texts, strict=True)
        ],
    )


def _address_id(reader: ChainReader, chain: str, address: str) -> tuple[int, str]:
    """The id and display form of an address; NotFound when the store never saw it."""
    info = get_chain(chain)
    shown = display_address(info.id, canonical_address(info.id, address))
    address_id = reader.address_id(info.id, address)
    if address_id is None:
        raise NotFound(f"no activity of {shown} on {info.name}")
    return address_id, shown


def address_entity(
    reader: ChainReader, chain: str, address: str, *, top: int = TOP
) -> AddressEntity:
    """The entity of an address (by its text), with the entity's summary."""
    info = get_chain(chain)
    address_id, shown = _address_id(reader, info.id, address)
    entity_id = int(entity_of(reader.root, info.id, np.array([address_id]))[0])
    return AddressEntity(
        chain=info.id,
        address=shown,
        address_id=address_id,
        entity=entity_summary(reader.root, info.id, entity_id, con=reader.con, top=top),
    )


def why_addresses(reader: ChainReader, chain: str, a: str, b: str) -> Why:
    """``why`` for two address texts."""
    info = get_chain(chain)
    a_id, a_shown = _address_id(reader, info.id, a)
    b_id, b_shown = _address_id(reader, info.id, b)
    steps = why(reader.root, info.id, a_id, b_id)
    entity_id = int(entity_of(reader.root, info.id, np.array([a_id]))[0])
    return Why(chain=info.id, a=a_shown, b=b_shown, entity_id=entity_id, steps=steps)


def summary_for(reader: ChainReader, chain: str, entity_id: int) -> EntitySummary:
    return entity_summary(reader.root, get_chain(chain).id, entity_id, con=reader.con)


__all__ = [
    "Heuristic",
    "address_entity",
    "build",
    "coinjoins",
    "entity_map",
    "entity_of",
    "entity_summary",
    "members",
    "summary_for",
    "why",
    "why_addresses",
]

"""Scoring a clustering against a generated world's ground truth.

Pairwise precision and recall: of the pairs of addresses the clustering puts in one entity,
the share that one actor controls (precision); of the pairs one actor controls, the share
put in one entity (recall). Pairs are counted from the contingency table of (entity,
actor) sizes, never enumerated: ``sum C(n_ij, 2)`` over cells, ``sum C(a_i, 2)`` over
entities and ``sum C(b_j, 2)`` over actors. Only addresses both in the truth and in the
store count. Per actor type, recall is over the pairs of that type's actors and precision
over the (ordered) pairs that contain an address of that type.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.entities import source
from chainsleuth.entities import store as es
from chainsleuth.entities.schemas import ClusteringScore, TypeScore


def _pairs(n: np.ndarray) -> int:
    n = n.astype(np.int64)
    return int((n * (n - 1) // 2).sum())


def score(world: Path, root: Path, chain: str) -> ClusteringScore:
    world = Path(world)
    truth = world / "truth" / f"addresses_{chain}.parquet"
    actors = world / "truth" / "actors.parquet"
    if not truth.is_file() or not actors.is_file():
        raise InvalidInput(f"{world} is not a world folder with ground truth for {chain}")
    state = es.load_state(root, chain)
    if state is None:
        raise NotFound(
            f"no entities of {chain} have been built: run `chainsleuth entities build` first"
        )
    with source.chain_connection(root) as con:
        files = source.segment_files(con, root, chain, "addresses")
    if not files:
        raise NotFound(f"no addresses of {chain} in the chain store")
    mem = duckdb.connect()
    try:
        found = mem.execute(
            """SELECT s.address_id, t.actor_id, coalesce(a.type, '?') AS type
               FROM read_parquet(?::VARCHAR[]) s
               JOIN read_parquet(?) t ON t.address = s.address
               LEFT JOIN read_parquet(?) a ON a.actor_id = t.actor_id
               WHERE t.actor_id IS NOT NULL""",
            [files, str(truth), str(actors)],
        ).fetchnumpy()
    finally:
        mem.close()
    ids = np.asarray(found["address_id"], dtype=np.int64)
    actor = np.asarray(found["actor_id"], dtype=np.int64)
    types = np.asarray(found["type"]).astype(str)
    entities = np.asarray(es.load_entities(root, chain, state))
    ent = ids.copy()
    inside = ids < entities.size
    ent[inside] = entities[ids[inside]]
    # contingency cells (entity, actor)
    _, cell_of, cell_n = np.unique(
        np.stack([ent, actor], axis=1), axis=0, return_inverse=True, return_counts=True
    )
    cell_of = cell_of.reshape(-1)
    _, ent_of, ent_n = np.unique(ent, return_inverse=True, return_counts=True)
    _, act_n = np.unique(actor, return_counts=True)
    tp = _pairs(cell_n)
    predicted = _pairs(ent_n)
    true = _pairs(act_n)
    by_type: list[TypeScore] = []
    for t in sorted(set(types.tolist())):
        mask = types == t
        # per address of type t: entity-mates of the same actor, and entity-mates
        same = cell_n[cell_of[mask]] - 1
        mates = ent_n[ent_of[mask]] - 1
        _, tn = np.unique(actor[mask], return_counts=True)
        t_true = _pairs(tn)
        cells_t = np.unique(cell_of[mask])
        t_tp = _pairs(cell_n[cells_t])
        by_type.append(
            TypeScore(
                actor_type=t,
                addresses=int(mask.sum()),
                actors=int(tn.size),
                precision=float(same.sum() / mates.sum()) if mates.sum() else 1.0,
                recall=float(t_tp / t_true) if t_true else 1.0,
            )
        )
    return ClusteringScore(
        chain=chain,
        addresses=int(ids.size),
        actors=int(act_n.size),
        entities=int(ent_n.size),
        heuristics=list(state.heuristics),
        true_pairs=true,
        predicted_pairs=predicted,
        correct_pairs=tp,
        precision=tp / predicted if predicted else 1.0,
        recall=tp / true if true else 1.0,
        by_type=by_type,
    )

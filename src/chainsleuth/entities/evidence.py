""" "Why are these one entity?": the path of merges between two addresses.

Each run's merges join two different components, so the evidence edges of an entity form
a tree over its addresses: between two of them there is exactly one path, found by a
breadth-first search over the entity's edges (a numba kernel over a CSR adjacency).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numba import njit

from chainsleuth.core.errors import IntegrityViolation
from chainsleuth.entities import store as es


def entity_edges(
    root: Path, chain: str, state: es.EntityState, entities: np.ndarray, entity_id: int
) -> pa.Table:
    """The evidence rows whose addresses lie in ``entity_id``."""
    parts: list[pa.Table] = []
    for path in es.evidence_paths(root, chain, state):
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise IntegrityViolation(f"{path} cannot be read ({exc}): rebuild with --full") from exc
        a = table["a"].to_numpy()
        inside = a < entities.size
        mask = np.zeros(a.size, dtype=np.bool_)
        mask[inside] = entities[a[inside]] == entity_id
        if mask.any():
            parts.append(table.filter(pa.array(mask)))
    if not parts:
        return es.EVIDENCE.empty_table()
    return pa.concat_tables(parts)


@njit(cache=True, nogil=True)
def _bfs(
    indptr: np.ndarray, nbr: np.ndarray, edge: np.ndarray, start: int, goal: int, n: int
) -> np.ndarray:
    """Edge indices on the path from local node ``start`` to ``goal`` (empty if none)."""
    prev_edge = np.full(n, -1, dtype=np.int64)
    prev_node = np.full(n, -1, dtype=np.int64)
    seen = np.zeros(n, dtype=np.bool_)
    queue = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    queue[tail] = start
    tail += 1
    seen[start] = True
    while head < tail:
        x = queue[head]
        head += 1
        if x == goal:
            break
        for k in range(indptr[x], indptr[x + 1]):
            y = nbr[k]
            if not seen[y]:
                seen[y] = True
                prev_edge[y] = edge[k]
                prev_node[y] = x
                queue[tail] = y
                tail += 1
    if not seen[goal]:
        return np.empty(0, dtype=np.int64)
    length = 0
    x = goal
    while x != start:
        length += 1
        x = prev_node[x]
    out = np.empty(length, dtype=np.int64)
    x = goal
    i = length - 1
    while x != start:
        out[i] = prev_edge[x]
        x = prev_node[x]
        i -= 1
    return out


def path(edges: pa.Table, a_id: int, b_id: int) -> list[tuple[int, int, int]]:
    """The path from ``a_id`` to ``b_id`` as (row of ``edges``, from, to) steps."""
    if a_id == b_id:
        return []
    ea = edges["a"].to_numpy()
    eb = edges["b"].to_numpy()
    nodes, local = np.unique(np.concatenate([ea, eb]), return_inverse=True)
    la, lb = local[: ea.size], local[ea.size :]
    if a_id not in nodes or b_id not in nodes:
        return []
    start = int(np.searchsorted(nodes, a_id))
    goal = int(np.searchsorted(nodes, b_id))
    src = np.concatenate([la, lb]).astype(np.int64)
    dst = np.concatenate([lb, la]).astype(np.int64)
    eid = np.concatenate([np.arange(ea.size), np.arange(ea.size)]).astype(np.int64)
    order = np.argsort(src, kind="stable")
    src, dst, eid = src[order], dst[order], eid[order]
    indptr = np.zeros(nodes.size + 1, dtype=np.int64)
    np.add.at(indptr, src + 1, 1)
    indptr = np.cumsum(indptr)
    rows = _bfs(indptr, dst, eid, start, goal, nodes.size)
    steps: list[tuple[int, int, int]] = []
    at = a_id
    for r in rows.tolist():
        x, y = int(ea[r]), int(eb[r])
        nxt = y if x == at else x
        steps.append((r, at, nxt))
        at = nxt
    return steps

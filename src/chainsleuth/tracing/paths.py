"""Path search between two sets of nodes (addresses, entities), following the money.

* **shortest**: the fewest hops (breadth first; among equally short paths the first
  found, which is the widest one reached first at that depth).
* **value**: the highest-value path: the one whose smallest flow is largest (a widest
  path), found by one round of relaxation per hop, ``hops`` rounds at most. Every node
  keeps its best width only (not one per length), so under a hop limit the answer is the
  best the rounds found, which can in rare graphs fall short of the optimum.

Only flows at least ``min_value`` and within ``since``/``until`` are followed; ``stop``
nodes are reached but not passed through. Hop limit: 1 to 7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainsleuth.core.errors import InvalidInput
from chainsleuth.tracing import kernels
from chainsleuth.tracing.engine import NO_TIME
from chainsleuth.tracing.graph import FlowGraph

MAX_PATH_HOPS = 7
#: nodes a search may visit before it gives up
MAX_VISITED = 2_000_000


@dataclass
class Path:
    edges: np.ndarray
    bottleneck: float


def find_path(
    graph: FlowGraph,
    sources: np.ndarray,
    targets: np.ndarray,
    *,
    hops: int = 5,
    by_value: bool = False,
    min_value: int = 0,
    since: int | None = None,
    until: int | None = None,
    stop: np.ndarray | None = None,
) -> Path:
    if not 1 <= hops <= MAX_PATH_HOPS:
        raise InvalidInput(f"hops must be between 1 and {MAX_PATH_HOPS} for a path search")
    if sources.size == 0 or targets.size == 0:
        return Path(np.empty(0, dtype=np.int64), 0.0)
    a = graph.arrays
    edges, width = kernels.bfs_paths(
        a["out_ptr"], a["e_src"], a["e_dst"], a["e_time"], a["e_amount"],
        np.asarray(sources, dtype=np.int64), np.asarray(targets, dtype=np.int64),
        hops, float(min_value),
        since if since is not None else -NO_TIME, until if until is not None else NO_TIME,
        by_value, np.unique(np.asarray(stop if stop is not None else [], dtype=np.int64)),
        MAX_VISITED,
    )  # fmt: skip
    return Path(edges, float(width))

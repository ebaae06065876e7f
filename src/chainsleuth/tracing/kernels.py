"""The compiled kernels of the tracer (numba, ``cache=True``): propagation and paths.

They take the graph's arrays (see ``graph``) and work on the nodes and edges they reach
only: a trace's state lives in arrays that grow with what it reached, and in scratch
arrays the size of the graph that the caller hands in filled with -1 and gets back so
(made once per graph and concurrent trace: only the slots a trace touched are set and
reset), so a trace costs what it touches and threads may run traces side by side. A
large stop set is a byte per node (made once per set), looked up with one load. The
scratch set's work rows hold a trace's working arrays, so that a small trace allocates
only what it returns; and no array is replaced inside a hot loop (numba then counts
references on every pass, which cost more than the work).

Models (``model``): 0 poison, 1 haircut, 2 FIFO; see ``engine`` for their definitions.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.typed import Dict, List

POISON = 0
HAIRCUT = 1
FIFO = 2

# the work rows of a scratch set (``FlowGraph.take_scratch``): int64 rows 0-13, 22, 23 and
# float64 rows 0-5, 9 are ``propagate``'s arrays, the others the seeds' and ``_finish``'s;
# a row too short
# for a trace is replaced by a longer array for that call (``_fit``)
WORK_ROWS = 24
WORK_F_ROWS = 10
_W_SEEDS = 14
_W_FINISH = 15
_WF_SEEDS = 6
_WF_FINISH = 7


@njit(cache=True)
def group_cumsum(ptr: np.ndarray, order: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``out[order[k]]``: the running sum of ``values[order[...]]`` within each group."""
    out = np.empty(values.size, dtype=np.float64)
    for g in range(ptr.size - 1):
        s = 0.0
        for k in range(ptr[g], ptr[g + 1]):
            e = order[k]
            s += values[e]
            out[e] = s
    return out


@njit(cache=True)
def _in_stop(stop: np.ndarray, v: int) -> bool:
    if stop.size == 0:
        return False
    k = np.searchsorted(stop, v)
    return bool(k < stop.size and stop[k] == v)


@njit(cache=True)
def _is_stop(mask: np.ndarray, stop: np.ndarray, v: int) -> bool:
    """``v`` is in the stop set: marked in ``mask`` (one byte per node, or empty) or in
    the sorted ``stop``. One load for the large base set, not a binary search over it."""
    if mask.size > 0 and mask[v] != 0:
        return True
    return _in_stop(stop, v)


@njit(cache=True)
def _through(
    out_ptr: np.ndarray,
    out_cum: np.ndarray,
    in_ptr: np.ndarray,
    in_eid: np.ndarray,
    in_cum: np.ndarray,
    v: int,
) -> float:
    """What passed through ``v`` in all: the larger of its total in and total out (out
    exceeds in where income is no flow, such as a miner's block rewards)."""
    total_in = in_cum[in_eid[in_ptr[v + 1] - 1]] if in_ptr[v + 1] > in_ptr[v] else 0.0
    total_out = out_cum[out_ptr[v + 1] - 1] if out_ptr[v + 1] > out_ptr[v] else 0.0
    return float(max(total_in, total_out))


@njit(cache=True)
def _fit(a: np.ndarray, n: int) -> np.ndarray:
    """``a``, or a copy with room for at least ``n`` entries (its first ones kept)."""
    if n <= a.size:
        return a
    b = np.empty(max(n, 2 * a.size), dtype=a.dtype)
    b[: a.size] = a
    return b


@njit(cache=True)
def _room(
    ed_id: np.ndarray,
    ed_amt: np.ndarray,
    ed_hop: np.ndarray,
    ed_near: np.ndarray,
    ed_far: np.ndarray,
    ed_a: np.ndarray,
    nd_id: np.ndarray,
    nd_hop: np.ndarray,
    nd_parent: np.ndarray,
    nd_done: np.ndarray,
    n_ed: int,
    n_nd: int,
    more: int,
) -> tuple[
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
]:
    """The edge and node arrays with room for ``more`` of each."""
    return (
        _fit(ed_id, n_ed + more),
        _fit(ed_amt, n_ed + more),
        _fit(ed_hop, n_ed + more),
        _fit(ed_near, n_ed + more),
        _fit(ed_far, n_ed + more),
        _fit(ed_a, n_ed + more),
        _fit(nd_id, n_nd + more),
        _fit(nd_hop, n_nd + more),
        _fit(nd_parent, n_nd + more),
        _fit(nd_done, n_nd + more),
    )


@njit(cache=True)
def _room_frontier(
    nodes: np.ndarray,
    delta: np.ndarray,
    when: np.ndarray,
    edges: np.ndarray,
    edge_delta: np.ndarray,
    more: int,
    fifo: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The next frontier's arrays with room for ``more`` entries (FIFO: and flows)."""
    if fifo:
        edges = _fit(edges, more)
        edge_delta = _fit(edge_delta, more)
    return _fit(nodes, more), _fit(delta, more), _fit(when, more), edges, edge_delta


@njit(cache=True)
def _fifo_step(
    out_ptr: np.ndarray,
    e_src: np.ndarray,
    e_dst: np.ndarray,
    e_time: np.ndarray,
    e_amount: np.ndarray,
    e_out: np.ndarray,
    out_cum: np.ndarray,
    in_ptr: np.ndarray,
    in_eid: np.ndarray,
    in_cum: np.ndarray,
    fr_edges: np.ndarray,
    fr_edge_delta: np.ndarray,
    n_fe: int,
    stop: np.ndarray,
    stop_mask: np.ndarray,
    forward: bool,
    min_value: float,
    since: int,
    until: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """FIFO's next level: the flows out of (forward) or into (backward) each tainted
    flow's node that overlap its stretch of the node's queue, one entry per edge."""
    new_edges = np.empty(max(16, 2 * n_fe), dtype=np.int64)
    new_delta = np.empty(new_edges.size, dtype=np.float64)
    n_new = 0
    for k in range(n_fe):
        e = fr_edges[k]
        f_delta = fr_edge_delta[k]
        if forward:
            v = e_dst[e]
            if _is_stop(stop_mask, stop, v):
                continue
            amt = e_out[e]
            hi_ = in_cum[e]
            lo_ = hi_ - amt
            dens = f_delta / amt
            # out-edges of v overlapping [lo_, hi_) of its outgoing positions
            a, b = out_ptr[v], out_ptr[v + 1]
            while a < b:
                mid = (a + b) // 2
                if out_cum[mid] <= lo_:
                    a = mid + 1
                else:
                    b = mid
            j = a
            while j < out_ptr[v + 1] and out_cum[j] - e_amount[j] < hi_:
                top = min(hi_, out_cum[j])
                bottom = max(lo_, out_cum[j] - e_amount[j])
                t = (top - bottom) * dens
                if t >= min_value and t > 0 and since <= e_time[j] <= until:
                    if n_new >= new_edges.size:
                        new_edges = _grow(new_edges)
                        new_delta = _grow(new_delta)
                    new_edges[n_new] = j
                    new_delta[n_new] = t
                    n_new += 1
                j += 1
        else:
            u = e_src[e]
            if _is_stop(stop_mask, stop, u):
                continue
            amt = e_amount[e]
            hi_ = out_cum[e]
            lo_ = hi_ - amt
            dens = f_delta / amt
            a, b = in_ptr[u], in_ptr[u + 1]
            while a < b:
                mid = (a + b) // 2
                if in_cum[in_eid[mid]] <= lo_:
                    a = mid + 1
                else:
                    b = mid
            p = a
            while p < in_ptr[u + 1]:
                i = in_eid[p]
                if in_cum[i] - e_out[i] >= hi_:
                    break
                top = min(hi_, in_cum[i])
                bottom = max(lo_, in_cum[i] - e_out[i])
                t = (top - bottom) * dens * e_amount[i] / e_out[i]
                if t >= min_value and t > 0 and since <= e_time[i] <= until:
                    if n_new >= new_edges.size:
                        new_edges = _grow(new_edges)
                        new_delta = _grow(new_delta)
                    new_edges[n_new] = i
                    new_delta[n_new] = t
                    n_new += 1
                p += 1
    n_new = _merge(new_edges, new_delta, n_new)
    return new_edges, new_delta, n_new


@njit(cache=True)
def propagate(
    out_ptr: np.ndarray,
    e_src: np.ndarray,
    e_dst: np.ndarray,
    e_time: np.ndarray,
    e_amount: np.ndarray,
    e_out: np.ndarray,
    out_cum: np.ndarray,
    in_ptr: np.ndarray,
    in_eid: np.ndarray,
    in_cum: np.ndarray,
    seed_edges: np.ndarray,
    seed_amounts: np.ndarray,
    stop: np.ndarray,
    stop_mask: np.ndarray,
    forward: bool,
    model: int,
    hops: int,
    min_value: float,
    since: int,
    until: int,
    respect_time: bool,
    max_edges: int,
    node_slot: np.ndarray,
    edge_slot: np.ndarray,
    fr_level: np.ndarray,
    fr_index: np.ndarray,
    work_i: np.ndarray,
    work_f: np.ndarray,
    in_src: np.ndarray,
    in_time: np.ndarray,
    in_amount: np.ndarray,
) -> tuple[
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    bool,
]:
    """Spread the seeds' amounts through the graph, ``hops`` edges deep at most.

    A node is a stop when ``stop_mask[v]`` (one byte per node; may be empty) is set or
    it is in the sorted ``stop``. ``node_slot``, ``fr_level``, ``fr_index`` (one per
    node) and ``edge_slot`` (one per edge) are scratch arrays filled with -1; they are -1
    again on return (only what the trace touched is reset, so a call costs what it
    reaches).

    Level by level: the flows a level's nodes pass on (haircut and poison: counted first,
    so that the arrays are made large enough once per level; no array is replaced inside
    a loop, where numba's reference counting would cost more than the work) are recorded
    as they are found, in the order of the frontier and of each node's flows. Backward,
    a node's in-edges are read from ``in_src``, ``in_time``, ``in_amount`` (the edges'
    source, time and amount in in-edge order; see ``graph``). ``work_i`` / ``work_f``:
    the scratch set's work rows, used as the working arrays where they are long enough.

    Returns (edge ids, attributed amount on each in the source's asset, hop of each, the
    place among the nodes of each one's near end (its source forward, its destination
    backward) and far end, its amount (``e_amount``), node ids, hop of each, the edge
    that first reached each node or -1, truncated)."""
    n_seed = seed_edges.size
    cap = max(16, 2 * n_seed)
    ed_id = _fit(work_i[0], cap)
    ed_amt = _fit(work_f[0], cap)
    ed_hop = _fit(work_i[1], cap)
    ed_near = _fit(work_i[22], cap)  # per edge: its near end's place among the nodes
    ed_far = _fit(work_i[23], cap)  # and its far end's
    ed_a = _fit(work_f[9], cap)  # and its amount (``e_amount``)
    nd_id = _fit(work_i[2], cap)
    nd_hop = _fit(work_i[3], cap)
    nd_parent = _fit(work_i[4], cap)
    nd_done = _fit(work_i[5], cap)  # poison: the time it was expanded with
    n_ed = 0
    n_nd = 0
    big = np.int64(1) << np.int64(62)
    def_time = -big if forward else big

    # origin nodes (hop 0)
    for k in range(n_seed):
        e = seed_edges[k]
        o = e_src[e] if forward else e_dst[e]
        if node_slot[o] < 0:
            node_slot[o] = n_nd
            nd_id[n_nd] = o
            nd_hop[n_nd] = 0
            nd_parent[n_nd] = -1
            nd_done[n_nd] = def_time
            n_nd += 1

    # a level's frontier (read) and the next one (written); FIFO: the flows that reached it
    fr_nodes = _fit(work_i[6], cap)
    fr_delta = _fit(work_f[1], cap)
    fr_time = _fit(work_i[7], cap)
    nx_nodes = _fit(work_i[8], cap)
    nx_delta = _fit(work_f[2], cap)
    nx_time = _fit(work_i[9], cap)
    fe_cap = cap if model == FIFO else 0
    fr_edges = _fit(work_i[10], fe_cap)
    fr_edge_delta = _fit(work_f[3], fe_cap)
    nx_edges = _fit(work_i[11], fe_cap)
    nx_edge_delta = _fit(work_f[4], fe_cap)
    # what a level passes on: per frontier node a range of its flows and its share of
    # them, or (``listed``: the seeds, FIFO's pieces) one range over a list of flows
    ex_lo = _fit(work_i[12], cap)
    ex_hi = _fit(work_i[13], cap)
    ex_share = _fit(work_f[5], cap)
    ex_lo[0] = 0
    ex_hi[0] = n_seed
    ex_share[0] = 1.0
    list_e = seed_edges
    list_d = seed_amounts
    listed = True
    n_src = 1
    room = n_seed
    truncated = False
    hop = 1
    while True:
        # room for this level's flows: each adds at most one edge, node and frontier entry
        ed_id, ed_amt, ed_hop, ed_near, ed_far, ed_a, nd_id, nd_hop, nd_parent, nd_done = _room(
            ed_id, ed_amt, ed_hop, ed_near, ed_far, ed_a, nd_id, nd_hop, nd_parent, nd_done,
            n_ed, n_nd, room,
        )  # fmt: skip
        nx_nodes, nx_delta, nx_time, nx_edges, nx_edge_delta = _room_frontier(
            nx_nodes, nx_delta, nx_time, nx_edges, nx_edge_delta, room, model == FIFO
        )
        # record the level's flows (one copy of this loop, no array replaced in it:
        # numba's reference counting would cost more than the work)
        n_fr = 0
        n_fe = 0
        n_vis = 0
        for k in range(n_src):
            share = ex_share[k]
            near = -1 if listed else node_slot[fr_nodes[k]]
            for p in range(ex_lo[k], ex_hi[k]):
                if listed:
                    e = list_e[p]
                    d = list_d[p]
                    t_e = e_time[e]
                    a_e = e_amount[e]
                    v = e_dst[e] if forward else e_src[e]
                    near = node_slot[e_src[e] if forward else e_dst[e]]
                elif forward:  # out-edges are edge ids
                    e = p
                    t_e = e_time[e]
                    if t_e < since or t_e > until:
                        continue
                    a_e = e_amount[e]
                    d = a_e * share
                    if d < min_value or d <= 0:
                        continue
                    v = e_dst[e]
                else:  # in-edges: their copies in in-edge order (read in a row)
                    t_e = in_time[p]
                    if t_e < since or t_e > until:
                        continue
                    a_e = in_amount[p]
                    d = a_e * share
                    if d < min_value or d <= 0:
                        continue
                    e = in_eid[p]
                    v = in_src[p]
                n_vis += 1
                s = edge_slot[e]
                if s >= 0 and model == POISON:
                    continue
                if node_slot[v] < 0:
                    node_slot[v] = n_nd
                    nd_id[n_nd] = v
                    nd_hop[n_nd] = hop
                    nd_parent[n_nd] = e
                    nd_done[n_nd] = def_time
                    n_nd += 1
                if s >= 0:
                    ed_amt[s] += d
                else:
                    edge_slot[e] = n_ed
                    ed_id[n_ed] = e
                    ed_amt[n_ed] = d
                    ed_hop[n_ed] = hop
                    ed_near[n_ed] = near
                    ed_far[n_ed] = node_slot[v]
                    ed_a[n_ed] = a_e
                    n_ed += 1
                dv = d * e_out[e] / a_e if forward else d
                if fr_level[v] != hop:
                    fr_level[v] = hop
                    fr_index[v] = n_fr
                    nx_nodes[n_fr] = v
                    nx_delta[n_fr] = 0.0
                    nx_time[n_fr] = t_e
                    n_fr += 1
                f = fr_index[v]
                nx_delta[f] += dv
                if forward:
                    if t_e < nx_time[f]:
                        nx_time[f] = t_e
                elif t_e > nx_time[f]:
                    nx_time[f] = t_e
                if model == FIFO:
                    nx_edges[n_fe] = e
                    nx_edge_delta[n_fe] = dv
                    n_fe += 1
        if n_vis == 0 or hop >= hops:
            break
        if n_ed > max_edges:
            truncated = True
            break
        # the level just recorded is the next frontier
        fr_nodes, nx_nodes = nx_nodes, fr_nodes
        fr_delta, nx_delta = nx_delta, fr_delta
        fr_time, nx_time = nx_time, fr_time
        fr_edges, nx_edges = nx_edges, fr_edges
        fr_edge_delta, nx_edge_delta = nx_edge_delta, fr_edge_delta
        hop += 1
        if model == FIFO:
            list_e, list_d, n_new = _fifo_step(
                out_ptr, e_src, e_dst, e_time, e_amount, e_out, out_cum, in_ptr, in_eid, in_cum,
                fr_edges, fr_edge_delta, n_fe, stop, stop_mask, forward, min_value, since,
                until,
            )  # fmt: skip
            listed = True
            n_src = 1
            ex_lo[0] = 0
            ex_hi[0] = n_new
            room = n_new
            continue
        listed = False
        n_src = n_fr
        ex_lo = _fit(ex_lo, n_fr)
        ex_hi = _fit(ex_hi, n_fr)
        ex_share = _fit(ex_share, n_fr)
        room = 0
        for k in range(n_fr):
            v = fr_nodes[k]
            ex_lo[k] = 0
            ex_hi[k] = 0
            # (_is_stop, _through and the time searches written out: a call with array
            # arguments costs reference counts per frontier node)
            if stop_mask.size > 0 and stop_mask[v] != 0:
                continue
            if stop.size > 0:
                a = 0
                b = stop.size
                while a < b:
                    mid = (a + b) // 2
                    if stop[mid] < v:
                        a = mid + 1
                    else:
                        b = mid
                if a < stop.size and stop[a] == v:
                    continue
            x = fr_delta[k]
            t_v = fr_time[k]
            if model == POISON:
                s = node_slot[v]
                if forward:
                    if nd_done[s] != def_time and nd_done[s] <= t_v:
                        continue
                elif nd_done[s] != def_time and nd_done[s] >= t_v:
                    continue
                nd_done[s] = t_v
            share = 1.0
            if forward:
                lo = out_ptr[v]
                hi = out_ptr[v + 1]
                if respect_time:  # the first out-edge at or after t_v
                    b = hi
                    while lo < b:
                        mid = (lo + b) // 2
                        if e_time[mid] < t_v:
                            lo = mid + 1
                        else:
                            b = mid
                if model == HAIRCUT:
                    # what passed through v: the larger of its total in and total out
                    total = out_cum[hi - 1] if hi > out_ptr[v] else 0.0
                    if in_ptr[v + 1] > in_ptr[v]:
                        total = max(total, in_cum[in_eid[in_ptr[v + 1] - 1]])
                    if total <= 0:
                        continue
                    share = min(1.0, x / total)
            else:
                lo = in_ptr[v]
                hi = in_ptr[v + 1]
                if respect_time:  # one past the last in-edge at or before t_v
                    a = lo
                    while a < hi:
                        mid = (a + hi) // 2
                        if in_time[mid] <= t_v:
                            a = mid + 1
                        else:
                            hi = mid
                if hi <= lo:
                    continue
                if model == HAIRCUT:
                    denom = in_cum[in_eid[hi - 1]]
                    if denom <= 0:
                        continue
                    share = min(1.0, x / denom)
            ex_lo[k] = lo
            ex_hi[k] = hi
            ex_share[k] = share
            room += hi - lo
    for k in range(n_ed):
        edge_slot[ed_id[k]] = -1
    for k in range(n_nd):
        v = nd_id[k]
        node_slot[v] = -1
        fr_level[v] = -1
    return (
        ed_id[:n_ed],
        ed_amt[:n_ed],
        ed_hop[:n_ed],
        ed_near[:n_ed],
        ed_far[:n_ed],
        ed_a[:n_ed],
        nd_id[:n_nd],
        nd_hop[:n_nd],
        nd_parent[:n_nd],
        truncated,
    )


@njit(cache=True)
def _grow(a: np.ndarray) -> np.ndarray:
    b = np.empty(2 * a.size + 16, dtype=a.dtype)
    b[: a.size] = a
    return b


@njit(cache=True)
def _merge(edges: np.ndarray, deltas: np.ndarray, n: int) -> int:
    """One entry per edge among the first ``n`` (summing, in place), so that FIFO pieces
    of one edge count once. Returns the new count."""
    seen = Dict.empty(key_type=types.int64, value_type=types.int64)
    m = 0
    for k in range(n):
        e = edges[k]
        if e in seen:
            deltas[seen[e]] += deltas[k]
        else:
            seen[e] = m
            edges[m] = e
            deltas[m] = deltas[k]
            m += 1
    return m


@njit(cache=True)
def bfs_paths(
    out_ptr: np.ndarray,
    e_src: np.ndarray,
    e_dst: np.ndarray,
    e_time: np.ndarray,
    e_amount: np.ndarray,
    sources: np.ndarray,
    targets: np.ndarray,
    hops: int,
    min_value: float,
    since: int,
    until: int,
    by_value: bool,
    stop: np.ndarray,
    max_nodes: int,
) -> tuple[np.ndarray, float]:
    """The edges of the best path from any source to any target, at most ``hops`` long.

    ``by_value`` False: fewest hops (breadth first). True: the path whose smallest edge is
    largest (widest path, by rounds of relaxation, one per hop). Returns (edge ids in
    order, bottleneck value); no path: an empty array."""
    tgt = Dict.empty(key_type=types.int64, value_type=types.int64)
    for k in range(targets.size):
        tgt[targets[k]] = 1
    # per (node): best width, and the edge that set it, per round
    width = Dict.empty(key_type=types.int64, value_type=types.float64)
    parent = Dict.empty(key_type=types.int64, value_type=types.int64)
    depth = Dict.empty(key_type=types.int64, value_type=types.int64)
    frontier = List.empty_list(types.int64)
    inf = np.inf
    for k in range(sources.size):
        s = sources[k]
        width[s] = inf
        parent[s] = -1
        depth[s] = 0
        frontier.append(s)
    best_node = -1
    best_width = -1.0
    for h in range(1, hops + 1):
        nxt = List.empty_list(types.int64)
        queued = Dict.empty(key_type=types.int64, value_type=types.int64)
        for k in range(len(frontier)):
            v = frontier[k]
            if depth[v] > 0 and _in_stop(stop, v):
                continue
            wv = width[v]
            for j in range(out_ptr[v], out_ptr[v + 1]):
                if e_amount[j] < min_value or e_time[j] < since or e_time[j] > until:
                    continue
                d = e_dst[j]
                w = min(wv, e_amount[j])
                if d in width:
                    if not by_value or width[d] >= w or depth[d] == 0:
                        continue
                width[d] = w
                parent[d] = j
                depth[d] = h
                if d in tgt:
                    if w > best_width:
                        best_width = w
                        best_node = d
                elif d not in queued:
                    queued[d] = 1
                    nxt.append(d)
        if best_node >= 0 and not by_value:
            break
        if len(width) > max_nodes:
            break
        frontier = nxt
        if len(frontier) == 0:
            break
    if best_node < 0:
        return np.empty(0, dtype=np.int64), 0.0
    path = List.empty_list(types.int64)
    v = best_node
    guard = 0
    while parent[v] >= 0 and guard <= hops:
        e = parent[v]
        path.append(e)
        v = e_src[e]
        guard += 1
    out = np.empty(len(path), dtype=np.int64)
    for k in range(len(path)):
        out[k] = path[len(path) - 1 - k]
    return out, best_width


@njit(cache=True)
def _category(nodes: np.ndarray, values: np.ndarray, v: int) -> int:
    if nodes.size == 0:
        return -1
    k = np.searchsorted(nodes, v)
    if k < nodes.size and nodes[k] == v:
        return int(values[k])
    return -1


@njit(cache=True)
def bulk_exposure(
    out_ptr: np.ndarray,
    e_src: np.ndarray,
    e_dst: np.ndarray,
    e_amount: np.ndarray,
    e_out: np.ndarray,
    in_ptr: np.ndarray,
    in_eid: np.ndarray,
    in_cum: np.ndarray,
    out_cum: np.ndarray,
    starts: np.ndarray,
    start_ptr: np.ndarray,
    cat_nodes: np.ndarray,
    cat_values: np.ndarray,
    node_key: np.ndarray,
    stop: np.ndarray,
    n_categories: int,
    forward: bool,
    hops: int,
    min_share: float,
) -> np.ndarray:
    """Haircut exposure of many subjects at once, time order ignored: ``out[s, c]`` is
    the share of subject ``s``'s outgoing (``forward``) or incoming flows that reached,
    or came from, nodes of category ``c`` (``cat_nodes`` sorted, ``cat_values`` their
    categories), ``hops`` deep at most; a node with a category, or in ``stop``, ends the
    walk. Subject ``s`` is the nodes ``starts[start_ptr[s]:start_ptr[s + 1]]``. The same
    rules as ``propagate`` with the haircut model. A share is of one asset: only what
    reaches labelled nodes of the subject's own ``node_key`` (chain and asset; the key of
    its first node) counts, as in ``exposure`` (where other assets have no total)."""
    n = start_ptr.size - 1
    out = np.zeros((n, n_categories), dtype=np.float64)
    for s in range(n):
        members = Dict.empty(key_type=types.int64, value_type=types.int64)
        for k in range(start_ptr[s], start_ptr[s + 1]):
            members[starts[k]] = 1
        frontier = Dict.empty(key_type=types.int64, value_type=types.float64)
        total = 0.0
        # hop 1: the subject's flows to (from) others, whole
        for k in range(start_ptr[s], start_ptr[s + 1]):
            v = starts[k]
            if forward:
                for j in range(out_ptr[v], out_ptr[v + 1]):
                    d = e_dst[j]
                    if d in members:
                        continue
                    total += e_amount[j]
                    frontier[d] = frontier.get(d, 0.0) + e_out[j]
            else:
                for p in range(in_ptr[v], in_ptr[v + 1]):
                    i = in_eid[p]
                    u = e_src[i]
                    if u in members:
                        continue
                    total += e_out[i]
                    frontier[u] = frontier.get(u, 0.0) + e_amount[i]
        if total <= 0:
            continue
        own = node_key[starts[start_ptr[s]]]
        limit = min_share * total
        for h in range(hops):
            nxt = Dict.empty(key_type=types.int64, value_type=types.float64)
            for v, x in frontier.items():
                c = _category(cat_nodes, cat_values, v)
                if c >= 0:
                    if node_key[v] == own:
                        out[s, c] += x
                    continue
                if h == hops - 1 or _in_stop(stop, v):
                    continue
                if forward:
                    denom = _through(out_ptr, out_cum, in_ptr, in_eid, in_cum, v)
                elif in_ptr[v + 1] > in_ptr[v]:
                    denom = in_cum[in_eid[in_ptr[v + 1] - 1]]
                else:
                    denom = 0.0
                if denom <= 0:
                    continue
                share = min(1.0, x / denom)
                if forward:
                    for j in range(out_ptr[v], out_ptr[v + 1]):
                        d = e_dst[j]
                        t = e_amount[j] * share
                        if d in members or t < limit or t <= 0:
                            continue
                        nxt[d] = nxt.get(d, 0.0) + t * e_out[j] / e_amount[j]
                else:
                    for p in range(in_ptr[v], in_ptr[v + 1]):
                        i = in_eid[p]
                        u = e_src[i]
                        t = e_amount[i] * share
                        if u in members or t < limit or t <= 0:
                            continue
                        nxt[u] = nxt.get(u, 0.0) + t
            frontier = nxt
            if len(frontier) == 0:
                break
        for c in range(n_categories):
            out[s, c] /= total
    return out


@njit(cache=True)
def finish_small(
    e_src: np.ndarray,
    e_dst: np.ndarray,
    edges: np.ndarray,
    attributed: np.ndarray,
    amount: np.ndarray,
    out: np.ndarray,
    nodes: np.ndarray,
    hops: np.ndarray,
    forward: bool,
    conserve: bool,
    nudge: float,
    node_slot: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The integer amounts of a trace whose amounts are all below 2**53 (and whose sums
    fit int64): ``floor`` of each edge's attribution (source and destination side), the
    conservation trim (``engine._conserve``) and the node amounts. ``node_slot`` is the
    scratch array (-1), left -1."""
    m = edges.size
    n = nodes.size
    for k in range(n):
        node_slot[nodes[k]] = k
    near = np.empty(m, dtype=np.int64)
    far = np.empty(m, dtype=np.int64)
    for k in range(m):
        s = node_slot[e_src[edges[k]]]
        d = node_slot[e_dst[edges[k]]]
        if forward:
            near[k], far[k] = s, d
        else:
            near[k], far[k] = d, s
    for k in range(n):
        node_slot[nodes[k]] = -1
    a_in = np.empty(m, dtype=np.int64)
    a_out = np.empty(m, dtype=np.int64)
    node_amount = np.empty(n, dtype=np.int64)
    work = np.empty((WORK_ROWS, max(m, n) + 1), dtype=np.int64)
    _finish(
        near, far, attributed, amount, out, hops, forward, conserve, nudge, a_in, a_out,
        node_amount, work,
    )  # fmt: skip
    return a_in, a_out, node_amount


@njit(cache=True)
def _finish(
    near: np.ndarray,
    far: np.ndarray,
    attributed: np.ndarray,
    amount: np.ndarray,
    out: np.ndarray,
    hops: np.ndarray,
    forward: bool,
    conserve: bool,
    nudge: float,
    a_in: np.ndarray,
    a_out: np.ndarray,
    node_amount: np.ndarray,
    work: np.ndarray,
) -> None:
    """``finish_small`` into ``a_in``, ``a_out`` (per edge) and ``node_amount``, given each
    edge's near and far end (places among the nodes: source and destination forward, the
    other way backward), with the rows of ``work`` (int64, ``_W_FINISH`` on) as its
    arrays where they are long enough."""
    n = hops.size
    m = near.size
    for k in range(m):
        frac = attributed[k] / amount[k] if amount[k] > 0 else 0.0
        frac = min(1.0, max(0.0, frac) * nudge)
        a_in[k] = np.int64(min(np.floor(frac * amount[k]), amount[k]))
        a_out[k] = np.int64(min(np.floor(frac * out[k]), out[k]))
    side = a_in if forward else a_out
    other = a_out if forward else a_in
    got = _fit(work[_W_FINISH + 2], n)
    passed = _fit(work[_W_FINISH + 3], n)
    if conserve and m > 0:
        # each node's edges (a stable counting sort by near end)
        start = _fit(work[_W_FINISH + 4], n + 1)
        start[: n + 1] = 0
        for k in range(m):
            start[near[k] + 1] += 1
        for v in range(n):
            start[v + 1] += start[v]
        order = _fit(work[_W_FINISH + 5], m)
        fill = _fit(work[_W_FINISH + 6], n)
        fill[:n] = start[:n]
        for k in range(m):
            order[fill[near[k]]] = k
            fill[near[k]] += 1
        for _ in range(8):
            got[:n] = 0
            passed[:n] = 0
            for k in range(m):
                got[far[k]] += other[k]
                passed[near[k]] += side[k]
            changed = False
            for v in range(n):
                if hops[v] == 0 or passed[v] <= got[v]:
                    continue
                if _trim(order[start[v] : start[v + 1]], side, a_in, a_out, passed[v] - got[v],
                         forward):  # fmt: skip
                    changed = True
            if not changed:
                break
    got[:n] = 0  # what each node received of the traced funds: total
    passed[:n] = 0  # what it passed on: origin
    for k in range(m):
        got[far[k]] += other[k]
        passed[near[k]] += side[k]
    for v in range(n):
        node_amount[v] = passed[v] if hops[v] == 0 else got[v]


@njit(cache=True)
def _trim(
    ks: np.ndarray,
    side: np.ndarray,
    a_in: np.ndarray,
    a_out: np.ndarray,
    excess: int,
    forward: bool,
) -> bool:
    """Cut ``excess`` off a node's edges ``ks``, largest first (``finish_small``; ``side``
    is ``a_in`` forward, ``a_out`` backward). Returns whether an edge changed."""
    changed = False
    by_size = ks[np.argsort(-side[ks], kind="mergesort")]
    for k in by_size:
        if excess <= 0:
            break
        old = side[k]
        cut = min(excess, old)
        if cut <= 0:
            continue
        new = old - cut
        if a_in[k] == a_out[k]:
            a_in[k] = new
            a_out[k] = new
        elif forward:
            a_in[k] = new
            a_out[k] = np.int64(np.floor(a_out[k] * (new / old)))
        else:
            a_out[k] = new
            a_in[k] = np.int64(np.floor(a_in[k] * (new / old)))
        excess -= cut
        changed = True
    return changed


@njit(cache=True)
def finish_checked(
    e_out: np.ndarray,
    e_hi: np.ndarray,
    edges: np.ndarray,
    near: np.ndarray,
    far: np.ndarray,
    amount: np.ndarray,
    attributed: np.ndarray,
    hops: np.ndarray,
    forward: bool,
    conserve: bool,
    nudge: float,
    exact_limit: float,
    sum_limit: float,
    a_in: np.ndarray,
    a_out: np.ndarray,
    node_amount: np.ndarray,
    work: np.ndarray,
    work_f: np.ndarray,
) -> bool:
    """``finish_small`` into ``a_in``, ``a_out`` and ``node_amount`` when every amount of
    these edges is below ``exact_limit`` (2**53: exact in float64), none has a high part
    and the sums stay below ``sum_limit``; otherwise False (the arrays not all written)
    and the caller takes the exact path. ``near`` / ``far`` / ``amount``: each edge's ends
    (places among the nodes, as ``propagate`` gives them) and ``e_amount``; ``work`` /
    ``work_f``: the scratch rows. One compiled call instead of a dozen array operations:
    a small trace costs what it touches."""
    m = edges.size
    out = _fit(work_f[_WF_FINISH + 1], m)
    s_in = 0.0
    s_out = 0.0
    for k in range(m):
        e = edges[k]
        a = amount[k]
        o = float(e_out[e])
        if e_hi[e] != 0 or a >= exact_limit or o >= exact_limit:
            return False
        out[k] = o
        s_in += a
        s_out += o
    if s_in >= sum_limit or s_out >= sum_limit:
        return False
    _finish(
        near, far, attributed, amount, out, hops, forward, conserve, nudge, a_in, a_out,
        node_amount, work,
    )  # fmt: skip
    return True


@njit(cache=True)
def seed_edges(
    out_ptr: np.ndarray,
    in_ptr: np.ndarray,
    in_eid: np.ndarray,
    e_src: np.ndarray,
    e_dst: np.ndarray,
    e_time: np.ndarray,
    e_kind: np.ndarray,
    nodes: np.ndarray,
    forward: bool,
    since: int,
    until: int,
) -> np.ndarray:
    """``engine.address_seeds`` before its asset filter: the flows of the (sorted, distinct)
    ``nodes`` out to (forward) or in from (backward) nodes outside them, swaps included,
    in the time window; sorted edge ids."""
    ptr = out_ptr if forward else in_ptr
    count = 0
    for k in range(nodes.size):
        v = nodes[k]
        count += ptr[v + 1] - ptr[v]
    found = np.empty(count, dtype=np.int64)
    n = 0
    for k in range(nodes.size):
        v = nodes[k]
        for p in range(ptr[v], ptr[v + 1]):
            e = p if forward else in_eid[p]
            t = e_time[e]
            if t < since or t > until:
                continue
            if e_kind[e] == 0:
                other = e_dst[e] if forward else e_src[e]
                j = np.searchsorted(nodes, other)
                if j < nodes.size and nodes[j] == other:
                    continue  # a flow among the subject's own positions
            found[n] = e
            n += 1
    return np.unique(found[:n])


@njit(cache=True)
def _seeds_into(
    found: np.ndarray,
    out_ptr: np.ndarray,
    in_ptr: np.ndarray,
    in_eid: np.ndarray,
    e_src: np.ndarray,
    e_dst: np.ndarray,
    e_time: np.ndarray,
    e_kind: np.ndarray,
    nodes: np.ndarray,
    forward: bool,
    since: int,
    until: int,
) -> np.ndarray:
    """``seed_edges`` into ``found`` (or a larger copy): the seeds, sorted. (No edge is
    found twice: each is one node's in- or out-edge, and the nodes are distinct.)"""
    ptr = out_ptr if forward else in_ptr
    count = 0
    for k in range(nodes.size):
        v = nodes[k]
        count += ptr[v + 1] - ptr[v]
    found = _fit(found, count)
    n = 0
    for k in range(nodes.size):
        v = nodes[k]
        for p in range(ptr[v], ptr[v + 1]):
            e = p if forward else in_eid[p]
            t = e_time[e]
            if t < since or t > until:
                continue
            if e_kind[e] == 0:
                other = e_dst[e] if forward else e_src[e]
                a = 0
                b = nodes.size
                while a < b:
                    mid = (a + b) // 2
                    if nodes[mid] < other:
                        a = mid + 1
                    else:
                        b = mid
                if a < nodes.size and nodes[a] == other:
                    continue  # a flow among the subject's own positions
            found[n] = e
            n += 1
    seeds = found[:n]
    seeds.sort()
    return seeds


# nogil: a server's other threads (the event loop, other screenings) go on while a trace
# runs; each concurrent trace has its own scratch set and the graph's arrays are only read
@njit(cache=True, nogil=True)
def trace_run(
    g: tuple[np.ndarray, ...],
    node_slot: np.ndarray,
    edge_slot: np.ndarray,
    fr_level: np.ndarray,
    fr_index: np.ndarray,
    work_i: np.ndarray,
    work_f: np.ndarray,
    starts: np.ndarray,
    from_nodes: bool,
    asset: int,
    by_asset: bool,
    stop: np.ndarray,
    stop_mask: np.ndarray,
    forward: bool,
    model: int,
    hops: int,
    min_value: float,
    since: int,
    until: int,
    respect_time: bool,
    max_edges: int,
    nudge: float,
    exact_limit: float,
    sum_limit: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, bool]:
    """A whole trace in one compiled call: the seeds (``from_nodes``: the flows of the
    nodes ``starts``, as ``seed_edges``, of ``asset`` when ``by_asset``; otherwise
    ``starts`` are the seed edges), ``propagate`` and ``finish_checked``.

    ``g`` is ``FlowGraph.kernel_arrays()``; ``work_i`` / ``work_f`` the scratch set's
    work rows (``FlowGraph.take_scratch``: its working arrays, so that a small trace
    allocates only what it returns). One call and three arrays back, not a dozen of
    each: for a small trace the calls cost more than the work. Returns (per edge rows:
    edge ids, hops, integer amount in, integer amount out; per node rows: node ids, hops,
    parent edges, integer amounts; the float attributions; truncated; small). Not small
    (some amount passes ``exact_limit`` or a sum ``sum_limit``): the integer rows are 0
    and the caller takes the exact path."""
    out_ptr, in_ptr, in_eid, e_src, e_dst, e_time, e_kind = g[0], g[1], g[2], g[3], g[4], g[5], g[6]
    e_amount, e_out, out_cum, in_cum, e_hi, node_asset = g[7], g[8], g[9], g[10], g[11], g[12]
    in_src, in_time, in_amount = g[13], g[14], g[15]
    if from_nodes:
        if starts.size == 1:
            seeds = _seeds_into(
                work_i[_W_SEEDS], out_ptr, in_ptr, in_eid, e_src, e_dst, e_time, e_kind, starts,
                forward, since, until,
            )  # fmt: skip
        else:
            seeds = _seeds_into(
                work_i[_W_SEEDS], out_ptr, in_ptr, in_eid, e_src, e_dst, e_time, e_kind,
                np.unique(starts), forward, since, until,
            )  # fmt: skip
        if by_asset:
            keep = 0
            for k in range(seeds.size):
                if node_asset[e_src[seeds[k]]] == asset:
                    seeds[keep] = seeds[k]
                    keep += 1
            seeds = seeds[:keep]
    else:
        seeds = starts
    amounts = _fit(work_f[_WF_SEEDS], seeds.size)
    for k in range(seeds.size):
        amounts[k] = e_amount[seeds[k]]
    e, ea, eh, e_near, e_far, e_a, nd, nh, npar, truncated = propagate(
        out_ptr, e_src, e_dst, e_time, e_amount, e_out, out_cum, in_ptr, in_eid, in_cum,
        seeds, amounts[: seeds.size], stop, stop_mask, forward, model, hops, min_value, since,
        until, respect_time, max_edges, node_slot, edge_slot, fr_level, fr_index, work_i,
        work_f, in_src, in_time, in_amount,
    )  # fmt: skip
    m = e.size
    n = nd.size
    edge_rows = np.empty((4, m), dtype=np.int64)
    node_rows = np.empty((4, n), dtype=np.int64)
    edge_rows[0] = e
    edge_rows[1] = eh
    node_rows[0] = nd
    node_rows[1] = nh
    node_rows[2] = npar
    small = finish_checked(
        e_out, e_hi, e, e_near, e_far, e_a, ea, nh, forward, model != POISON, nudge,
        exact_limit, sum_limit, edge_rows[2], edge_rows[3], node_rows[3], work_i, work_f,
    )  # fmt: skip
    if not small:
        edge_rows[2] = 0
        edge_rows[3] = 0
        node_rows[3] = 0
    return edge_rows, node_rows, ea.copy(), truncated, small

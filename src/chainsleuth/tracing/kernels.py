"""The compiled kernels of the tracer (numba, ``cache=True``): propagation and paths.

They take the graph's arrays (see ``graph``) and work on the nodes and edges they reach
only: a trace's state lives in arrays that grow with what it reached, and in scratch
arrays the size of the graph that the caller hands in filled with -1 and gets back so
(made once per graph and concurrent trace: only the slots a trace touched are set and
reset), so a trace costs what it touches and threads may run traces side by side. A
large stop set is a byte per node (made once per set), looked up with one load.

Models (``model``): 0 poison, 1 haircut, 2 FIFO; see ``engine`` for their definitions.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.typed import Dict, List

POISON = 0
HAIRCUT = 1
FIFO = 2


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
def _first_out_at(out_ptr: np.ndarray, e_time: np.ndarray, v: int, t: int) -> int:
    """The first out-edge of ``v`` at or after time ``t`` (out-edges are sorted by time)."""
    lo, hi = out_ptr[v], out_ptr[v + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if e_time[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return int(lo)


@njit(cache=True)
def _last_in_at(in_ptr: np.ndarray, in_eid: np.ndarray, e_time: np.ndarray, v: int, t: int) -> int:
    """One past the last in-edge position of ``v`` at or before time ``t``."""
    lo, hi = in_ptr[v], in_ptr[v + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if e_time[in_eid[mid]] <= t:
            lo = mid + 1
        else:
            hi = mid
    return int(lo)


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
) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool
]:
    """Spread the seeds' amounts through the graph, ``hops`` edges deep at most.

    A node is a stop when ``stop_mask[v]`` (one byte per node; may be empty) is set or
    it is in the sorted ``stop``. ``node_slot``, ``fr_level``, ``fr_index`` (one per
    node) and ``edge_slot`` (one per edge) are scratch arrays filled with -1; they are -1
    again on return (only what the trace touched is reset, so a call costs what it
    reaches).

    Returns (edge ids, attributed amount on each in the source's asset, hop of each,
    node ids, amount of each node in its asset, hop of each, the edge that first reached
    each node or -1, truncated)."""
    cap = max(1024, 4 * seed_edges.size)
    ed_id = np.empty(cap, dtype=np.int64)
    ed_amt = np.empty(cap, dtype=np.float64)
    ed_hop = np.empty(cap, dtype=np.int64)
    n_ed = 0
    nd_id = np.empty(cap, dtype=np.int64)
    nd_amt = np.empty(cap, dtype=np.float64)
    nd_hop = np.empty(cap, dtype=np.int64)
    nd_parent = np.empty(cap, dtype=np.int64)
    nd_done = np.empty(cap, dtype=np.int64)  # poison: the time it was expanded with
    n_nd = 0
    big = np.int64(1) << np.int64(62)
    def_time = -big if forward else big

    # origin nodes (hop 0)
    for k in range(seed_edges.size):
        e = seed_edges[k]
        o = e_src[e] if forward else e_dst[e]
        if node_slot[o] < 0:
            if n_nd >= nd_id.size:
                nd_id, nd_amt, nd_hop, nd_parent, nd_done = _grow_nodes(
                    nd_id, nd_amt, nd_hop, nd_parent, nd_done
                )
            node_slot[o] = n_nd
            nd_id[n_nd] = o
            nd_amt[n_nd] = 0.0
            nd_hop[n_nd] = 0
            nd_parent[n_nd] = -1
            nd_done[n_nd] = def_time
            n_nd += 1
        if forward:
            nd_amt[node_slot[o]] += seed_amounts[k]
        else:
            nd_amt[node_slot[o]] += seed_amounts[k] * e_out[e] / e_amount[e]

    new_edges = np.empty(cap, dtype=np.int64)
    new_delta = np.empty(cap, dtype=np.float64)
    new_edges[: seed_edges.size] = seed_edges
    new_delta[: seed_edges.size] = seed_amounts
    n_new = seed_edges.size
    fr_nodes = np.empty(cap, dtype=np.int64)
    fr_delta = np.empty(cap, dtype=np.float64)
    fr_time = np.empty(cap, dtype=np.int64)
    fr_edges = np.empty(cap, dtype=np.int64)
    fr_edge_delta = np.empty(cap, dtype=np.float64)
    truncated = False
    hop = 1
    while n_new > 0:
        # record this level's edges; gather the nodes they reach (frontier)
        n_fr = 0
        n_fe = 0
        for k in range(n_new):
            e = new_edges[k]
            d = new_delta[k]
            s = edge_slot[e]
            if s >= 0:
                if model == POISON:
                    continue
                ed_amt[s] += d
            else:
                if n_ed >= ed_id.size:
                    ed_id = _grow(ed_id)
                    ed_amt = _grow(ed_amt)
                    ed_hop = _grow(ed_hop)
                edge_slot[e] = n_ed
                ed_id[n_ed] = e
                ed_amt[n_ed] = d
                ed_hop[n_ed] = hop
                n_ed += 1
            if forward:
                v = e_dst[e]
                dv = d * e_out[e] / e_amount[e]
            else:
                v = e_src[e]
                dv = d
            if node_slot[v] < 0:
                if n_nd >= nd_id.size:
                    nd_id, nd_amt, nd_hop, nd_parent, nd_done = _grow_nodes(
                        nd_id, nd_amt, nd_hop, nd_parent, nd_done
                    )
                node_slot[v] = n_nd
                nd_id[n_nd] = v
                nd_amt[n_nd] = 0.0
                nd_hop[n_nd] = hop
                nd_parent[n_nd] = e
                nd_done[n_nd] = def_time
                n_nd += 1
            nd_amt[node_slot[v]] += dv
            if fr_level[v] != hop:
                if n_fr >= fr_nodes.size:
                    fr_nodes = _grow(fr_nodes)
                    fr_delta = _grow(fr_delta)
                    fr_time = _grow(fr_time)
                fr_level[v] = hop
                fr_index[v] = n_fr
                fr_nodes[n_fr] = v
                fr_delta[n_fr] = 0.0
                fr_time[n_fr] = e_time[e]
                n_fr += 1
            f = fr_index[v]
            fr_delta[f] += dv
            if forward:
                if e_time[e] < fr_time[f]:
                    fr_time[f] = e_time[e]
            elif e_time[e] > fr_time[f]:
                fr_time[f] = e_time[e]
            if model == FIFO:
                if n_fe >= fr_edges.size:
                    fr_edges = _grow(fr_edges)
                    fr_edge_delta = _grow(fr_edge_delta)
                fr_edges[n_fe] = e
                fr_edge_delta[n_fe] = dv
                n_fe += 1
        if hop >= hops:
            break
        if n_ed > max_edges:
            truncated = True
            break
        hop += 1
        n_new = 0
        if model == FIFO:
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
            continue
        for k in range(n_fr):
            v = fr_nodes[k]
            if _is_stop(stop_mask, stop, v):
                continue
            x = fr_delta[k]
            t_v = fr_time[k]
            s = node_slot[v]
            if model == POISON:
                if forward:
                    if nd_done[s] != def_time and nd_done[s] <= t_v:
                        continue
                elif nd_done[s] != def_time and nd_done[s] >= t_v:
                    continue
                nd_done[s] = t_v
            if forward:
                start = _first_out_at(out_ptr, e_time, v, t_v) if respect_time else out_ptr[v]
                share = 1.0
                if model == HAIRCUT:
                    total = _through(out_ptr, out_cum, in_ptr, in_eid, in_cum, v)
                    if total <= 0:
                        continue
                    share = min(1.0, x / total)
                for j in range(start, out_ptr[v + 1]):
                    if e_time[j] < since or e_time[j] > until:
                        continue
                    t = e_amount[j] * share
                    if t >= min_value and t > 0:
                        if n_new >= new_edges.size:
                            new_edges = _grow(new_edges)
                            new_delta = _grow(new_delta)
                        new_edges[n_new] = j
                        new_delta[n_new] = t
                        n_new += 1
            else:
                end = _last_in_at(in_ptr, in_eid, e_time, v, t_v) if respect_time else in_ptr[v + 1]
                if end <= in_ptr[v]:
                    continue
                share = 1.0
                if model == HAIRCUT:
                    denom = in_cum[in_eid[end - 1]]
                    if denom <= 0:
                        continue
                    share = min(1.0, x / denom)
                for p in range(in_ptr[v], end):
                    i = in_eid[p]
                    if e_time[i] < since or e_time[i] > until:
                        continue
                    t = e_amount[i] * share
                    if t >= min_value and t > 0:
                        if n_new >= new_edges.size:
                            new_edges = _grow(new_edges)
                            new_delta = _grow(new_delta)
                        new_edges[n_new] = i
                        new_delta[n_new] = t
                        n_new += 1
    for k in range(n_ed):
        edge_slot[ed_id[k]] = -1
    for k in range(n_nd):
        v = nd_id[k]
        node_slot[v] = -1
        fr_level[v] = -1
    return (
        ed_id[:n_ed].copy(),
        ed_amt[:n_ed].copy(),
        ed_hop[:n_ed].copy(),
        nd_id[:n_nd].copy(),
        nd_amt[:n_nd].copy(),
        nd_hop[:n_nd].copy(),
        nd_parent[:n_nd].copy(),
        truncated,
    )


@njit(cache=True)
def _grow(a: np.ndarray) -> np.ndarray:
    b = np.empty(2 * a.size + 16, dtype=a.dtype)
    b[: a.size] = a
    return b


@njit(cache=True)
def _grow_nodes(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, e: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return _grow(a), _grow(b), _grow(c), _grow(d), _grow(e)


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
    n = nodes.size
    m = edges.size
    for k in range(n):
        node_slot[nodes[k]] = k
    near = np.empty(m, dtype=np.int64)
    far = np.empty(m, dtype=np.int64)
    a_in = np.empty(m, dtype=np.int64)
    a_out = np.empty(m, dtype=np.int64)
    for k in range(m):
        e = edges[k]
        s = node_slot[e_src[e]]
        d = node_slot[e_dst[e]]
        if forward:
            near[k], far[k] = s, d
        else:
            near[k], far[k] = d, s
        frac = attributed[k] / amount[k] if amount[k] > 0 else 0.0
        frac = min(1.0, max(0.0, frac) * nudge)
        a_in[k] = np.int64(min(np.floor(frac * amount[k]), amount[k]))
        a_out[k] = np.int64(min(np.floor(frac * out[k]), out[k]))
    side = a_in if forward else a_out
    other = a_out if forward else a_in
    if conserve and m > 0:
        order = np.argsort(near, kind="mergesort")
        start = np.zeros(n + 1, dtype=np.int64)
        for k in range(m):
            start[near[k] + 1] += 1
        for v in range(n):
            start[v + 1] += start[v]
        for _ in range(8):
            got = np.zeros(n, dtype=np.int64)
            passed = np.zeros(n, dtype=np.int64)
            for k in range(m):
                got[far[k]] += other[k]
                passed[near[k]] += side[k]
            changed = False
            for v in range(n):
                if hops[v] == 0 or passed[v] <= got[v]:
                    continue
                excess = passed[v] - got[v]
                ks = order[start[v] : start[v + 1]]
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
            if not changed:
                break
    total = np.zeros(n, dtype=np.int64)
    origin = np.zeros(n, dtype=np.int64)
    for k in range(m):
        total[far[k]] += other[k]
        origin[near[k]] += side[k]
    node_amount = np.empty(n, dtype=np.int64)
    for v in range(n):
        node_amount[v] = origin[v] if hops[v] == 0 else total[v]
        node_slot[nodes[v]] = -1
    return a_in, a_out, node_amount


@njit(cache=True)
def finish_checked(
    e_src: np.ndarray,
    e_dst: np.ndarray,
    e_amount: np.ndarray,
    e_out: np.ndarray,
    e_hi: np.ndarray,
    edges: np.ndarray,
    attributed: np.ndarray,
    nodes: np.ndarray,
    hops: np.ndarray,
    forward: bool,
    conserve: bool,
    nudge: float,
    node_slot: np.ndarray,
    exact_limit: float,
    sum_limit: float,
) -> tuple[bool, np.ndarray, np.ndarray, np.ndarray]:
    """``finish_small`` when every amount of these edges is below ``exact_limit`` (2**53:
    exact in float64), none has a high part and the sums stay below ``sum_limit``;
    otherwise (False, empty arrays) and the caller takes the exact path. One compiled call
    instead of a dozen array operations: a small trace costs what it touches."""
    m = edges.size
    amount = np.empty(m, dtype=np.float64)
    out = np.empty(m, dtype=np.float64)
    s_in = 0.0
    s_out = 0.0
    for k in range(m):
        e = edges[k]
        a = float(e_amount[e])
        o = float(e_out[e])
        if e_hi[e] != 0 or a >= exact_limit or o >= exact_limit:
            empty = np.empty(0, dtype=np.int64)
            return False, empty, empty, empty
        amount[k] = a
        out[k] = o
        s_in += a
        s_out += o
    if s_in >= sum_limit or s_out >= sum_limit:
        empty = np.empty(0, dtype=np.int64)
        return False, empty, empty, empty
    a_in, a_out, node_amount = finish_small(
        e_src, e_dst, edges, attributed, amount, out, nodes, hops, forward, conserve, nudge,
        node_slot,
    )  # fmt: skip
    return True, a_in, a_out, node_amount


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
def trace_run(
    g: tuple[np.ndarray, ...],
    node_slot: np.ndarray,
    edge_slot: np.ndarray,
    fr_level: np.ndarray,
    fr_index: np.ndarray,
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

    ``g`` is ``FlowGraph.kernel_arrays()``. One call and three arrays back, not a dozen
    of each: for a small trace the calls cost more than the work. Returns (per edge rows:
    edge ids, hops, integer amount in, integer amount out; per node rows: node ids, hops,
    parent edges, integer amounts; the float attributions; truncated; small). Not small
    (some amount passes ``exact_limit`` or a sum ``sum_limit``): the integer rows are 0
    and the caller takes the exact path."""
    out_ptr, in_ptr, in_eid, e_src, e_dst, e_time, e_kind = g[0], g[1], g[2], g[3], g[4], g[5], g[6]
    e_amount, e_out, out_cum, in_cum, e_hi, node_asset = g[7], g[8], g[9], g[10], g[11], g[12]
    if from_nodes:
        nodes = np.unique(starts)
        seeds = seed_edges(
            out_ptr, in_ptr, in_eid, e_src, e_dst, e_time, e_kind, nodes, forward, since, until
        )
        if by_asset:
            keep = 0
            for k in range(seeds.size):
                if node_asset[e_src[seeds[k]]] == asset:
                    seeds[keep] = seeds[k]
                    keep += 1
            seeds = seeds[:keep]
    else:
        seeds = starts
    amounts = np.empty(seeds.size, dtype=np.float64)
    for k in range(seeds.size):
        amounts[k] = e_amount[seeds[k]]
    e, ea, eh, nd, _na, nh, npar, truncated = propagate(
        out_ptr, e_src, e_dst, e_time, e_amount, e_out, out_cum, in_ptr, in_eid, in_cum,
        seeds, amounts, stop, stop_mask, forward, model, hops, min_value, since, until,
        respect_time,
        max_edges, node_slot, edge_slot, fr_level, fr_index,
    )  # fmt: skip
    small, a_in, a_out, node_amount = finish_checked(
        e_src, e_dst, e_amount, e_out, e_hi, e, ea, nd, nh, forward, model != POISON, nudge,
        node_slot, exact_limit, sum_limit,
    )  # fmt: skip
    m = e.size
    n = nd.size
    edge_rows = np.zeros((4, m), dtype=np.int64)
    node_rows = np.zeros((4, n), dtype=np.int64)
    edge_rows[0] = e
    edge_rows[1] = eh
    node_rows[0] = nd
    node_rows[1] = nh
    node_rows[2] = npar
    if small:
        edge_rows[2] = a_in
        edge_rows[3] = a_out
        node_rows[3] = node_amount
    return edge_rows, node_rows, ea, truncated, small

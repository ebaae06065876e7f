"""Whole-graph exposure: every address's exposure per hop and category in a few passes.

The per-address loop (``table.exposure_by_hop``) walks out from one subject at a time; on
a chain of millions of addresses that is millions of walks. Haircut exposure is linear in
the amounts, so it can be turned around: per category, the value that reaches a labelled
node from a node ``v`` in exactly ``k`` more steps is

    G[0][v] = usd[v] where v has the category (0 elsewhere)
    G[k][v] = sum over v's steps e (to u) of w[e] * G[k - 1][u]

where ``w[e]`` is the edge's haircut share of ``v`` (``e_amount / total in`` backward,
``e_out / max(total in, total out)`` forward) and is 0 when ``v`` does not pass funds on
(it has a category, is a configured service contract, or moved nothing). One CSR
matrix-vector product per hop, for every node at once; a subject's exposure at hop ``h``
is then ``sum over its first steps (amount) * G[h][end]``.

What the per-address loop does that a product does not, and how it is kept:

* **the subject's own positions are never re-entered**: walks that come back to the
  subject (a round trip within ``hops``) are counted by the product and taken off
  again: with the first-return weights ``rho[m][w]`` (the value of the walks that leave the
  subject and first come back to its node ``w`` after ``m`` steps, found per subject by a
  meet-in-the-middle search ``ceil(hops / 2)`` steps out and ``floor(hops / 2)`` steps
  back, only where some node steps back into the subject, and at four hops from whichever
  side is cheaper, so that a busy node next to many subjects is not walked for each), the
  exact value is ``U[h] - sum over m, w of rho[m][w] * G[h - m][w]``;
* **the share is capped at 1** (``min(1, x / total in)``): it can only bind backward at a
  node that sent more than it received (out > in); a subject whose walk may reach such a
  node before the last hop is computed by the per-address loop instead (on generated
  worlds there are none: new coins are a flow from the "no address" node);
* **branches under ``MIN_SHARE`` of the subject's total are dropped** by the per-address
  loop; here they are kept. The two differ by at most that many tiny branches: the
  parity test holds them within ``1e-6`` of the subject's total.

Everything is in USD at the policy's reference prices, as the table is.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from chainsleuth.tracing.graph import FlowGraph


@dataclass
class Steps:
    """One direction's walk as CSR: node ``v`` steps along ``eid[ptr[v]:ptr[v + 1]]`` to
    ``end[eid]`` with the share ``w[eid]``; a subject's first steps carry ``first[eid]``
    (the amount, in the end's asset) and count ``total[eid]`` (USD, subject's asset)
    toward its total. ``rev_*``: the same edges seen from their ends."""

    ptr: np.ndarray
    eid: np.ndarray
    end: np.ndarray
    rev_ptr: np.ndarray
    rev_eid: np.ndarray
    rev_end: np.ndarray
    w: np.ndarray
    first: np.ndarray
    total_amount: np.ndarray
    propagates: np.ndarray  # per node: it passes funds on
    over: np.ndarray  # per node: sends more than it receives (the cap may bind), backward


@njit(cache=True)
def _weights(
    out_ptr: np.ndarray,
    e_src: np.ndarray,
    e_dst: np.ndarray,
    e_amount: np.ndarray,
    e_out: np.ndarray,
    in_ptr: np.ndarray,
    in_eid: np.ndarray,
    in_cum: np.ndarray,
    out_cum: np.ndarray,
    blocked: np.ndarray,
    forward: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(share per edge, node passes funds on, node's out exceeds its in), as
    ``exposure_by_hop`` computes them."""
    n = out_ptr.size - 1
    w = np.zeros(e_src.size, dtype=np.float64)
    prop = np.zeros(n, dtype=np.bool_)
    over = np.zeros(n, dtype=np.bool_)
    for v in range(n):
        total_in = in_cum[in_eid[in_ptr[v + 1] - 1]] if in_ptr[v + 1] > in_ptr[v] else 0.0
        total_out = out_cum[out_ptr[v + 1] - 1] if out_ptr[v + 1] > out_ptr[v] else 0.0
        denom = max(total_in, total_out) if forward else total_in
        if blocked[v] or denom <= 0:
            continue
        prop[v] = True
        over[v] = (not forward) and total_out > total_in
        if forward:
            for j in range(out_ptr[v], out_ptr[v + 1]):
                if e_amount[j] > 0:
                    w[j] = e_out[j] / denom
        else:
            for p in range(in_ptr[v], in_ptr[v + 1]):
                i = in_eid[p]
                if e_amount[i] > 0:
                    w[i] = e_amount[i] / denom
    return w, prop, over


def steps_of(graph: FlowGraph, blocked: np.ndarray, *, forward: bool) -> Steps:
    """The walk of one direction over ``graph``; ``blocked`` nodes (labelled, services)
    end a walk."""
    a = {k: np.asarray(v) for k, v in graph.arrays.items()}
    w, prop, over = _weights(
        a["out_ptr"], a["e_src"], a["e_dst"], a["e_amount"], a["e_out"], a["in_ptr"],
        a["in_eid"], a["in_cum"], a["out_cum"], blocked, forward,
    )  # fmt: skip
    identity = np.arange(a["e_src"].size, dtype=np.int64)
    if forward:  # funds go on along out-edges: a step is an out-edge, to its payee
        return Steps(
            a["out_ptr"], identity, a["e_dst"], a["in_ptr"], a["in_eid"], a["e_src"], w,
            a["e_out"], a["e_amount"], prop, over,
        )  # fmt: skip
    return Steps(
        a["in_ptr"], a["in_eid"], a["e_src"], a["out_ptr"], identity, a["e_dst"], w,
        a["e_amount"], a["e_out"], prop, over,
    )  # fmt: skip


# --- the linear pass -------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def _step(ptr: np.ndarray, eid: np.ndarray, end: np.ndarray, w: np.ndarray, g: np.ndarray,
          out: np.ndarray) -> None:  # fmt: skip
    """``out[v] = sum over v's steps e of w[e] * g[end[e]]``."""
    n, c = out.shape
    for v in prange(n):
        for k in range(c):
            out[v, k] = 0.0
        for p in range(ptr[v], ptr[v + 1]):
            e = eid[p]
            x = w[e]
            if x == 0.0:
                continue
            u = end[e]
            for k in range(c):
                out[v, k] += x * g[u, k]


@njit(cache=True, parallel=True)
def _first_steps(
    ptr: np.ndarray,
    eid: np.ndarray,
    end: np.ndarray,
    first: np.ndarray,
    starts: np.ndarray,
    start_ptr: np.ndarray,
    g: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out[s] += sum over subject s's first steps (to others) of first[e] * g[end[e]]``;
    a subject's nodes are consecutive (one address's positions)."""
    n = start_ptr.size - 1
    c = g.shape[1]
    for s in prange(n):
        if start_ptr[s + 1] == start_ptr[s]:
            continue
        lo = starts[start_ptr[s]]
        hi = starts[start_ptr[s + 1] - 1] + 1
        for q in range(start_ptr[s], start_ptr[s + 1]):
            m = starts[q]
            for p in range(ptr[m], ptr[m + 1]):
                e = eid[p]
                u = end[e]
                if lo <= u < hi:
                    continue
                x = first[e]
                for k in range(c):
                    out[s, k] += x * g[u, k]


@njit(cache=True)
def _totals(
    ptr: np.ndarray,
    eid: np.ndarray,
    end: np.ndarray,
    total_amount: np.ndarray,
    node_usd: np.ndarray,
    starts: np.ndarray,
    start_ptr: np.ndarray,
) -> np.ndarray:
    n = start_ptr.size - 1
    out = np.zeros(n, dtype=np.float64)
    for s in range(n):
        if start_ptr[s + 1] == start_ptr[s]:
            continue
        lo = starts[start_ptr[s]]
        hi = starts[start_ptr[s + 1] - 1] + 1
        t = 0.0
        for q in range(start_ptr[s], start_ptr[s + 1]):
            m = starts[q]
            price = node_usd[m]
            for p in range(ptr[m], ptr[m + 1]):
                e = eid[p]
                if lo <= end[e] < hi:
                    continue
                t += total_amount[e] * price
        out[s] = t
    return out


# --- first returns ---------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _returns(
    ptr: np.ndarray,
    eid: np.ndarray,
    end: np.ndarray,
    rev_ptr: np.ndarray,
    rev_eid: np.ndarray,
    rev_end: np.ndarray,
    w: np.ndarray,
    first: np.ndarray,
    starts: np.ndarray,
    start_ptr: np.ndarray,
    skip: np.ndarray,
    hops: int,
    s_lo: int,
    s_hi: int,
    value: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The first-return weights of subjects ``s_lo..s_hi`` (not ``skip``): rows (subject,
    node of the subject, steps m, weight), nonzero only. ``value`` (levels x nodes, 0)
    is scratch, left as found."""
    n_a = (hops + 1) // 2  # alpha levels: 1 = the first steps
    n_b = hops // 2  # beta levels: steps back into the subject
    cap = 1024
    r_s = np.empty(cap, dtype=np.int64)
    r_w = np.empty(cap, dtype=np.int64)
    r_m = np.empty(cap, dtype=np.int64)
    r_x = np.empty(cap, dtype=np.float64)
    n_r = 0
    if hops < 2:
        return r_s[:0], r_w[:0], r_m[:0], r_x[:0]
    # touched nodes per level (alpha levels 0..n_a-1, beta levels n_a..n_a+n_b-1)
    levels = n_a + n_b
    t_cap = 1024
    touched = np.empty((levels, t_cap), dtype=np.int64)
    n_t = np.zeros(levels, dtype=np.int64)
    for s in range(s_lo, s_hi):
        if skip[s] or start_ptr[s + 1] == start_ptr[s]:
            continue
        lo = starts[start_ptr[s]]
        hi = starts[start_ptr[s + 1] - 1] + 1
        # alpha 1: the first steps
        for q in range(start_ptr[s], start_ptr[s + 1]):
            m = starts[q]
            for p in range(ptr[m], ptr[m + 1]):
                e = eid[p]
                u = end[e]
                if lo <= u < hi or first[e] <= 0:
                    continue
                if value[0, u] == 0.0:
                    if n_t[0] >= touched.shape[1]:
                        touched = _grow2(touched)
                    touched[0, n_t[0]] = u
                    n_t[0] += 1
                value[0, u] += first[e]
        any_alpha = n_t[0] > 0
        alpha_done = n_a == 1
        if any_alpha:
            for q in range(start_ptr[s], start_ptr[s + 1]):
                target = starts[q]
                # beta 1: the nodes that step into the subject's node ``target``
                b0 = n_a
                for p in range(rev_ptr[target], rev_ptr[target + 1]):
                    e = rev_eid[p]
                    if w[e] == 0.0:
                        continue
                    v = rev_end[e]
                    if lo <= v < hi:
                        continue
                    if value[b0, v] == 0.0:
                        if n_t[b0] >= touched.shape[1]:
                            touched = _grow2(touched)
                        touched[b0, n_t[b0]] = v
                        n_t[b0] += 1
                    value[b0, v] += w[e]
                if n_t[b0] == 0:  # nothing steps back into this node: no round trip
                    continue
                if not alpha_done and hops != 4:  # the alpha levels, once a way back exists
                    alpha_done = True
                    # alpha k+1
                    for k in range(1, n_a):
                        touched = _expand(value, touched, n_t, k - 1, k, ptr, eid, end, w, lo, hi)
                for r in range(1, n_b):
                    lvl = n_a + r
                    touched = _expand(
                        value, touched, n_t, lvl - 1, lvl, rev_ptr, rev_eid, rev_end, w, lo, hi
                    )
                # rho[m] = alpha[k] . beta[m + 1 - k], k = min(m, n_a)
                for m in range(1, hops):
                    k = min(m, n_a)
                    if hops == 4 and m == 2:
                        k = 1  # alpha 1 . beta 2: alpha 2 only when it is the cheaper way
                    r = m + 1 - k
                    a_lvl = k - 1
                    b_lvl = n_a + r - 1
                    x = 0.0
                    if hops == 4 and m == 3 and not alpha_done:
                        # alpha 2 . beta 2, from the cheaper side: alpha 1's steps out
                        # (alpha 2) or beta 2's steps back onto alpha 1 (hubs on one side)
                        cost_a = 0
                        for t in range(n_t[0]):
                            v = touched[0, t]
                            cost_a += ptr[v + 1] - ptr[v]
                        cost_b = 0
                        for t in range(n_t[b_lvl]):
                            v = touched[b_lvl, t]
                            cost_b += rev_ptr[v + 1] - rev_ptr[v]
                        if cost_b < cost_a:
                            for t in range(n_t[b_lvl]):
                                u = touched[b_lvl, t]
                                y = 0.0
                                for p in range(rev_ptr[u], rev_ptr[u + 1]):
                                    e = rev_eid[p]
                                    y += w[e] * value[0, rev_end[e]]
                                x += value[b_lvl, u] * y
                            if x > 0.0:
                                if n_r >= r_s.size:
                                    r_s, r_w = _grow(r_s), _grow(r_w)
                                    r_m, r_x = _grow(r_m), _growf(r_x)
                                r_s[n_r], r_w[n_r], r_m[n_r], r_x[n_r] = s, target, m, x
                                n_r += 1
                            continue
                        alpha_done = True
                        touched = _expand(value, touched, n_t, 0, 1, ptr, eid, end, w, lo, hi)
                    if n_t[a_lvl] <= n_t[b_lvl]:
                        for t in range(n_t[a_lvl]):
                            v = touched[a_lvl, t]
                            x += value[a_lvl, v] * value[b_lvl, v]
                    else:
                        for t in range(n_t[b_lvl]):
                            v = touched[b_lvl, t]
                            x += value[a_lvl, v] * value[b_lvl, v]
                    if x > 0.0:
                        if n_r >= r_s.size:
                            r_s, r_w, r_m, r_x = _grow(r_s), _grow(r_w), _grow(r_m), _growf(r_x)
                        r_s[n_r], r_w[n_r], r_m[n_r], r_x[n_r] = s, target, m, x
                        n_r += 1
                for lvl in range(n_a, levels):
                    for t in range(n_t[lvl]):
                        value[lvl, touched[lvl, t]] = 0.0
                    n_t[lvl] = 0
        for lvl in range(n_a):
            for t in range(n_t[lvl]):
                value[lvl, touched[lvl, t]] = 0.0
            n_t[lvl] = 0
    return r_s[:n_r].copy(), r_w[:n_r].copy(), r_m[:n_r].copy(), r_x[:n_r].copy()


@njit(cache=True)
def _expand(
    value: np.ndarray,
    touched: np.ndarray,
    n_t: np.ndarray,
    src: int,
    dst: int,
    ptr: np.ndarray,
    eid: np.ndarray,
    end: np.ndarray,
    w: np.ndarray,
    lo: int,
    hi: int,
) -> np.ndarray:
    """One level on: every touched node of level ``src`` passes its value times the edge
    weight along its steps (``ptr``/``eid``/``end``: forward or reversed) into level
    ``dst``, skipping the subject's own nodes ``[lo, hi)``; returns ``touched`` (grown
    when full)."""
    for t in range(n_t[src]):
        v = touched[src, t]
        x = value[src, v]
        for p in range(ptr[v], ptr[v + 1]):
            e = eid[p]
            y = x * w[e]
            u = end[e]
            if y == 0.0 or lo <= u < hi:
                continue
            if value[dst, u] == 0.0:
                if n_t[dst] >= touched.shape[1]:
                    touched = _grow2(touched)
                touched[dst, n_t[dst]] = u
                n_t[dst] += 1
            value[dst, u] += y
    return touched


@njit(cache=True)
def _grow(a: np.ndarray) -> np.ndarray:
    out = np.empty(2 * a.size, dtype=a.dtype)
    out[: a.size] = a
    return out


@njit(cache=True)
def _growf(a: np.ndarray) -> np.ndarray:
    out = np.empty(2 * a.size, dtype=np.float64)
    out[: a.size] = a
    return out


@njit(cache=True)
def _grow2(a: np.ndarray) -> np.ndarray:
    out = np.empty((a.shape[0], 2 * a.shape[1]), dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out


@njit(cache=True)
def _apply_returns(
    r_s: np.ndarray, r_w: np.ndarray, r_m: np.ndarray, r_x: np.ndarray, level: int,
    hops: int, g: np.ndarray, out: np.ndarray,
) -> None:  # fmt: skip
    """``out[s, level + m] -= x * g[w]`` for the returns (s, w, m, x) with
    ``level + m < hops``."""
    c = g.shape[1]
    for k in range(r_s.size):
        h = level + r_m[k]
        if h >= hops:
            continue
        s, w, x = r_s[k], r_w[k], r_x[k]
        for j in range(c):
            out[s, h, j] -= x * g[w, j]


@njit(cache=True)
def _reaches(steps_ptr: np.ndarray, eid: np.ndarray, end: np.ndarray, w: np.ndarray,
             seed: np.ndarray, rounds: int) -> np.ndarray:  # fmt: skip
    """Nodes from which a walk reaches a ``seed`` node within ``rounds`` steps."""
    n = steps_ptr.size - 1
    cur = seed.copy()
    for _ in range(rounds):
        nxt = cur.copy()
        for v in range(n):
            if nxt[v]:
                continue
            for p in range(steps_ptr[v], steps_ptr[v + 1]):
                e = eid[p]
                if w[e] != 0.0 and cur[end[e]]:
                    nxt[v] = True
                    break
        cur = nxt
    return cur


@njit(cache=True)
def _tainted(ptr: np.ndarray, eid: np.ndarray, end: np.ndarray, starts: np.ndarray,
             start_ptr: np.ndarray, near: np.ndarray) -> np.ndarray:  # fmt: skip
    """Subjects with a first step onto a ``near`` node."""
    n = start_ptr.size - 1
    out = np.zeros(n, dtype=np.bool_)
    for s in range(n):
        if start_ptr[s + 1] == start_ptr[s]:
            continue
        lo = starts[start_ptr[s]]
        hi = starts[start_ptr[s + 1] - 1] + 1
        for q in range(start_ptr[s], start_ptr[s + 1]):
            m = starts[q]
            for p in range(ptr[m], ptr[m + 1]):
                u = end[eid[p]]
                if not lo <= u < hi and near[u]:
                    out[s] = True
    return out


@dataclass
class WholeGraph:
    """One direction's result: ``values[s, h, c]`` (USD), ``totals[s]`` (USD), and the
    subjects left to the per-address loop (``exact``: the share cap may bind)."""

    values: np.ndarray
    totals: np.ndarray
    exact: np.ndarray
    return_rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # s, node, m, weight

    @property
    def returns(self) -> int:
        return int(self.return_rows[0].size)


def whole_graph_exposure(
    graph: FlowGraph,
    node_usd: np.ndarray,
    starts: np.ndarray,
    start_ptr: np.ndarray,
    cat_nodes: np.ndarray,
    cat_values: np.ndarray,
    n_categories: int,
    *,
    forward: bool,
    hops: int,
    threads: int = 2,
    progress: Callable[[int], None] | None = None,
) -> WholeGraph:
    """Exposure per subject, hop and category (``n_categories`` wanted; labelled nodes
    with ``cat_values >= n_categories`` end walks but count for nothing). Subject ``s`` is
    the consecutive nodes ``starts[start_ptr[s]:start_ptr[s + 1]]`` (one address)."""
    n = graph.n_nodes
    n_sub = start_ptr.size - 1
    blocked = np.zeros(n, dtype=np.bool_)
    blocked[cat_nodes] = True
    blocked[graph.service_nodes()] = True
    st = steps_of(graph, blocked, forward=forward)
    totals = _totals(st.ptr, st.eid, st.end, st.total_amount, node_usd, starts, start_ptr)
    # subjects whose walk may meet a node where the share cap binds: the per-address loop
    exact = np.zeros(n_sub, dtype=np.bool_)
    if hops >= 2 and bool(st.over.any()):
        near = _reaches(st.ptr, st.eid, st.end, st.w, st.over, hops - 2)
        exact = _tainted(st.ptr, st.eid, st.end, starts, start_ptr, near)
    empty = totals <= 0
    # first returns, in chunks on threads (each with its scratch)
    chunk = max(1, (n_sub + 4 * max(1, threads) - 1) // (4 * max(1, threads)))
    levels = (hops + 1) // 2 + hops // 2

    def work(lo: int) -> tuple[np.ndarray, ...]:
        value = np.zeros((max(1, levels), n), dtype=np.float64)
        return _returns(
            st.ptr, st.eid, st.end, st.rev_ptr, st.rev_eid, st.rev_end, st.w, st.first,
            starts, start_ptr, exact | empty, hops, lo, min(n_sub, lo + chunk), value,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        parts = list(pool.map(work, range(0, n_sub, chunk)))
    r_s, r_w, r_m, r_x = (
        np.concatenate([p[i] for p in parts]) if parts else np.empty(0) for i in range(4)
    )
    r_s, r_w, r_m = r_s.astype(np.int64), r_w.astype(np.int64), r_m.astype(np.int64)
    # the linear pass
    values = np.zeros((n_sub, hops, n_categories), dtype=np.float64)
    g = np.zeros((n, n_categories), dtype=np.float64)
    wanted = cat_values < n_categories
    g[cat_nodes[wanted], cat_values[wanted]] = node_usd[cat_nodes[wanted]]
    nxt = np.empty_like(g)
    for h in range(hops):
        level = values[:, h, :]
        acc = np.zeros((n_sub, n_categories), dtype=np.float64)
        _first_steps(st.ptr, st.eid, st.end, st.first, starts, start_ptr, g, acc)
        level += acc
        _apply_returns(r_s, r_w, r_m, r_x, h, hops, g, values)
        if progress is not None:
            progress(h + 1)
        if h + 1 < hops:
            _step(st.ptr, st.eid, st.end, st.w, g, nxt)
            g, nxt = nxt, g
    values[exact | empty] = 0.0
    return WholeGraph(values, totals, np.flatnonzero(exact), (r_s, r_w, r_m, r_x))


# --- the largest counterparty ----------------------------------------------------------------


@njit(cache=True, nogil=True)
def _top_counterparties(
    rev_ptr: np.ndarray,
    rev_eid: np.ndarray,
    rev_end: np.ndarray,
    w: np.ndarray,
    first: np.ndarray,
    node_usd: np.ndarray,
    group_ptr: np.ndarray,
    group_nodes: np.ndarray,
    group_k: np.ndarray,
    group_ids: np.ndarray,
    node_sub: np.ndarray,
    sub_lo: np.ndarray,
    sub_hi: np.ndarray,
    ret_ptr: np.ndarray,
    ret_s: np.ndarray,
    ret_m: np.ndarray,
    ret_x: np.ndarray,
    hops: int,
    best_value: np.ndarray,
    best_node: np.ndarray,
) -> None:
    """For each group of labelled nodes (``group_nodes[group_ptr[c]:group_ptr[c + 1]]``,
    of category ``group_k[c]``), the USD value every subject's walk delivers to it (one
    column of the exposure, walked back from the group ``hops`` steps; returns through the
    subject taken off as in the totals); ``best_*[s, k]`` keep the largest group (its id
    ``group_ids[c]``) per subject and category."""
    n = rev_ptr.size - 1
    n_sub = sub_lo.size
    g = np.zeros((hops, n), dtype=np.float64)
    level = np.empty((hops, 1024), dtype=np.int64)
    n_lv = np.zeros(hops, dtype=np.int64)
    contrib = np.zeros(n_sub, dtype=np.float64)
    seen = np.zeros(n_sub, dtype=np.bool_)
    touched = np.empty(1024, dtype=np.int64)
    for c in range(group_k.size):
        k = group_k[c]
        n_t = 0
        for q in range(group_ptr[c], group_ptr[c + 1]):
            u0 = group_nodes[q]
            if node_usd[u0] <= 0 or g[0, u0] != 0.0:
                continue
            if n_lv[0] >= level.shape[1]:
                level = _grow2(level)
            level[0, n_lv[0]] = u0
            n_lv[0] += 1
            g[0, u0] = node_usd[u0]
        for h in range(hops):
            for t in range(n_lv[h]):
                v = level[h, t]
                x = g[h, v]
                for p in range(rev_ptr[v], rev_ptr[v + 1]):
                    e = rev_eid[p]
                    m = rev_end[e]
                    s = node_sub[m]
                    if s >= 0 and not sub_lo[s] <= v < sub_hi[s] and first[e] > 0:
                        if not seen[s]:
                            seen[s] = True
                            if n_t >= touched.size:
                                touched = _grow(touched)
                            touched[n_t] = s
                            n_t += 1
                        contrib[s] += first[e] * x
                    if h + 1 < hops and w[e] != 0.0:
                        y = w[e] * x
                        if y == 0.0:
                            continue
                        if g[h + 1, m] == 0.0:
                            if n_lv[h + 1] >= level.shape[1]:
                                level = _grow2(level)
                            level[h + 1, n_lv[h + 1]] = m
                            n_lv[h + 1] += 1
                        g[h + 1, m] += y
                for q in range(ret_ptr[v], ret_ptr[v + 1]):
                    if h + ret_m[q] < hops:
                        s = ret_s[q]
                        if not seen[s]:
                            seen[s] = True
                            if n_t >= touched.size:
                                touched = _grow(touched)
                            touched[n_t] = s
                            n_t += 1
                        contrib[s] -= ret_x[q] * x
        for t in range(n_t):
            s = touched[t]
            if contrib[s] > best_value[s, k]:
                best_value[s, k] = contrib[s]
                best_node[s, k] = group_ids[c]
            contrib[s] = 0.0
            seen[s] = False
        for h in range(hops):
            for t in range(n_lv[h]):
                g[h, level[h, t]] = 0.0
            n_lv[h] = 0


def top_counterparties(
    graph: FlowGraph,
    node_usd: np.ndarray,
    starts: np.ndarray,
    start_ptr: np.ndarray,
    cat_nodes: np.ndarray,
    cat_values: np.ndarray,
    wanted: np.ndarray,
    groups: np.ndarray,
    *,
    forward: bool,
    hops: int,
    result: WholeGraph,
    threads: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """(value, group) of the largest labelled counterparty per subject and category of
    ``wanted`` (sorted indices into the categories; group -1 and value 0 where none):
    the group of labelled nodes (``groups``, one id per node of ``cat_nodes``: an entity)
    whose funds make up most of the subject's exposure to that category, over all hops.
    One backward walk per group of those categories."""
    n = graph.n_nodes
    n_sub = start_ptr.size - 1
    blocked = np.zeros(n, dtype=np.bool_)
    blocked[cat_nodes] = True
    blocked[graph.service_nodes()] = True
    st = steps_of(graph, blocked, forward=forward)
    pick = np.flatnonzero(np.isin(cat_values, wanted))
    # one column per (category, group)
    key_k = np.searchsorted(wanted, cat_values[pick]).astype(np.int64)
    key_g = np.asarray(groups, dtype=np.int64)[pick]
    order = np.lexsort((key_g, key_k))
    key_k, key_g, col_nodes = key_k[order], key_g[order], np.asarray(cat_nodes)[pick][order]
    new = np.ones(order.size, dtype=np.bool_)
    new[1:] = (key_k[1:] != key_k[:-1]) | (key_g[1:] != key_g[:-1])
    group_ptr = np.append(np.flatnonzero(new), order.size).astype(np.int64)
    group_k, group_ids = key_k[new], key_g[new]
    node_sub = np.full(n, -1, dtype=np.int64)
    lengths = np.diff(start_ptr)
    node_sub[starts] = np.repeat(np.arange(n_sub, dtype=np.int64), lengths)
    has = lengths > 0
    sub_lo = np.zeros(n_sub, dtype=np.int64)
    sub_hi = np.zeros(n_sub, dtype=np.int64)
    sub_lo[has] = starts[start_ptr[:-1][has]]
    sub_hi[has] = starts[start_ptr[1:][has] - 1] + 1
    r = result.return_rows
    by_node = np.argsort(r[1], kind="stable")
    ret_s, ret_w, ret_m, ret_x = r[0][by_node], r[1][by_node], r[2][by_node], r[3][by_node]
    ret_ptr = np.searchsorted(ret_w, np.arange(n + 1, dtype=np.int64)).astype(np.int64)
    # the columns, dealt out to the threads (largest groups spread first)
    n_threads = max(1, min(threads, group_k.size))
    deal = np.argsort(-np.diff(group_ptr), kind="stable")
    shares = [np.sort(deal[i::n_threads]) for i in range(n_threads)]

    def work(i: int) -> tuple[np.ndarray, np.ndarray]:
        mine = shares[i]
        sizes = np.diff(group_ptr)[mine]
        ptr = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        nodes = (
            np.concatenate([col_nodes[group_ptr[c] : group_ptr[c + 1]] for c in mine])
            if mine.size
            else np.empty(0, np.int64)
        )
        value = np.zeros((n_sub, wanted.size), dtype=np.float64)
        node = np.full((n_sub, wanted.size), -1, dtype=np.int64)
        _top_counterparties(
            st.rev_ptr, st.rev_eid, st.rev_end, st.w, st.first, node_usd, ptr,
            nodes.astype(np.int64), group_k[mine], group_ids[mine], node_sub, sub_lo, sub_hi,
            ret_ptr, ret_s, ret_m, ret_x, hops, value, node,
        )  # fmt: skip
        return value, node

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        found = list(pool.map(work, range(n_threads)))
    value, node = found[0]
    for other_value, other_node in found[1:]:
        better = other_value > value
        value[better] = other_value[better]
        node[better] = other_node[better]
    value[result.exact] = 0.0
    node[value <= 0] = -1
    value[node < 0] = 0.0
    return value, node

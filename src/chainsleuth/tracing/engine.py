"""The tracer: seeds, taint models, exact amounts. Works on node and edge ids only.

**Seeds.** Forward from an address (or an entity: a set of addresses) its outgoing flows
to others, whole; backward its incoming flows from others. From a transaction: its flows
(forward: where its outputs went; backward: where its inputs came from). Each seed edge
is hop 1; the trace goes ``hops`` edges deep at most. A node in ``stop`` (known services,
chosen entities) is reached but not passed through; the configured bridge and converter
addresses always stop (their swap and bridge edges go around them).

**Models** (per node, per hop; amounts in the node's asset):

* *poison*: every flow out of (forward) or into (backward) a reached node carries the
  traced funds whole: the amounts are the flows' own; they do not conserve.
* *haircut*: forward, a node that received ``x`` of the traced funds and ``T`` in all
  passes ``x / T`` of each of its outgoing flows on (``T`` is the larger of its total in
  and total out: a miner's rewards are income but no flow); backward, a node that paid ``y`` of
  them (at the latest at time ``t``) got them from each flow it received up to ``t`` in
  proportion to its amount: ``y * flow / (all received up to t)``.
* *FIFO*: a node's incoming and outgoing flows, in time order, are two queues of value:
  the ``k``-th unit out is the ``k``-th unit in. A tainted flow in occupies a stretch of
  the incoming queue; the flows out that overlap that stretch carry the taint (backward
  the same with the queues swapped).

**Time** (``respect_time``, the default): forward only through flows at or after the
funds arrived at a node; backward only through flows at or before they left it. A
window ``since``/``until`` bounds every flow followed; ``min_value`` (in the smallest unit
of the flow's asset) drops smaller attributions.

**Rounding.** The kernels work in float64; the result's amounts are integers: each
edge's attributed amount is ``floor(exact_amount * fraction)``, the fraction being the
float attribution over the float amount (at most 1; amounts above 2**53, wei, are right to
float precision, about 1e-15 relative). Rounding is down, and after it every node is
checked, in hop order, to pass on no more than it received (haircut and FIFO), its
largest edge trimmed where float error broke that: the traced total never grows, and what
rounding loses is under one smallest unit per edge. Node amounts are the sums of their
edges' integers (origins: of their seed edges). Poison amounts are the flows' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

import numpy as np

from chainsleuth.core.errors import InvalidInput
from chainsleuth.tracing import kernels
from chainsleuth.tracing.graph import FlowGraph

MAX_HOPS = 50
_NUDGE = 1.0 + 1e-12
_EXACT_FLOAT = float(2**53)  # integers below are exact in float64
_SUM_LIMIT = float(2**61)  # sums of amounts below stay clear of int64 overflow
NO_TIME = 1 << 62


class Model(StrEnum):
    POISON = "poison"
    HAIRCUT = "haircut"
    FIFO = "fifo"


class TraceDirection(StrEnum):
    FORWARD = "forward"
    BACKWARD = "backward"


_MODEL_CODE = {
    Model.POISON: kernels.POISON,
    Model.HAIRCUT: kernels.HAIRCUT,
    Model.FIFO: kernels.FIFO,
}


@dataclass(frozen=True)
class TraceOptions:
    direction: TraceDirection = TraceDirection.BACKWARD
    model: Model = Model.HAIRCUT
    hops: int = 5
    min_value: int = 0
    since: int | None = None  # unix seconds
    until: int | None = None
    respect_time: bool = True
    max_edges: int = 20_000
    asset: int | None = None  # only seeds of this asset id

    def check(self) -> None:
        if not 1 <= self.hops <= MAX_HOPS:
            raise InvalidInput(f"hops must be between 1 and {MAX_HOPS}")
        if self.min_value < 0:
            raise InvalidInput("min_value must not be negative")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise InvalidInput("since must not be after until")
        if self.max_edges < 1:
            raise InvalidInput("max_edges must be positive")


class TraceResult:
    """A trace: its edges and nodes with their hops, the edge that first reached each node
    and the exact amounts (Python ints: ``edge_amount`` in the edge's source asset,
    ``edge_amount_out`` in its destination's, ``node_amount`` in the node's asset).

    The amounts are kept as the integer arrays the engine made and turned into lists of
    Python ints when first read (a large trace's lists cost more than its propagation;
    a caller that reads some of them pays for those)."""

    __slots__ = (
        "edges", "edge_hop", "nodes", "node_hop", "node_parent", "truncated", "options",
        "edge_float", "_edge_amount", "_edge_amount_out", "_node_amount",
    )  # fmt: skip

    def __init__(
        self,
        *,
        edges: np.ndarray,  # edge ids
        edge_amount: list[int] | np.ndarray,
        edge_amount_out: list[int] | np.ndarray,
        edge_hop: np.ndarray,
        nodes: np.ndarray,  # node ids
        node_amount: list[int] | np.ndarray,
        node_hop: np.ndarray,
        node_parent: np.ndarray,  # the edge that first reached the node, -1 for origins
        truncated: bool,
        options: TraceOptions,
        edge_float: np.ndarray | None = None,  # the kernel's float attributions, unrounded
    ) -> None:
        self.edges = edges
        self.edge_hop = edge_hop
        self.nodes = nodes
        self.node_hop = node_hop
        self.node_parent = node_parent
        self.truncated = truncated
        self.options = options
        self.edge_float = edge_float
        self._edge_amount = edge_amount
        self._edge_amount_out = edge_amount_out
        self._node_amount = node_amount

    def _ints(self, slot: str) -> list[int]:
        """An amount array as Python ints, converted on first read and kept."""
        found = getattr(self, slot)
        if not isinstance(found, list):
            found = found.tolist()
            setattr(self, slot, found)
        return found  # type: ignore[no-any-return]

    @property
    def edge_amount(self) -> list[int]:
        return self._ints("_edge_amount")

    @property
    def edge_amount_out(self) -> list[int]:
        return self._ints("_edge_amount_out")

    @property
    def node_amount(self) -> list[int]:
        return self._ints("_node_amount")

    def __repr__(self) -> str:
        return (
            f"TraceResult({self.edges.size} edges, {self.nodes.size} nodes, "
            f"truncated={self.truncated}, options={self.options!r})"
        )


def _window(options: TraceOptions) -> tuple[int, int]:
    return (
        options.since if options.since is not None else -NO_TIME,
        options.until if options.until is not None else NO_TIME,
    )


def address_seeds(graph: FlowGraph, nodes: np.ndarray, options: TraceOptions) -> np.ndarray:
    """Seed edges of a set of nodes: their flows out to (forward) or in from (backward)
    nodes outside the set (and their swaps), in the time window, of ``options.asset``."""
    since, until = _window(options)
    a = graph.arrays
    seeds: np.ndarray = kernels.seed_edges(
        a["out_ptr"], a["in_ptr"], a["in_eid"], a["e_src"], a["e_dst"], a["e_time"],
        a["e_kind"], np.unique(np.asarray(nodes, dtype=np.int64)),
        options.direction is TraceDirection.FORWARD, since, until,
    )  # fmt: skip
    if options.asset is not None:
        seeds = seeds[graph.node_asset[graph.e_src[seeds]] == options.asset]
    return seeds


def tx_seeds(graph: FlowGraph, chain: str, tx_id: int, options: TraceOptions) -> np.ndarray:
    """Seed edges of a transaction: the edges its flows became (a flow of an address to
    itself, UTXO change, is left out)."""
    edges: np.ndarray = graph.tx_edges(chain, tx_id)
    edges = edges[graph.e_src[edges] != graph.e_dst[edges]]
    if options.asset is not None:
        edges = edges[graph.node_asset[graph.e_src[edges]] == options.asset]
    return edges


def trace(
    graph: FlowGraph,
    seeds: np.ndarray,
    options: TraceOptions,
    *,
    stop: np.ndarray | None = None,
    stop_is_complete: bool = False,
    extra_stop: np.ndarray | None = None,
) -> TraceResult:
    """Run a trace from these seed edges (taken whole). ``stop_is_complete``: ``stop`` is
    sorted, distinct and holds the service nodes already (see ``stop_set``).
    ``extra_stop``: a few more stops for this trace only (a large ``stop`` used by many
    traces is made into a lookup mask once; ``stop_set(stop, extra)`` would be a new set
    each time)."""
    seeds = np.ascontiguousarray(seeds, dtype=np.int64)
    return _run(graph, seeds, False, options, stop, stop_is_complete, extra_stop)


def trace_nodes(
    graph: FlowGraph,
    nodes: np.ndarray,
    options: TraceOptions,
    *,
    stop: np.ndarray | None = None,
    stop_is_complete: bool = False,
    extra_stop: np.ndarray | None = None,
) -> TraceResult:
    """``trace(graph, address_seeds(graph, nodes, options), options, ...)`` in one compiled
    call: the trace of an address (its nodes) or of an entity (a set of them)."""
    nodes = np.ascontiguousarray(nodes, dtype=np.int64)
    return _run(graph, nodes, True, options, stop, stop_is_complete, extra_stop)


@dataclass
class TraceValues:
    """A trace's edges with float attributions only (no exact integers): for sums in
    another unit (USD), where ``trace``'s integer rounding would be thrown away."""

    edges: np.ndarray
    edge_hop: np.ndarray
    amount: np.ndarray  # float, in the edge's source asset
    amount_out: np.ndarray  # float, in the edge's destination asset
    truncated: bool


def trace_values(
    graph: FlowGraph,
    seeds: np.ndarray,
    options: TraceOptions,
    *,
    stop: np.ndarray | None = None,
) -> TraceValues:
    """``trace``'s edges and float attributions, without the exact amounts: the same
    kernel run, none of the integer work (which for wei amounts is per-edge Python)."""
    seeds = np.ascontiguousarray(seeds, dtype=np.int64)
    edge_rows, _, ea, truncated, small = _kernel(graph, seeds, False, options, stop, False, None)
    e, eh = edge_rows[0], edge_rows[1]
    if small:
        a_in = np.asarray(edge_rows[2], dtype=np.float64)
        a_out = np.asarray(edge_rows[3], dtype=np.float64)
    else:
        amount = np.asarray(graph.e_amount[e], dtype=np.float64)
        frac = np.clip(ea / np.where(amount > 0, amount, 1.0), 0.0, 1.0)
        a_in = frac * amount
        a_out = frac * np.asarray(graph.e_out[e], dtype=np.float64)
    return TraceValues(e, eh, a_in, a_out, bool(truncated))


def _kernel(
    graph: FlowGraph,
    starts: np.ndarray,
    from_nodes: bool,
    options: TraceOptions,
    stop: np.ndarray | None,
    stop_is_complete: bool,
    extra_stop: np.ndarray | None,
) -> tuple[Any, Any, np.ndarray, bool, bool]:
    options.check()
    since, until = _window(options)
    stops, mask = _stop_lookup(graph, stop, stop_is_complete)
    if extra_stop is not None and np.asarray(extra_stop).size:
        stops = sorted_union(stops, np.asarray(extra_stop))
    forward = options.direction is TraceDirection.FORWARD
    scratch = graph.take_scratch()
    try:
        edge_rows, node_rows, ea, truncated, small = kernels.trace_run(
            graph.kernel_arrays(), scratch[0], scratch[1], scratch[2], scratch[3], scratch[4],
            scratch[5], starts,
            from_nodes, -1 if options.asset is None else options.asset,
            options.asset is not None, stops, mask, forward, _MODEL_CODE[options.model],
            options.hops, float(options.min_value), since, until, options.respect_time,
            options.max_edges,
            _NUDGE, _EXACT_FLOAT, _SUM_LIMIT,
        )  # fmt: skip
    finally:
        graph.give_scratch(scratch)
    return edge_rows, node_rows, ea, bool(truncated), bool(small)


def _run(
    graph: FlowGraph,
    starts: np.ndarray,
    from_nodes: bool,
    options: TraceOptions,
    stop: np.ndarray | None,
    stop_is_complete: bool,
    extra_stop: np.ndarray | None,
) -> TraceResult:
    forward = options.direction is TraceDirection.FORWARD
    edge_rows, node_rows, ea, truncated, small = _kernel(
        graph, starts, from_nodes, options, stop, stop_is_complete, extra_stop
    )
    e, eh = edge_rows[0], edge_rows[1]
    nodes, nh, npar = node_rows[0], node_rows[1], node_rows[2]
    node_amount: list[int] | np.ndarray
    if small:
        a_in, a_out = edge_rows[2], edge_rows[3]
        node_amount = node_rows[3]
    else:
        a_in, a_out = _exact(graph, e, ea)
        if options.model is not Model.POISON:
            _conserve(graph, e, a_in, a_out, nodes, nh, forward)
        node_amount = _node_amounts(graph, e, a_in, a_out, nodes, nh, forward)
    return TraceResult(
        edges=e,
        edge_amount=a_in,  # int64 or Python ints: lists when read
        edge_amount_out=a_out,
        edge_hop=eh,
        nodes=nodes,
        node_amount=node_amount,
        node_hop=nh,
        node_parent=npar,
        truncated=bool(truncated),
        options=options,
        edge_float=ea,
    )


_NO_MASK = np.zeros(0, dtype=np.uint8)
_MASK_FROM = 1024  # stop sets this large are looked up in a mask of the graph's nodes
_MASKS_KEPT = 4


def _stop_lookup(
    graph: FlowGraph, stop: np.ndarray | None, complete: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The stop set as the kernels take it: (sorted nodes, per-node byte mask or empty).

    A large set (the labelled services of a whole chain: hundreds of thousands of nodes)
    becomes a mask, one byte per node, made once per set (kept on the graph for the last
    few sets, by identity) so that a trace looks a node up with one load instead of a
    binary search whose every step is a cache miss."""
    if stop is None:
        return graph.service_nodes(), _NO_MASK
    kept: list[tuple[np.ndarray, bool, np.ndarray, np.ndarray]]
    kept = graph.__dict__.setdefault("_stop_masks", [])
    for known, was_complete, nodes, mask in kept:
        if known is stop and was_complete == complete:
            return nodes, mask
    union = np.asarray(stop, dtype=np.int64) if complete else _stops(graph, stop)
    if union.size >= _MASK_FROM:
        mask = np.zeros(graph.n_nodes, dtype=np.uint8)
        mask[union] = 1
        nodes = np.empty(0, dtype=np.int64)
    else:
        nodes, mask = np.ascontiguousarray(union), _NO_MASK
    kept.insert(0, (stop, complete, nodes, mask))
    del kept[_MASKS_KEPT:]
    return nodes, mask


def _stops(graph: FlowGraph, stop: np.ndarray | None) -> np.ndarray:
    """``stop`` and the service nodes, sorted; the last union is kept on the graph, so that
    a caller tracing many times with one stop set pays for it once."""
    if stop is None or np.asarray(stop).size == 0:
        return graph.service_nodes()
    cached = graph.__dict__.get("_stop_union")
    if cached is not None and cached[0] is stop:
        union: np.ndarray = cached[1]
        return union
    union = sorted_union(np.asarray(stop, dtype=np.int64), graph.service_nodes())
    graph.__dict__["_stop_union"] = (stop, union)
    return union


def stop_set(graph: FlowGraph, base: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """``base`` (sorted, distinct, with the service nodes: from ``_stops``) with ``extra``
    nodes inserted: a copy, not a sort, so that a large base costs little per call."""
    extra = np.unique(np.asarray(extra, dtype=np.int64))
    if extra.size == 0:
        return base
    at = np.searchsorted(base, extra)
    inside = at < base.size
    present = np.zeros(extra.size, dtype=bool)
    present[inside] = base[at[inside]] == extra[inside]
    result: np.ndarray = np.insert(base, at[~present], extra[~present])
    return result


def service_nodes(graph: FlowGraph) -> np.ndarray:
    return graph.service_nodes()


def sorted_union(*parts: np.ndarray) -> np.ndarray:
    """The sorted distinct values of these arrays (a sort, not numpy's slower hashing)."""
    joined = np.sort(np.concatenate([np.asarray(p, dtype=np.int64) for p in parts]))
    if joined.size < 2:
        return joined
    keep = np.empty(joined.size, dtype=bool)
    keep[0] = True
    np.not_equal(joined[1:], joined[:-1], out=keep[1:])
    result: np.ndarray = joined[keep]
    return result


def _exact(
    graph: FlowGraph, edges: np.ndarray, attributed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Integer attributions ``floor(exact * fraction)``, source and destination side, as
    int64 arrays, or object arrays of Python ints when some amount passes 2**53 (wei).

    Below 2**53 the fraction is nudged up by 1e-12 (relative) so that float noise does not
    turn 0.6 * 50 into 29; above, the float fraction is taken as it is (exact to float64
    precision, ~1e-15 relative)."""
    amount = np.asarray(graph.e_amount[edges], dtype=np.float64)
    out = np.asarray(graph.e_out[edges], dtype=np.float64)
    small = (graph.e_hi[edges] == 0) & (amount < _EXACT_FLOAT) & (out < _EXACT_FLOAT)
    frac = np.clip(attributed / np.where(amount > 0, amount, 1.0), 0.0, 1.0)
    frac = np.minimum(np.where(small, frac * _NUDGE, frac), 1.0)
    safe_in = np.where(small, amount, 0.0)
    safe_out = np.where(small, out, 0.0)
    a_in = np.minimum(np.floor(frac * safe_in), safe_in).astype(np.int64)
    a_out = np.minimum(np.floor(frac * safe_out), safe_out).astype(np.int64)
    big = np.flatnonzero(~small)
    fits = float(safe_in.sum()) < _SUM_LIMIT and float(safe_out.sum()) < _SUM_LIMIT
    if big.size == 0 and fits:
        return a_in, a_out
    obj_in = a_in.astype(object)
    obj_out = a_out.astype(object)
    for k in big.tolist():
        e = int(edges[k])
        f = float(frac[k])
        full_in = graph.exact_amount(e)
        full_out = graph.exact_out(e) if graph.e_kind[e] else full_in
        if f >= 1.0:
            obj_in[k], obj_out[k] = full_in, full_out
        else:
            q = Fraction(f)
            obj_in[k] = full_in * q.numerator // q.denominator
            obj_out[k] = full_out * q.numerator // q.denominator
    return obj_in, obj_out


def _positions(nodes: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(nodes, kind="stable")
    return order, order[np.searchsorted(nodes[order], wanted)]


def _conserve(
    graph: FlowGraph,
    edges: np.ndarray,
    a_in: np.ndarray,
    a_out: np.ndarray,
    nodes: np.ndarray,
    hops: np.ndarray,
    forward: bool,
) -> None:
    """Trim edges (in place) so that no node passes on more than it got, in hop order,
    repeated until stable (trimming an edge lowers what its far end got)."""
    if edges.size == 0:
        return
    src, dst = graph.e_src[edges], graph.e_dst[edges]
    _, near = _positions(nodes, src if forward else dst)
    _, far = _positions(nodes, dst if forward else src)
    side, other = (a_in, a_out) if forward else (a_out, a_in)
    inner = hops > 0
    by_near = np.argsort(near, kind="stable")
    starts = np.searchsorted(near[by_near], np.arange(nodes.size + 1))
    for _ in range(8):
        got = np.zeros(nodes.size, dtype=a_in.dtype)
        np.add.at(got, far, other)
        passed = np.zeros(nodes.size, dtype=a_in.dtype)
        np.add.at(passed, near, side)
        bad = np.flatnonzero((passed > got) & inner)
        if bad.size == 0:
            return
        for b in bad.tolist():
            ks = by_near[starts[b] : starts[b + 1]]
            excess = int(passed[b] - got[b])
            for k in ks[np.argsort(-side[ks], kind="stable")].tolist():
                if excess <= 0:
                    break
                old = int(side[k])
                cut = min(excess, old)
                ratio = Fraction(old - cut, old)
                a_in[k] = int(a_in[k]) * ratio.numerator // ratio.denominator
                a_out[k] = int(a_out[k]) * ratio.numerator // ratio.denominator
                excess -= old - int(side[k])


def _node_amounts(
    graph: FlowGraph,
    edges: np.ndarray,
    a_in: np.ndarray,
    a_out: np.ndarray,
    nodes: np.ndarray,
    hops: np.ndarray,
    forward: bool,
) -> list[int]:
    """Forward: what each node received of the traced funds (origins: what they sent).
    Backward: what each node contributed (origins: what they received)."""
    total = np.zeros(nodes.size, dtype=a_in.dtype)
    origin = np.zeros(nodes.size, dtype=a_in.dtype)
    if edges.size:
        src, dst = graph.e_src[edges], graph.e_dst[edges]
        _, near = _positions(nodes, src if forward else dst)
        _, far = _positions(nodes, dst if forward else src)
        np.add.at(total, far, a_out if forward else a_in)
        np.add.at(origin, near, a_in if forward else a_out)
    return [int(x) for x in np.where(hops == 0, origin, total).tolist()]


def path_to(result: TraceResult, graph: FlowGraph, node: int) -> list[int]:
    """The edges from the trace's origin to ``node`` along which it was first reached."""
    parent = dict(zip(result.nodes.tolist(), result.node_parent.tolist(), strict=True))
    forward = result.options.direction is TraceDirection.FORWARD
    path: list[int] = []
    v = node
    seen: set[int] = set()
    while parent.get(v, -1) >= 0 and v not in seen:
        seen.add(v)
        e = parent[v]
        path.append(e)
        v = int(graph.e_src[e]) if forward else int(graph.e_dst[e])
    path.reverse()
    return path

"""Union-find over dense integer address ids, compiled with numba.

The forest is one ``int32`` array (``int64`` once a chain has 2**31 addresses): 4 bytes per
address, nothing else. Roots are linked **by minimum** (the larger root points at the
smaller), so a component's root is always its smallest address id; that is the entity id
(see ``docs/entities.md``) and needs no relabelling pass. ``find`` halves paths as it walks.

Every union that joins two different components reports the edge that did it (the two
addresses and the transaction), so the merges of a run form a spanning forest of the
address graph: the evidence that ``why`` walks.

The loops run on one core and are bound by memory latency, not by arithmetic: each row
looks up a random address in a forest larger than the core's caches. They prefetch the
addresses (and their parents) a few dozen rows ahead, which more than halves their time,
and ``union_groups`` links without data-dependent branches. A two-core split (by address
range, each core taking the transactions whose addresses lie on its side, the rest after)
was tried: it is deterministic and as exact, but each core must still stream every row, and
the streaming and the run-finding then cost more than the lookups they share (about 3x the
CPU time of one prefetching core, for no gain in wall time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: int32 until a chain has this many addresses
INT32_LIMIT = 2**31 - 1

#: how many rows ahead the loops prefetch an address's parent (``_FAR``) and, once that is
#: in cache, its grandparent (``_NEAR``): about one memory latency's worth of rows each
_FAR = 64
_NEAR = 24


def parent_dtype(n: int) -> type[np.signedinteger]:
    return np.int32 if n <= INT32_LIMIT else np.int64


def new_forest(n: int) -> np.ndarray:
    """``n`` singletons: each address its own root."""
    return np.arange(n, dtype=parent_dtype(n))


def grow(parent: np.ndarray, n: int) -> np.ndarray:
    """The forest extended with singletons up to ``n`` addresses (copied when it grows)."""
    if n <= parent.size:
        return parent
    out = np.empty(n, dtype=parent_dtype(n))
    out[: parent.size] = parent
    out[parent.size :] = np.arange(parent.size, n, dtype=out.dtype)
    return out


@intrinsic
def _prefetch_intrinsic(typingctx: Any, array: Any, index: Any) -> tuple[Any, Callable[..., Any]]:
    """Ask the CPU to bring ``array[index]`` (a contiguous 1-D array) into cache
    (``llvm.prefetch``: a read, kept in all cache levels). A prefetch never faults: an index
    past the end costs the hint and nothing else."""
    sig = types.void(array, index)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        pointer = builder.gep(data, [args[1]])
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [pointer.type, i32, i32, i32]),
            "llvm.prefetch.p0",
        )
        read, keep, data_cache = (ir.Constant(i32, v) for v in (0, 3, 1))
        builder.call(fn, [pointer, read, keep, data_cache])
        return context.get_dummy_value()

    return sig, codegen


#: ``_prefetch(array, index)`` as njit code calls it
_prefetch = cast("Callable[[np.ndarray, int], None]", _prefetch_intrinsic)


@njit(cache=True, nogil=True)
def _find(parent: np.ndarray, x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]  # path halving
        x = parent[x]
    return x


@njit(cache=True, nogil=True)
def _link(parent: np.ndarray, size: np.ndarray, ra: int, rb: int, large: int) -> bool:
    """Link two roots by minimum; with sizes tracked, says whether both were >= large."""
    lo, hi = (ra, rb) if ra < rb else (rb, ra)
    parent[hi] = lo
    if size.size == 0:
        return False
    both: bool = size[lo] >= large and size[hi] >= large
    size[lo] += size[hi]
    return both


@njit(cache=True, nogil=True)
def union_groups(
    parent: np.ndarray,
    size: np.ndarray,
    large: int,
    group: np.ndarray,
    member: np.ndarray,
    out_row: np.ndarray,
    out_large: np.ndarray,
) -> int:
    """Union the members of each run of equal ``group`` values (rows in runs by group).

    For multi-input clustering ``group`` is the tx id and ``member`` the input's address id.
    Each merge writes its row (the member merged into the run's first member; ``evidence``
    turns rows into (first member, member, group)) to ``out_row`` (long enough for every
    merge: ``min(member.size, parent.size)``), and, when ``size`` (the component sizes at
    the roots) is given, to ``out_large`` whether it joined two components of at least
    ``large`` addresses; an empty ``size`` skips that bookkeeping. Returns the number of
    merges.

    The loop is bound by memory latency (each row looks up a random address), so it
    prefetches ahead: the parent of the address ``_FAR`` rows on and the grandparent of
    the one ``_NEAR`` rows on (whose parent is in cache by then). It finds every row's
    root, one-input runs included, and links without branching on whether the row
    merges (a row whose root is the run's writes ``parent[root] = root`` and a row slot
    that the next merge overwrites): those branches are a coin toss for the CPU."""
    merges = 0
    n = member.size
    track = size.size > 0
    stop = n - _FAR
    ra = -1  # the current run's root, kept up to date as it merges
    for j in range(n):
        if j < stop:
            _prefetch(parent, member[j + _FAR])
            up = parent[member[j + _NEAR]]
            _prefetch(parent, up)
            if track:
                _prefetch(size, up)
        rb = _find(parent, member[j])
        ra = rb if j == 0 or group[j] != group[j - 1] else ra  # a run's first row starts it
        lo = min(ra, rb)
        hi = max(ra, rb)
        parent[hi] = lo  # link by minimum
        out_row[merges] = j  # kept if this row merged (at most one merge per row)
        if track and lo != hi:
            out_large[merges] = size[lo] >= large and size[hi] >= large
            size[lo] += size[hi]
        merges += lo != hi
        ra = lo
    return merges


@njit(cache=True, nogil=True)
def evidence(
    group: np.ndarray,
    member: np.ndarray,
    rows: np.ndarray,
    out_a: np.ndarray,
    out_b: np.ndarray,
    out_group: np.ndarray,
) -> None:
    """The merges of ``union_groups`` (their rows, ascending) as (first member of the run,
    member merged, group)."""
    start = end = 0  # the current run: rows [start, end)
    n = group.size
    for k in range(rows.size):
        j = rows[k]
        g = group[j]
        if j >= end:  # each run is walked once
            start = end = j
            while start > 0 and group[start - 1] == g:
                start -= 1
            while end < n and group[end] == g:
                end += 1
        out_a[k] = member[start]
        out_b[k] = member[j]
        out_group[k] = g


@njit(cache=True, nogil=True)
def union_pairs(
    parent: np.ndarray,
    size: np.ndarray,
    large: int,
    a: np.ndarray,
    b: np.ndarray,
    merged: np.ndarray,
    out_large: np.ndarray,
) -> int:
    """Union ``a[i]`` with ``b[i]``; ``merged[i]`` says whether that edge joined two
    components (the edges to keep as evidence). Returns the number of merges."""
    merges = 0
    track = size.size > 0
    stop = a.size - _FAR
    for i in range(a.size):
        if i < stop:
            _prefetch(parent, a[i + _FAR])
            _prefetch(parent, b[i + _FAR])
            up_a, up_b = parent[a[i + _NEAR]], parent[b[i + _NEAR]]
            _prefetch(parent, up_a)
            _prefetch(parent, up_b)
            if track:
                _prefetch(size, up_a)
                _prefetch(size, up_b)
        ra = _find(parent, a[i])
        rb = _find(parent, b[i])
        if ra != rb:
            out_large[i] = _link(parent, size, ra, rb, large)
            merged[i] = True
            merges += 1
        else:
            merged[i] = False
            out_large[i] = False
    return merges


@njit(cache=True, nogil=True)
def flatten(parent: np.ndarray) -> None:
    """Point every address straight at its root, in place (the root is the smallest id,
    and a parent is never larger than its child, so one pass in id order suffices)."""
    for x in range(parent.size):
        parent[x] = parent[parent[x]]


@njit(cache=True, nogil=True)
def find_many(parent: np.ndarray, xs: np.ndarray, out: np.ndarray) -> None:
    stop = xs.size - _FAR
    for i in range(xs.size):
        if i < stop:
            _prefetch(parent, xs[i + _FAR])
            _prefetch(parent, parent[xs[i + _NEAR]])
        out[i] = _find(parent, xs[i])


class UnionFind:
    """A forest over ``n`` addresses; ``parent`` may come from a saved, flattened run.

    With ``large`` set, component sizes are tracked (4 more bytes per address while the
    run lasts) and every merge of two components of at least ``large`` addresses is
    flagged."""

    def __init__(self, n: int, parent: np.ndarray | None = None, large: int = 0) -> None:
        self.parent = new_forest(n) if parent is None else grow(np.array(parent), n)
        self.large = large
        self.sizes = np.empty(0, dtype=self.parent.dtype)
        if large > 0:
            roots = self.roots()
            self.sizes = np.bincount(roots, minlength=roots.size).astype(self.parent.dtype)

    @property
    def size(self) -> int:
        return int(self.parent.size)

    def grow(self, n: int) -> None:
        old = self.parent.size
        self.parent = grow(self.parent, n)
        if self.large > 0 and n > old:
            self.sizes = np.concatenate([self.sizes, np.ones(n - old, dtype=self.sizes.dtype)])

    def union_groups(
        self, group: np.ndarray, member: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """See ``union_groups``: the merges as (a, b, group, joined-two-large) arrays."""
        member = np.ascontiguousarray(member)
        group = np.ascontiguousarray(group)
        rows, large = self.union_group_rows(group, member)
        a = np.empty(rows.size, dtype=self.parent.dtype)
        b = np.empty(rows.size, dtype=self.parent.dtype)
        g = np.empty(rows.size, dtype=np.int64)
        evidence(group, member, rows, a, b, g)
        return a, b, g, large

    def union_group_rows(
        self, group: np.ndarray, member: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """See ``union_groups``: the merges as the rows that made them (int32 while there
        are fewer than 2**31 rows: 4 bytes per merge) and whether each joined two large
        components; ``evidence`` gives their (a, b, group)."""
        member = np.ascontiguousarray(member)
        group = np.ascontiguousarray(group)
        if member.dtype.kind not in "iu" or group.dtype.kind not in "iu":
            member, group = member.astype(np.int64), group.astype(np.int64)
        if member.dtype == np.uint64:  # numba would mix it with the forest's ints as floats
            member = member.astype(np.int64)
        # at most one merge per input and per address; the pages past the merges made are
        # never written, so they never become resident
        cap = min(member.size, self.parent.size)
        out_r = np.empty(cap, dtype=np.int32 if member.size <= INT32_LIMIT else np.int64)
        out_l = np.zeros(cap if self.sizes.size else 1, dtype=np.bool_)
        k = union_groups(self.parent, self.sizes, self.large, group, member, out_r, out_l)
        large = out_l[:k] if self.sizes.size else np.zeros(k, dtype=np.bool_)
        return out_r[:k], large

    def union_pairs(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Union each pair: the masks of the pairs that merged two components, and of those
        that merged two large ones."""
        a = np.ascontiguousarray(a, dtype=np.int64)
        b = np.ascontiguousarray(b, dtype=np.int64)
        merged = np.zeros(a.size, dtype=np.bool_)
        large = np.zeros(a.size, dtype=np.bool_)
        union_pairs(self.parent, self.sizes, self.large, a, b, merged, large)
        return merged, large

    def roots(self) -> np.ndarray:
        """address id -> entity id (its component's smallest address id); flattens."""
        flatten(self.parent)
        return self.parent

    def find(self, xs: np.ndarray) -> np.ndarray:
        xs = np.ascontiguousarray(xs, dtype=np.int64)
        out = np.empty(xs.size, dtype=np.int64)
        find_many(self.parent, xs, out)
        return out

    def component_size(self, x: int) -> int:
        if self.sizes.size:
            return int(self.sizes[int(self.find(np.array([x]))[0])])
        return -1

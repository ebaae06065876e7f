"""The union-find against networkx's connected components, and its invariants."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from chainsleuth.entities.unionfind import UnionFind, grow, new_forest


@pytest.mark.parametrize("seed", range(6))
def test_pairs_match_networkx(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 2_000))
    m = int(rng.integers(0, 2 * n))
    a = rng.integers(0, n, m)
    b = rng.integers(0, n, m)
    uf = UnionFind(n)
    merged, _ = uf.union_pairs(a, b)
    roots = uf.roots()
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(a.tolist(), b.tolist(), strict=True))
    components = list(nx.connected_components(g))
    want = np.empty(n, dtype=np.int64)
    for comp in components:
        want[list(comp)] = min(comp)  # the entity id is the smallest member
    assert np.array_equal(roots, want)
    # the merges form a spanning forest: exactly n - components of them, and they alone
    # connect the same components
    assert int(merged.sum()) == n - len(components)
    forest = nx.Graph()
    forest.add_nodes_from(range(n))
    forest.add_edges_from(zip(a[merged].tolist(), b[merged].tolist(), strict=True))
    assert nx.is_forest(forest)
    assert sorted(map(sorted, nx.connected_components(forest))) == sorted(map(sorted, components))


@pytest.mark.parametrize("seed", range(4))
def test_groups_match_networkx(seed: int) -> None:
    """Multi-input: every transaction's inputs are one entity; merges name their tx."""
    rng = np.random.default_rng(100 + seed)
    n, txs = 3_000, 1_500
    sizes = rng.integers(1, 6, txs)
    group = np.repeat(np.arange(txs), sizes)
    member = rng.integers(0, n, group.size)
    uf = UnionFind(n, large=1)
    a, b, tx, _ = uf.union_groups(group, member)
    roots = uf.roots()
    g = nx.Graph()
    g.add_nodes_from(range(n))
    for t in range(txs):
        ins = member[group == t].tolist()
        g.add_edges_from((ins[0], x) for x in ins[1:])
    want = np.empty(n, dtype=np.int64)
    for comp in nx.connected_components(g):
        want[list(comp)] = min(comp)
    assert np.array_equal(roots, want)
    for x, y, t in zip(a.tolist(), b.tolist(), tx.tolist(), strict=True):
        assert x in member[group == t] and y in member[group == t]
    assert np.array_equal(np.bincount(roots, minlength=n)[roots], uf.sizes[roots])


def test_incremental_equals_all_at_once() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 500, 800), rng.integers(0, 500, 800)
    whole = UnionFind(500)
    whole.union_pairs(a, b)
    first = UnionFind(300)
    keep = (a < 300) & (b < 300)
    first.union_pairs(a[keep], b[keep])
    later = UnionFind(500, parent=first.roots().copy())
    later.union_pairs(a[~keep], b[~keep])
    assert np.array_equal(later.roots(), whole.roots())


def test_large_merge_is_flagged() -> None:
    uf = UnionFind(8, large=3)
    uf.union_pairs(np.array([0, 0, 4, 4]), np.array([1, 2, 5, 6]))
    merged, large = uf.union_pairs(np.array([1, 3]), np.array([6, 0]))
    assert merged.tolist() == [True, True] and large.tolist() == [True, False]
    assert uf.component_size(6) == 7


def test_forest_helpers() -> None:
    f = new_forest(4)
    assert f.dtype == np.int32 and f.tolist() == [0, 1, 2, 3]
    f[3] = 1
    g = grow(f, 6)
    assert g.tolist() == [0, 1, 2, 1, 4, 5]
    assert grow(g, 3) is g


def test_group_rows_name_their_merges() -> None:
    """``union_group_rows`` records each merge as its input row (4 bytes); ``evidence``
    turns the rows into (first input, merged input, tx), also where a tx's value comes
    back in a later run of rows and where one-input txs sit between."""
    from chainsleuth.entities.unionfind import evidence

    group = np.array([5, 5, 5, 9, 3, 3, 5, 5, 7], dtype=np.int64)
    member = np.array([4, 1, 2, 8, 6, 4, 0, 3, 7], dtype=np.int64)
    uf = UnionFind(10)
    rows, large = uf.union_group_rows(group, member)
    assert rows.dtype == np.int32 and not large.any()
    assert rows.tolist() == [1, 2, 5, 7]  # row 5 joins 6 to 4's entity; rows 6-7: a new run
    a = np.empty(rows.size, dtype=np.int32)
    b = np.empty(rows.size, dtype=np.int32)
    tx = np.empty(rows.size, dtype=np.int64)
    evidence(group, member, rows, a, b, tx)
    assert list(zip(a.tolist(), b.tolist(), tx.tolist(), strict=True)) == [
        (4, 1, 5), (4, 2, 5), (6, 4, 3), (0, 3, 5),
    ]  # fmt: skip
    assert uf.roots().tolist() == [0, 1, 1, 0, 1, 5, 1, 7, 8, 9]


def reference_groups(
    group: list[int], member: list[int], n: int, large: int
) -> tuple[list[int], list[bool], list[int]]:
    """Multi-input clustering the plain way, one row at a time: the merge rows, their
    joined-two-large flags and every address's root."""
    parent, size = list(range(n)), [1] * n

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    rows: list[int] = []
    flags: list[bool] = []
    ra = -1
    for j, (g, x) in enumerate(zip(group, member, strict=True)):
        rb = find(x)
        if j == 0 or g != group[j - 1]:
            ra = rb
        elif ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)
            flags.append(size[lo] >= large and size[hi] >= large)
            size[lo] += size[hi]
            parent[hi] = lo
            rows.append(j)
            ra = lo
    return rows, flags, [find(x) for x in range(n)]


@pytest.mark.parametrize(
    ("seed", "dtype"), [(0, np.int64), (1, np.int32), (2, np.uint32), (3, np.uint64)]
)
def test_group_rows_match_the_plain_loop(seed: int, dtype: type) -> None:
    """The prefetching, branch-free kernel makes exactly the merges of the plain loop, in
    the same rows, with the same large-merge flags: on inputs long enough for the
    prefetches to run ahead (and stop before the end), with one-input runs, long runs, a
    tx id that comes back later, repeated addresses, and unsigned ids."""
    rng = np.random.default_rng(seed)
    n = 700
    sizes = np.minimum(rng.geometric(0.5, 900), 30)
    group = np.repeat(rng.integers(0, 400, sizes.size), sizes).astype(dtype)
    home = np.repeat(rng.integers(0, n, sizes.size), sizes)
    member = ((home + rng.integers(-5, 6, group.size)) % n).astype(dtype)
    want_rows, want_flags, want_roots = reference_groups(group.tolist(), member.tolist(), n, 20)
    uf = UnionFind(n, large=20)
    rows, large = uf.union_group_rows(group, member)
    assert rows.tolist() == want_rows and large.tolist() == want_flags
    assert sum(want_flags) > 0
    assert uf.roots().tolist() == want_roots
    plain = UnionFind(n)
    rows, large = plain.union_group_rows(group, member)
    assert rows.tolist() == want_rows and not large.any()
    assert plain.roots().tolist() == want_roots


def test_group_rows_edge_cases() -> None:
    uf = UnionFind(3, large=1)
    rows, large = uf.union_group_rows(np.empty(0, np.int64), np.empty(0, np.int64))
    assert rows.size == 0 and large.size == 0 and uf.roots().tolist() == [0, 1, 2]
    # every row merges but the first: the evidence buffer is exactly full
    rows, large = uf.union_group_rows(np.zeros(3, np.int64), np.array([2, 1, 0]))
    assert rows.tolist() == [1, 2] and large.tolist() == [True, True]
    assert uf.roots().tolist() == [0, 0, 0]
    rows, _ = uf.union_group_rows(np.array([4, 4]), np.array([1, 1]))
    assert rows.size == 0


def test_find_many_and_pairs_past_the_prefetch_distance() -> None:
    rng = np.random.default_rng(11)
    n = 5_000
    a, b = rng.integers(0, n, 3_000), rng.integers(0, n, 3_000)
    uf = UnionFind(n, large=50)
    merged, large = uf.union_pairs(a, b)
    xs = rng.integers(0, n, 2_000)
    found = uf.find(xs)
    roots = uf.roots().copy()
    assert np.array_equal(found, roots[xs])
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(a.tolist(), b.tolist(), strict=True))
    assert int(merged.sum()) == n - nx.number_connected_components(g)
    assert large.any() and not (large & ~merged).any()

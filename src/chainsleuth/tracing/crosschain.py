"""Following an asset across a swap or a bridge, from on-chain data and known contracts.

Two rules turn pairs of flows into one edge between two *positions* (an address holding
one asset), replacing the flows they pair so that no value is counted twice:

* **Swap** (a DEX pool, a wrapped-ether contract: ``Services.converters``). In one
  transaction, an address pays asset X into a converter, and the converter (or the null
  address, as a mint) pays asset Y != X out to an address: the edge runs from (payer, X)
  to (receiver, Y), amount in X and amount out Y, as the transaction itself priced it.
  Several legs in one transaction are paired pro rata (integer division, rounding down).
* **Bridge** (``Services.bridges``: a bridge's contracts, operators and vaults on each
  chain). A *lock* is a payment into the bridge on chain A from outside it; a *release*
  a payment out of the bridge on chain B to outside it. A release answers a lock when it
  comes after it, within ``bridge_window_minutes``, and its amount is consistent with the
  rate of the other transfers of the time: every candidate pair has a rate
  ``log(release / lock)``; pairs that are the only candidate of both their lock and their
  release are *anchors*; a lock's reference rate is the median rate of the anchors
  within two days (all candidates when there is no anchor); pairs are accepted one to one,
  closest to the reference first, while within ``bridge_rate_tolerance``. The matched
  lock becomes an edge (locker, asset) -> (recipient, released asset) at the lock's
  time, and the release's own flow out of the bridge is dropped.

No ground truth is read: the world's ``truth/bridge_transfers.parquet`` is used only by
the tests, to score these rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from chainsleuth.tracing.flowsource import BASE, RawFlows

KIND_FLOW = 0
KIND_SWAP = 1
KIND_BRIDGE = 2
KINDS = {KIND_FLOW: "flow", KIND_SWAP: "swap", KIND_BRIDGE: "bridge"}

_TWO_DAYS = 2 * 86_400


@dataclass
class CrossEdges:
    """Edges that replace paired flows; ``drops[chain]`` marks the flows they replace."""

    src_chain: list[str] = field(default_factory=list)
    src: list[int] = field(default_factory=list)
    src_asset: list[int] = field(default_factory=list)
    dst_chain: list[str] = field(default_factory=list)
    dst: list[int] = field(default_factory=list)
    dst_asset: list[int] = field(default_factory=list)
    time: list[int] = field(default_factory=list)
    tx: list[int] = field(default_factory=list)  # on the source chain
    tx2: list[int] = field(default_factory=list)  # the release (bridge) or the same tx
    kind: list[int] = field(default_factory=list)
    amount_in: list[int] = field(default_factory=list)  # exact, source asset
    amount_out: list[int] = field(default_factory=list)  # exact, destination asset
    raw: list[list[tuple[str, int]]] = field(default_factory=list)  # flows it replaces
    drops: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.src)

    def add(
        self,
        *,
        src_chain: str,
        src: int,
        src_asset: int,
        dst_chain: str,
        dst: int,
        dst_asset: int,
        time: int,
        tx: int,
        tx2: int,
        kind: int,
        amount_in: int,
        amount_out: int,
        raw: list[tuple[str, int]],
    ) -> None:
        self.src_chain.append(src_chain)
        self.src.append(src)
        self.src_asset.append(src_asset)
        self.dst_chain.append(dst_chain)
        self.dst.append(dst)
        self.dst_asset.append(dst_asset)
        self.time.append(time)
        self.tx.append(tx)
        self.tx2.append(tx2)
        self.kind.append(kind)
        self.amount_in.append(amount_in)
        self.amount_out.append(amount_out)
        self.raw.append(raw)
        for chain, i in raw:
            self.drops[chain][i] = True


def find_cross_edges(
    flows: dict[str, RawFlows],
    converters: dict[str, np.ndarray],
    mint: dict[str, int],
    bridges: list[dict[str, np.ndarray]],
    *,
    window_s: int,
    tolerance: float,
) -> CrossEdges:
    """Swap and bridge edges of these flows (address ids of the services per chain)."""
    out = CrossEdges(drops={c: np.zeros(len(f), dtype=bool) for c, f in flows.items()})
    for chain, conv in converters.items():
        if chain in flows and conv.size:
            _swaps(out, chain, flows[chain], np.sort(conv), mint.get(chain, -2))
    for bridge in bridges:
        for a, addr_a in bridge.items():
            for b, addr_b in bridge.items():
                if a != b and a in flows and b in flows:
                    _bridge(
                        out, a, flows[a], np.sort(addr_a), b, flows[b], np.sort(addr_b),
                        window_s=window_s, tolerance=tolerance,
                    )  # fmt: skip
    return out


def _swaps(out: CrossEdges, chain: str, f: RawFlows, conv: np.ndarray, mint: int) -> None:
    into = np.isin(f.dst, conv) & ~np.isin(f.src, conv) & (f.src >= 0)
    outof = (np.isin(f.src, conv) | (f.src == mint)) & ~np.isin(f.dst, conv) & (f.dst >= 0)
    txs = np.intersect1d(f.tx[into], f.tx[outof])
    if txs.size == 0:
        return
    lo = np.searchsorted(f.tx, txs, side="left")
    hi = np.searchsorted(f.tx, txs, side="right")
    for tx, a, b in zip(txs.tolist(), lo.tolist(), hi.tolist(), strict=True):
        legs = range(a, b)
        ins = [i for i in legs if into[i] and not out.drops[chain][i]]
        outs = [j for j in legs if outof[j] and not out.drops[chain][j]]
        if not ins or not outs:
            continue
        if {int(f.asset[i]) for i in ins} & {int(f.asset[j]) for j in outs}:
            continue  # the same asset in and out: a payment through, not a swap
        total_in = sum(f.exact(i) for i in ins)
        total_out = sum(f.exact(j) for j in outs)
        for i in ins:
            for j in outs:
                amount_in = f.exact(i) * f.exact(j) // total_out
                amount_out = f.exact(j) * f.exact(i) // total_in
                if amount_in <= 0 or amount_out <= 0:
                    continue
                out.add(
                    src_chain=chain,
                    src=int(f.src[i]),
                    src_asset=int(f.asset[i]),
                    dst_chain=chain,
                    dst=int(f.dst[j]),
                    dst_asset=int(f.asset[j]),
                    time=int(f.time[i]),
                    tx=tx,
                    tx2=tx,
                    kind=KIND_SWAP,
                    amount_in=amount_in,
                    amount_out=amount_out,
                    raw=[(chain, i), (chain, j)],
                )


def _bridge(
    out: CrossEdges,
    a: str,
    fa: RawFlows,
    bridge_a: np.ndarray,
    b: str,
    fb: RawFlows,
    bridge_b: np.ndarray,
    *,
    window_s: int,
    tolerance: float,
) -> None:
    locks = np.flatnonzero(
        np.isin(fa.dst, bridge_a) & ~np.isin(fa.src, bridge_a) & (fa.src >= 0) & ~out.drops[a]
    )
    releases = np.flatnonzero(
        np.isin(fb.src, bridge_b) & ~np.isin(fb.dst, bridge_b) & (fb.dst >= 0) & ~out.drops[b]
    )
    if locks.size == 0 or releases.size == 0:
        return
    r_order = releases[np.argsort(fb.time[releases], kind="stable")]
    r_time = fb.time[r_order]
    candidates: list[tuple[int, int, float]] = []  # lock, release, log rate
    for lock in locks.tolist():
        t = int(fa.time[lock])
        lo = int(np.searchsorted(r_time, t, side="right"))
        hi = int(np.searchsorted(r_time, t + window_s, side="right"))
        for k in range(lo, hi):
            rel = int(r_order[k])
            rate = math.log(fb.exact(rel)) - math.log(fa.exact(lock))
            candidates.append((lock, rel, rate))
    if not candidates:
        return
    per_lock: dict[int, int] = {}
    per_release: dict[int, int] = {}
    for lock, rel, _ in candidates:
        per_lock[lock] = per_lock.get(lock, 0) + 1
        per_release[rel] = per_release.get(rel, 0) + 1
    anchors = [
        (int(fa.time[lock]), rate)
        for lock, rel, rate in candidates
        if per_lock[lock] == 1 and per_release[rel] == 1
    ]
    pool = anchors or [(int(fa.time[lock]), rate) for lock, _, rate in candidates]
    pool_t = np.array([p[0] for p in pool], dtype=np.int64)
    pool_r = np.array([p[1] for p in pool], dtype=np.float64)
    scored: list[tuple[float, int, int]] = []
    for lock, rel, rate in candidates:
        t = int(fa.time[lock])
        near = np.abs(pool_t - t) <= _TWO_DAYS
        ref = float(np.median(pool_r[near])) if near.any() else float(np.median(pool_r))
        scored.append((abs(rate - ref), lock, rel))
    scored.sort()
    limit = math.log1p(tolerance)
    used_locks: set[int] = set()
    used_releases: set[int] = set()
    for gap, lock, rel in scored:
        if gap > limit or lock in used_locks or rel in used_releases:
            continue
        used_locks.add(lock)
        used_releases.add(rel)
        out.add(
            src_chain=a,
            src=int(fa.src[lock]),
            src_asset=int(fa.asset[lock]),
            dst_chain=b,
            dst=int(fb.dst[rel]),
            dst_asset=int(fb.asset[rel]),
            time=int(fa.time[lock]),
            tx=int(fa.tx[lock]),
            tx2=int(fb.tx[rel]),
            kind=KIND_BRIDGE,
            amount_in=fa.exact(lock),
            amount_out=fb.exact(rel),
            raw=[(a, lock), (b, rel)],
        )


def split_exact(values: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Exact amounts as (hi, lo) int64 arrays (``amount = hi * BASE + lo``)."""
    hi = np.array([v // BASE for v in values], dtype=np.int64)
    lo = np.array([v % BASE for v in values], dtype=np.int64)
    return hi, lo

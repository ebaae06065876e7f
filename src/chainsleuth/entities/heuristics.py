"""The clustering heuristics' detectors: CoinJoin shapes, change outputs, deposit addresses.

All of them work on integer ids and run per chunk of blocks (numba kernels over rows sorted
by transaction), except the account-chain deposit detection, which aggregates the whole
history in DuckDB (it needs every transfer of an address to call it a deposit address).

**CoinJoin shapes** (per transaction; only transactions with two or more distinct input
addresses matter, the others merge nothing). ``k`` is the count of the most frequent output
value, ``n_out`` the outputs with an address, ``n_in`` the distinct input addresses:

* Whirlpool: 5 inputs, 5 outputs, all of one value;
* Wasabi: ``k >= 10`` equal outputs and ``n_in >= 5``;
* JoinMarket: ``k >= 3`` equal outputs, ``n_in >= k`` and ``2k - 1 <= n_out <= 2k + 1``
  (one equal output and one change output per taker/maker);
* any other equal-output CoinJoin: ``k >= 3`` and ``n_in >= 2``.

**Change** (a transaction with inputs, two or more outputs with an address, not a CoinJoin;
each heuristic names at most one output, and when the enabled ones disagree none is used):

* ``change-fresh`` (one-time change, Meiklejohn et al. 2013): exactly one output address is
  seen for the first time in this block and every other output address was seen before;
* ``change-script``: all inputs are of one script type and exactly one output is of it;
* ``change-round``: every output but one is a round amount (a multiple of 10^5 units): the
  odd one is the change;
* ``change-reuse``: an output goes back to one of the input addresses: that is the change,
  so the other outputs are payments and no change link is made for the transaction (it
  guards the other heuristics; it merges nothing itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
from numba import njit

from chainsleuth.chain import storage

#: script types in the stored outputs, coded 1.. (0: none/other)
SCRIPTS = ["p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "nulldata"]
#: a round amount: a multiple of this many of the smallest unit
ROUND_UNIT = 100_000


class CoinJoinKind:
    NONE = 0
    EQUAL_OUTPUT = 1
    WHIRLPOOL = 2
    WASABI = 3
    JOINMARKET = 4

    NAMES = {0: "none", 1: "equal-output", 2: "whirlpool", 3: "wasabi", 4: "joinmarket"}


@njit(cache=True, nogil=True)
def _classify(n_in_rows: int, n_in: int, n_out: int, k: int) -> int:
    if n_in < 2 or k < 2:
        return 0
    if n_in_rows == 5 and n_out == 5 and k == 5:
        return 2
    if k >= 10 and n_in >= 5:
        return 3
    if k >= 3 and n_in >= k and 2 * k - 1 <= n_out <= 2 * k + 1:
        return 4
    if k >= 3:
        return 1
    return 0


@njit(cache=True, nogil=True)
def coinjoin_kinds(
    in_tx: np.ndarray,
    in_addr: np.ndarray,
    out_tx: np.ndarray,
    out_value: np.ndarray,
    tx_out: np.ndarray,
    kind_out: np.ndarray,
) -> int:
    """Classify the transactions of a chunk. ``in_*`` sorted by (tx, address), ``out_*``
    (outputs with an address) sorted by (tx, value). Writes the CoinJoin transactions and
    their kinds to ``tx_out``/``kind_out``; returns how many."""
    found = 0
    j = 0
    n_out_rows = out_tx.size
    i = 0
    while i < in_tx.size:
        t = in_tx[i]
        rows = 0
        distinct = 0
        prev = -1
        while i < in_tx.size and in_tx[i] == t:
            if in_addr[i] != prev:
                distinct += 1
                prev = in_addr[i]
            rows += 1
            i += 1
        if distinct < 2:
            continue
        while j < n_out_rows and out_tx[j] < t:
            j += 1
        n_out = 0
        k = 0
        run = 0
        last = -1
        while j < n_out_rows and out_tx[j] == t:
            v = out_value[j]
            if v > 0:
                if v == last:
                    run += 1
                else:
                    run = 1
                    last = v
                if run > k:
                    k = run
            n_out += 1
            j += 1
        kind = _classify(rows, distinct, n_out, k)
        if kind:
            tx_out[found] = t
            kind_out[found] = kind
            found += 1
    return found


def detect_coinjoins(
    in_tx: np.ndarray, in_addr: np.ndarray, out_tx: np.ndarray, out_value: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(tx ids, kinds) of the CoinJoin-like transactions; see the module docstring."""
    tx_out = np.empty(max(1, in_tx.size // 2), dtype=np.int64)
    kind_out = np.empty(tx_out.size, dtype=np.int8)
    n = coinjoin_kinds(
        np.ascontiguousarray(in_tx, dtype=np.int64),
        np.ascontiguousarray(in_addr, dtype=np.int64),
        np.ascontiguousarray(out_tx, dtype=np.int64),
        np.ascontiguousarray(out_value, dtype=np.int64),
        tx_out,
        kind_out,
    )
    return tx_out[:n].copy(), kind_out[:n].copy()


@dataclass(frozen=True)
class ChangeSwitches:
    fresh: bool = False
    script: bool = False
    round: bool = False
    reuse: bool = False

    @property
    def any(self) -> bool:
        return self.fresh or self.script or self.round


@njit(cache=True, nogil=True)
def _change_kernel(
    in_tx: np.ndarray,
    in_addr: np.ndarray,
    out_tx: np.ndarray,
    out_addr: np.ndarray,
    out_value: np.ndarray,
    out_script: np.ndarray,
    out_height: np.ndarray,
    addr_script: np.ndarray,
    addr_first: np.ndarray,
    skip_tx: np.ndarray,
    use_fresh: bool,
    use_script: bool,
    use_round: bool,
    use_reuse: bool,
    round_unit: int,
    res_tx: np.ndarray,
    res_a: np.ndarray,
    res_b: np.ndarray,
    res_code: np.ndarray,
) -> int:
    found = 0
    i = 0
    j = 0
    s = 0
    n_in = in_tx.size
    n_out = out_tx.size
    while i < n_in:
        t = in_tx[i]
        i0 = i
        while i < n_in and in_tx[i] == t:
            i += 1
        while s < skip_tx.size and skip_tx[s] < t:
            s += 1
        while j < n_out and out_tx[j] < t:
            j += 1
        o0 = j
        while j < n_out and out_tx[j] == t:
            j += 1
        if s < skip_tx.size and skip_tx[s] == t:
            continue
        # outputs with an address
        valid = 0
        for o in range(o0, j):
            if out_addr[o] >= 0:
                valid += 1
        if valid < 2:
            continue
        # an output back to an input address: the change is known
        back = False
        for o in range(o0, j):
            a = out_addr[o]
            if a < 0:
                continue
            for q in range(i0, i):
                if in_addr[q] == a:
                    back = True
                    break
            if back:
                break
        if back and use_reuse:
            continue
        anchor = in_addr[i0]
        pick = -1
        code = 0
        conflict = False
        # change-script (confidence 0.7)
        if use_script and not conflict:
            st = addr_script[in_addr[i0]]
            same = st > 0
            for q in range(i0 + 1, i):
                if addr_script[in_addr[q]] != st:
                    same = False
                    break
            if same:
                hits = 0
                cand = -1
                for o in range(o0, j):
                    if out_addr[o] >= 0 and out_script[o] == st:
                        hits += 1
                        cand = out_addr[o]
                if hits == 1:
                    pick = cand
                    code = 3
        # change-fresh (0.6)
        if use_fresh and not conflict:
            fresh = 0
            cand = -1
            for o in range(o0, j):
                a = out_addr[o]
                if a >= 0 and addr_first[a] >= out_height[o]:
                    fresh += 1
                    cand = a
            if fresh == 1:
                if pick < 0:
                    pick = cand
                    code = 2
                elif pick != cand:
                    conflict = True
        # change-round (0.5)
        if use_round and not conflict:
            odd = 0
            cand = -1
            for o in range(o0, j):
                a = out_addr[o]
                if a >= 0 and out_value[o] % round_unit != 0:
                    odd += 1
                    cand = a
            if odd == 1:
                if pick < 0:
                    pick = cand
                    code = 4
                elif pick != cand:
                    conflict = True
        if conflict or pick < 0:
            continue
        res_tx[found] = t
        res_a[found] = anchor
        res_b[found] = pick
        res_code[found] = code
        found += 1
    return found


def change_links(
    *,
    in_tx: np.ndarray,
    in_addr: np.ndarray,
    out_tx: np.ndarray,
    out_addr: np.ndarray,
    out_value: np.ndarray,
    out_script: np.ndarray,
    out_height: np.ndarray,
    addr_script: np.ndarray,
    addr_first: np.ndarray,
    skip_tx: np.ndarray,
    switches: ChangeSwitches,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(tx, input address, change address, heuristic code) per transaction whose change the
    enabled heuristics name. Rows sorted by tx (inputs) and by (tx, n) (outputs)."""
    cap = max(1, np.unique(in_tx).size if in_tx.size else 1)
    res_tx = np.empty(cap, dtype=np.int64)
    res_a = np.empty(cap, dtype=np.int64)
    res_b = np.empty(cap, dtype=np.int64)
    res_code = np.empty(cap, dtype=np.int8)
    n = _change_kernel(
        np.ascontiguousarray(in_tx, dtype=np.int64),
        np.ascontiguousarray(in_addr, dtype=np.int64),
        np.ascontiguousarray(out_tx, dtype=np.int64),
        np.ascontiguousarray(out_addr, dtype=np.int64),
        np.ascontiguousarray(out_value, dtype=np.int64),
        np.ascontiguousarray(out_script, dtype=np.int8),
        np.ascontiguousarray(out_height, dtype=np.int64),
        addr_script,
        addr_first,
        np.ascontiguousarray(np.sort(skip_tx), dtype=np.int64),
        switches.fresh,
        switches.script,
        switches.round,
        switches.reuse,
        ROUND_UNIT,
        res_tx,
        res_a,
        res_b,
        res_code,
    )
    return res_tx[:n].copy(), res_a[:n].copy(), res_b[:n].copy(), res_code[:n].copy()


# --- account chains: deposit addresses (Victor 2020) -------------------------------------------


@dataclass(frozen=True)
class DepositParams:
    """How a deposit address and a hot wallet are recognised (see docs/entities.md)."""

    min_forwarders: int = 3  # distinct deposit addresses that sweep into a hot wallet
    max_delay_blocks: int = 216_000  # a forward follows each receipt within this (30 days)
    min_forwarded: float = 0.5  # share of what it received (per asset) that it forwards


@dataclass(frozen=True)
class DepositLinks:
    deposits: np.ndarray  # deposit address ids
    hot: np.ndarray  # the hot wallet of each
    sweep_tx: np.ndarray  # its first forward to the hot wallet
    # sender links: (anchor sender, sender, sender's first tx to the deposit, anchor's, deposit)
    anchor: np.ndarray
    sender: np.ndarray
    sender_tx: np.ndarray
    anchor_tx: np.ndarray
    via: np.ndarray

    @property
    def hot_wallets(self) -> np.ndarray:
        return np.unique(self.hot)


def deposit_links(
    con: duckdb.DuckDBPyConnection,
    chain: str,
    txs_files: list[str],
    transfer_files: list[str],
    params: DepositParams,
) -> DepositLinks:
    """Deposit addresses, their hot wallets and the senders they tie together.

    A *forwarder* is an address that is no contract, sends to exactly one counterparty
    (native value or tokens), forwards at least ``min_forwarded`` of what it received from
    others per asset (up to its last forward), and does so within ``max_delay_blocks``
    after each receipt (receipts younger than that at the tip are not held against it). A
    *hot wallet* is a non-contract address that at least ``min_forwarders`` forwarders
    sweep into; those forwarders are its deposit addresses. The senders of a deposit address
    (neither contracts nor hot wallets) are tied together."""
    empty = np.empty(0, dtype=np.int64)
    if not txs_files:
        return DepositLinks(empty, empty, empty, empty, empty, empty, empty, empty)
    transfers = """
        SELECT from_id AS src, to_id AS dst, tx_id, height, -1::BIGINT AS asset,
               value::DOUBLE AS amt
        FROM read_parquet($txs::VARCHAR[])
        WHERE status = 1 AND to_id IS NOT NULL AND value > 0
    """
    if transfer_files:
        transfers += """
        UNION ALL
        SELECT from_id, to_id, tx_id, height, token_id, amount::DOUBLE
        FROM read_parquet($tt::VARCHAR[]) WHERE amount > 0
        """
        tokens = "UNION SELECT DISTINCT token_id FROM read_parquet($tt::VARCHAR[])"
    else:
        tokens = ""
    sql = f"""
    WITH t AS ({transfers}),
    contracts AS (
        SELECT created_contract_id AS id FROM read_parquet($txs::VARCHAR[])
        WHERE created_contract_id IS NOT NULL
        UNION SELECT to_id FROM read_parquet($txs::VARCHAR[]) WHERE method IS NOT NULL
            AND to_id IS NOT NULL
        UNION SELECT address_id FROM addresses WHERE chain = $chain AND kind = 'contract'
        {tokens}
    ),
    outs AS (
        SELECT src, min(dst) AS dst, count(DISTINCT dst) AS n_dst FROM t GROUP BY src
    ),
    cand AS (
        SELECT o.src AS d, o.dst AS h FROM outs o
        WHERE o.n_dst = 1
          AND o.src NOT IN (SELECT id FROM contracts)
          AND o.dst NOT IN (SELECT id FROM contracts)
    ),
    recv AS (
        SELECT c.d, c.h, t.src, t.tx_id, t.height, t.asset, t.amt
        FROM cand c JOIN t ON t.dst = c.d AND t.src <> c.h
    ),
    fwd AS (
        SELECT c.d, t.tx_id, t.height, t.asset, t.amt
        FROM cand c JOIN t ON t.src = c.d AND t.dst = c.h
    ),
    last_fwd AS (SELECT d, max(height) AS h FROM fwd GROUP BY d),
    ratio AS (
        SELECT r.d, r.asset, sum(r.amt) AS got,
               (SELECT coalesce(sum(f.amt), 0) FROM fwd f
                WHERE f.d = r.d AND f.asset = r.asset) AS sent
        FROM recv r JOIN last_fwd l ON l.d = r.d AND r.height <= l.h
        GROUP BY r.d, r.asset
    ),
    late AS (
        SELECT DISTINCT r.d FROM recv r
        WHERE r.height <= (SELECT max(height) FROM t) - $delay
          AND NOT EXISTS (
            SELECT 1 FROM fwd f WHERE f.d = r.d
              AND f.height BETWEEN r.height AND r.height + $delay)
    ),
    fwders AS (
        SELECT c.d, c.h FROM cand c
        WHERE c.d IN (SELECT d FROM recv)
          AND c.d NOT IN (SELECT d FROM late)
          AND NOT EXISTS (SELECT 1 FROM ratio x WHERE x.d = c.d AND x.sent < $share * x.got)
    ),
    hot AS (
        SELECT h FROM fwders GROUP BY h HAVING count(*) >= $min_fwd
    )
    SELECT f.d, f.h, (SELECT min(tx_id) FROM fwd x WHERE x.d = f.d) AS sweep
    FROM fwders f WHERE f.h IN (SELECT h FROM hot)
      AND f.d NOT IN (SELECT h FROM hot)
    ORDER BY f.d
    """
    params_sql = {
        "txs": txs_files,
        "chain": chain,
        "delay": params.max_delay_blocks,
        "share": params.min_forwarded,
        "min_fwd": params.min_forwarders,
    }
    if transfer_files:
        params_sql["tt"] = transfer_files
    found = con.execute(sql, params_sql).fetchnumpy()
    deposits = np.asarray(found["d"], dtype=np.int64)
    hot = np.asarray(found["h"], dtype=np.int64)
    sweep = np.asarray(found["sweep"], dtype=np.int64)
    if deposits.size == 0:
        return DepositLinks(deposits, hot, sweep, empty, empty, empty, empty, empty)
    senders_sql = f"""
    WITH t AS ({transfers}),
    dep AS (SELECT unnest($deps::BIGINT[]) AS d),
    hotw AS (SELECT unnest($hots::BIGINT[]) AS h),
    contracts AS (
        SELECT created_contract_id AS id FROM read_parquet($txs::VARCHAR[])
        WHERE created_contract_id IS NOT NULL
        UNION SELECT address_id FROM addresses WHERE chain = $chain AND kind = 'contract'
        {tokens}
    )
    SELECT t.dst AS d, t.src AS s, min(t.tx_id) AS first_tx
    FROM t
    WHERE t.dst IN (SELECT d FROM dep)
      AND t.src NOT IN (SELECT h FROM hotw)
      AND t.src NOT IN (SELECT d FROM dep)
      AND t.src NOT IN (SELECT id FROM contracts)
    GROUP BY t.dst, t.src
    ORDER BY t.dst, first_tx, t.src
    """
    sp: dict[str, object] = {
        "txs": txs_files,
        "chain": chain,
        "deps": deposits.tolist(),
        "hots": np.unique(hot).tolist(),
    }
    if transfer_files:
        sp["tt"] = transfer_files
    rows = con.execute(senders_sql, sp).fetchnumpy()
    d = np.asarray(rows["d"], dtype=np.int64)
    s = np.asarray(rows["s"], dtype=np.int64)
    ftx = np.asarray(rows["first_tx"], dtype=np.int64)
    if d.size == 0:
        return DepositLinks(deposits, hot, sweep, empty, empty, empty, empty, empty)
    starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, d.size]))
    keep = np.arange(d.size) != group_start
    return DepositLinks(
        deposits=deposits,
        hot=hot,
        sweep_tx=sweep,
        anchor=s[group_start][keep],
        sender=s[keep],
        sender_tx=ftx[keep],
        anchor_tx=ftx[group_start][keep],
        via=d[keep],
    )


def load_address_arrays(
    con: duckdb.DuckDBPyConnection, chain: str, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per address id: its script type code (int8) and first-seen height (int32)."""
    found = storage.arrow(
        con,
        """SELECT address_id, coalesce(list_position(?::VARCHAR[], kind), 0)::TINYINT AS k,
                  coalesce(first_seen_height, -1) AS h
           FROM addresses WHERE chain = ? AND address_id < ?""",
        [SCRIPTS, chain, n],
    )
    ids = found["address_id"].to_numpy()
    script = np.zeros(n, dtype=np.int8)
    first = np.full(n, -1, dtype=np.int32)
    script[ids] = found["k"].to_numpy()
    first[ids] = found["h"].to_numpy()
    return script, first

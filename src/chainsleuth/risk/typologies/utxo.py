"""Detectors on the UTXO transaction graph: peel chains and CoinJoin-like mixing."""

from __future__ import annotations

import numpy as np

from chainsleuth.risk.data import ChainData
from chainsleuth.risk.policy import MixingPolicy, PeelChainPolicy
from chainsleuth.risk.typologies.base import Raw, Typology, amount_text, hours


def peel_chains(data: ChainData, p: PeelChainPolicy) -> list[Raw]:
    """Runs of one-input-address, two-output transactions, each spending the previous
    one's larger output (the change) within ``max_gap_s`` and peeling off the smaller; the
    transaction that then sweeps the last change whole (one input, one output, within
    ``max_gap_s``) ends the chain and counts as its last hop."""
    if not data.utxo:
        return []
    con = data.con
    con.execute(
        """CREATE OR REPLACE TEMP TABLE peel_cand AS
           WITH ia AS (SELECT tx_id, count(DISTINCT address_id) AS na, min(address_id) AS a
                      FROM ins GROUP BY tx_id),
           o2 AS (SELECT tx_id, n, address_id, value,
                         row_number() OVER (PARTITION BY tx_id ORDER BY value DESC, n) AS r
                  FROM outs)
           SELECT x.tx_id, x.t, ia.a,
                  max(CASE WHEN r = 1 THEN n END) AS change_n,
                  max(CASE WHEN r = 1 THEN value END) AS change_v,
                  max(CASE WHEN r = 2 THEN value END) AS peel_v,
                  max(CASE WHEN r = 2 THEN address_id END) AS peel_a
           FROM tx x JOIN ia USING (tx_id) JOIN o2 USING (tx_id)
           WHERE NOT x.coinbase AND x.output_count = 2 AND ia.na = 1
           GROUP BY x.tx_id, x.t, ia.a
           HAVING max(CASE WHEN r = 2 THEN value END)
                  <= $share * (max(CASE WHEN r = 1 THEN value END)
                               + max(CASE WHEN r = 2 THEN value END))""",
        {"share": p.max_peel_share},
    )
    links = con.execute(
        """SELECT a.tx_id, b.tx_id, a.t, b.t, a.a, b.a, a.peel_v, b.peel_v, a.peel_a, b.peel_a
        FROM peel_cand a
        JOIN ins i ON i.prev_tx_id = a.tx_id AND i.prev_n = a.change_n
        JOIN peel_cand b ON b.tx_id = i.tx_id
        WHERE b.t - a.t BETWEEN 0 AND $gap
        ORDER BY a.tx_id""",
        {"gap": p.max_gap_s},
    ).fetchall()
    # the end of a chain: the remainder (the last change) swept whole within the gap, by a
    # one-output transaction that spends nothing else
    ends = {
        int(a): (int(b), int(tb), int(v), int(dst))
        for a, b, tb, v, dst in con.execute(
            """SELECT a.tx_id, b.tx_id, b.t, o.value, o.address_id
               FROM peel_cand a
               JOIN ins i ON i.prev_tx_id = a.tx_id AND i.prev_n = a.change_n
               JOIN tx b ON b.tx_id = i.tx_id AND b.output_count = 1
               JOIN outs o ON o.tx_id = b.tx_id
               WHERE b.t - a.t BETWEEN 0 AND $gap
                 AND (SELECT count(*) FROM ins j WHERE j.tx_id = b.tx_id) = 1""",
            {"gap": p.max_gap_s},
        ).fetchall()
    }
    if not links:
        return []
    nxt: dict[int, int] = {}
    info: dict[int, tuple[int, int, int, int]] = {}  # tx -> (t, input address, peel, peel to)
    has_prev: set[int] = set()
    for a, b, ta, tb, aa, ab, pa, pb, qa, qb in links:
        nxt[a] = b
        has_prev.add(b)
        info[a] = (ta, aa, pa, qa)
        info[b] = (tb, ab, pb, qb)
    raws: list[Raw] = []
    for head in sorted(set(nxt) - has_prev):
        run = [head]
        while run[-1] in nxt and len(run) < 100_000:
            run.append(nxt[run[-1]])
        end = ends.get(run[-1])
        if end is not None:
            info[end[0]] = (end[1], info[run[-1]][1], 0, end[3])
            run.append(end[0])
        if len(run) < p.min_hops:
            continue
        t = [info[x][0] for x in run]
        peels = [int(info[x][2]) for x in run]
        addrs = [info[x][1] for x in run] + [info[x][3] for x in run]
        peeled = run[:-1] if end is not None else run
        total = int(np.sum(peels[: len(peeled)]))
        tail = (
            f", then the remainder of {amount_text(data, -1, end[2])} swept to one address"
            if end is not None
            else ""
        )
        raws.append(
            Raw(
                Typology.PEEL_CHAIN,
                run,
                addrs,
                peels,
                -1,
                min(t),
                max(t),
                f"{len(run)} transactions in a row, each spending the previous one's change and "
                f"peeling off a smaller output: {amount_text(data, -1, total)} peeled off to "
                f"{len({info[x][3] for x in peeled})} addresses{tail} within "
                f"{hours(max(t) - min(t))}",
            )
        )
    return raws


def mixing(data: ChainData, p: MixingPolicy) -> list[Raw]:
    """CoinJoin-like rounds: many input addresses, many outputs of one denomination."""
    if not data.utxo:
        return []
    rows = data.con.execute(
        """WITH ia AS (SELECT tx_id, count(DISTINCT address_id) AS na,
                             list(DISTINCT address_id) AS addrs FROM ins GROUP BY tx_id),
           den AS (SELECT tx_id, value, count(*) AS k,
                          row_number() OVER (PARTITION BY tx_id ORDER BY count(*) DESC, value)
                              AS r
                   FROM outs GROUP BY tx_id, value)
        SELECT x.tx_id, x.t, ia.na, ia.addrs, d.value, d.k
        FROM tx x JOIN ia USING (tx_id) JOIN den d ON d.tx_id = x.tx_id AND d.r = 1
        WHERE ia.na >= $ni AND d.k >= $ko
        ORDER BY x.tx_id""",
        {"ni": p.min_inputs, "ko": p.min_equal_outputs},
    ).fetchall()
    return [
        Raw(
            Typology.MIXING,
            [tx],
            list(addrs),
            [int(value)] * int(k),
            -1,
            t,
            t,
            f"a CoinJoin-like round: {na} input addresses and {k} outputs of "
            f"{amount_text(data, -1, int(value))} each",
            sources=[int(a) for a in addrs],
        )
        for tx, t, na, addrs, value, k in rows
    ]

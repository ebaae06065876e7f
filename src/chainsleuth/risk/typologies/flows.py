"""Detectors on the address-level flows (both kinds of chain): fan-in, fan-out,
structuring, rapid pass-through, dormant-then-active and round-trip cycles."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.sparse import coo_matrix  # type: ignore[import-untyped]
from scipy.sparse.csgraph import connected_components  # type: ignore[import-untyped]

from chainsleuth.risk.data import ChainData
from chainsleuth.risk.policy import (
    DormantPolicy,
    FanInPolicy,
    FanOutPolicy,
    PassThroughPolicy,
    RoundTripPolicy,
    StructuringPolicy,
)
from chainsleuth.risk.provenance import ensure_tables, has_prov
from chainsleuth.risk.typologies.base import Raw, Typology, amount_text, hours
from chainsleuth.risk.typologies.prices import has_prices


def fan_in(data: ChainData, p: FanInPolicy) -> list[Raw]:
    """A collector (a small entity) that receives from ``min_senders`` entities and sweeps
    at least ``min_swept_share`` of it on to at most ``max_sweep_receivers`` addresses.
    On a UTXO chain: a transaction that sweeps ``utxo_min_inputs`` one-shot addresses (each
    funded once) into at most ``utxo_max_outputs`` addresses of a small entity."""
    ensure_tables(data)
    if data.utxo:
        return _fan_in_utxo(data, p)
    if p.illicit_source and has_prov(data):
        return _fan_in_illicit(data, p)
    rows = data.con.execute(
        """WITH inflow AS (
               SELECT f.to_id AS a, f.tx_id, f.t, f.asset_id, f.value, es.entity_id AS se
               FROM flows f JOIN ent es ON es.address_id = f.from_id
               JOIN ent ea ON ea.address_id = f.to_id
               WHERE es.entity_id <> ea.entity_id AND ea.size <= $max
                 AND f.to_id NOT IN (SELECT address_id FROM svc)),
           sweep AS (
               SELECT from_id AS a, tx_id, any_value(t) AS t, asset_id, sum(value) AS v,
                      count(DISTINCT to_id) AS nr, list(DISTINCT to_id) AS rcv
               FROM flows WHERE to_id IS DISTINCT FROM from_id AND from_id IS NOT NULL
               GROUP BY from_id, tx_id, asset_id)
        SELECT s.a, s.tx_id, s.t, s.asset_id, s.v, any_value(s.rcv),
               list(DISTINCT i.tx_id), sum(i.value), count(DISTINCT i.se), min(i.t)
        FROM sweep s JOIN inflow i ON i.a = s.a AND i.asset_id = s.asset_id
             AND i.t BETWEEN s.t - $w AND s.t AND i.tx_id <> s.tx_id
        WHERE s.nr <= $mr
        GROUP BY s.a, s.tx_id, s.t, s.asset_id, s.v
        HAVING count(DISTINCT i.se) >= $ms AND s.v >= $share * sum(i.value)
        ORDER BY s.tx_id, s.a""",
        {
            "max": p.max_entity_size,
            "w": p.window_s,
            "mr": p.max_sweep_receivers,
            "ms": p.min_senders,
            "share": p.min_swept_share,
        },
    ).fetchall()
    merged: dict[int, list[Any]] = {}
    for r in rows:
        merged.setdefault(int(r[1]), []).append(r)
    raws = []
    for sweep_tx, group in merged.items():
        collectors = [int(g[0]) for g in group]
        ins = sorted({int(x) for g in group for x in g[6]})
        rcv = sorted({int(x) for g in group for x in g[5] if x is not None})
        asset = int(group[0][3])
        swept = sum(int(g[4]) for g in group)
        senders = max(int(g[8]) for g in group)
        t0 = min(int(g[9]) for g in group)
        t1 = int(group[0][2])
        raws.append(
            Raw(
                Typology.FAN_IN,
                [*ins, sweep_tx],
                collectors + rcv,
                [swept],
                asset,
                t0,
                t1,
                f"{len(collectors)} collecting address(es) received from {senders} different "
                f"entities in {len(ins)} transactions and swept "
                f"{amount_text(data, asset, swept)} on to {len(rcv)} address(es) within "
                f"{hours(t1 - t0)}",
            )
        )
    return raws


def _fan_in_illicit(data: ChainData, p: FanInPolicy) -> list[Raw]:
    """Account chain, labels known: a collector (a small entity) that received from
    ``min_senders`` addresses illicit funds had reached, within ``window_s`` of each other,
    and at least ``min_illicit_share`` of its inflow from them."""
    rows = data.con.execute(
        """WITH inflow AS (
               SELECT f.to_id AS a, f.tx_id, f.t, f.asset_id, f.value, f.usd, f.from_id AS s,
                      EXISTS (SELECT 1 FROM prov pv WHERE pv.address_id = f.from_id
                              AND pv.t <= f.t
                              AND pv.category NOT IN (SELECT unnest($weak::VARCHAR[])))
                          AS bad
               FROM flows f JOIN ent es ON es.address_id = f.from_id
               JOIN ent ea ON ea.address_id = f.to_id
               WHERE es.entity_id <> ea.entity_id AND ea.size <= $max
                 AND f.to_id NOT IN (SELECT address_id FROM svc)),
           runs AS (
               SELECT *, sum(CASE WHEN gap > $w THEN 1 ELSE 0 END) OVER (
                          PARTITION BY a ORDER BY t, tx_id) AS run
               FROM (SELECT *, t - lag(t) OVER (PARTITION BY a ORDER BY t, tx_id) AS gap
                     FROM inflow WHERE bad))
        SELECT r.a, r.run, list(DISTINCT r.tx_id), list(DISTINCT r.s), count(DISTINCT r.s),
               min(r.t), max(r.t), arg_max(r.asset_id, r.usd), sum(r.usd),
               (SELECT sum(i.usd) FROM inflow i WHERE i.a = r.a
                  AND i.t BETWEEN min(r.t) AND max(r.t)) AS total
        FROM runs r GROUP BY r.a, r.run
        HAVING count(DISTINCT r.s) >= $mi AND sum(r.usd) >= $share * total
        ORDER BY min(r.t), r.a""",
        {"max": p.max_entity_size, "w": p.window_s,
         "share": p.min_illicit_share, "weak": list(p.weak_sources),
         "mi": p.min_illicit_senders},
    ).fetchall()  # fmt: skip
    return [
        Raw(
            Typology.FAN_IN,
            sorted(int(x) for x in txs),
            [int(a), *[int(x) for x in senders]],
            [],
            int(asset),
            int(t0),
            int(t1),
            f"collected payments from {k} addresses reached by illicit funds in "
            f"{len(txs)} transactions within {hours(int(t1) - int(t0))} "
            f"(USD {float(usd):,.0f}, {float(usd) / max(float(total), 1e-9):.0%} of its inflow)",
            sources=[int(x) for x in senders],
        )
        for a, _, txs, senders, k, t0, t1, asset, usd, total in rows
    ]


def _fan_in_utxo(data: ChainData, p: FanInPolicy) -> list[Raw]:
    rows = data.con.execute(
        """WITH funded AS (SELECT address_id, count(DISTINCT tx_id) AS k FROM outs
                          GROUP BY address_id),
           ia AS (SELECT i.tx_id, count(DISTINCT i.address_id) AS na,
                         list(DISTINCT i.address_id) AS addrs, list(DISTINCT i.prev_tx_id) AS src,
                         bool_and(f.k = 1) AS one_shot
                  FROM ins i JOIN funded f USING (address_id) GROUP BY i.tx_id),
           payers AS (  -- who funded the swept addresses: other entities than the sweeper
               SELECT i.tx_id, count(DISTINCT ep.entity_id) AS k
               FROM ins i JOIN ent es ON es.address_id = i.address_id
               JOIN ins j ON j.tx_id = i.prev_tx_id
               JOIN ent ep ON ep.address_id = j.address_id
               WHERE ep.entity_id <> es.entity_id GROUP BY i.tx_id),
           oa AS (SELECT o.tx_id, count(DISTINCT o.address_id) AS no,
                         list(DISTINCT o.address_id) AS dst, sum(o.value) AS v, max(e.size) AS sz
                  FROM outs o JOIN ent e USING (address_id) GROUP BY o.tx_id)
        SELECT x.tx_id, x.t, ia.na, ia.addrs, ia.src, oa.dst, oa.v
        FROM tx x JOIN ia USING (tx_id) JOIN oa USING (tx_id) LEFT JOIN payers USING (tx_id)
        WHERE NOT x.coinbase AND ia.na >= $ni AND ia.one_shot AND oa.no <= $no
          AND oa.sz <= $max AND len(ia.src) >= $nf
          AND ($nf <= 1 OR coalesce(payers.k, 0) >= $nf)
          AND NOT EXISTS (SELECT 1 FROM outs o WHERE o.tx_id = x.tx_id
                          AND o.address_id IN (SELECT address_id FROM svc))
          AND NOT EXISTS (SELECT 1 FROM ins i WHERE i.tx_id = x.tx_id
                          AND i.address_id IN (SELECT address_id FROM svc))
        ORDER BY x.tx_id""",
        {
            "ni": p.utxo_min_inputs,
            "no": p.utxo_max_outputs,
            "max": p.max_entity_size,
            "nf": p.utxo_min_funders,
        },
    ).fetchall()
    return [
        Raw(
            Typology.FAN_IN,
            [int(tx)],
            [int(a) for a in addrs] + [int(b) for b in dst if b is not None],
            [int(v)],
            -1,
            int(t),
            int(t),
            f"{na} addresses, each funded once, swept together: "
            f"{amount_text(data, -1, int(v))} to {len(dst)} address(es)",
            {"funding_txs": [int(s) for s in src]},
        )
        for tx, t, na, addrs, src, dst, v in rows
    ]


def fan_out(data: ChainData, p: FanOutPolicy) -> list[Raw]:
    """A transaction in which one small entity (at most ``max_payer_entities`` entities,
    ``max_payers`` input addresses) pays ``min_receivers`` or more other entities. The
    inputs a wallet spends together are one payer however many addresses they come from
    (a market's hot wallet pays its vendors from several at once)."""
    ensure_tables(data)
    rows = data.con.execute(
        """WITH f AS (
               SELECT f.tx_id, f.t, f.asset_id, f.from_id, f.to_id, f.value,
                      es.entity_id AS se, es.size AS ss, er.entity_id AS re
               FROM flows f JOIN ent es ON es.address_id = f.from_id
               JOIN ent er ON er.address_id = f.to_id)
        SELECT tx_id, any_value(t), asset_id, list(DISTINCT from_id), list(DISTINCT to_id),
               count(DISTINCT re), sum(value)
        FROM f WHERE se <> re AND from_id NOT IN (SELECT address_id FROM svc)
        GROUP BY tx_id, asset_id
        HAVING count(DISTINCT re) >= $mr AND count(DISTINCT from_id) <= $mp
           AND count(DISTINCT se) <= $me AND max(ss) <= $max
        ORDER BY tx_id""",
        {
            "mr": p.min_receivers,
            "mp": p.max_payers,
            "me": p.max_payer_entities,
            "max": p.max_entity_size,
        },
    ).fetchall()
    return [
        Raw(
            Typology.FAN_OUT,
            [int(tx)],
            [int(a) for a in payers] + [int(b) for b in rcv],
            [int(v)],
            int(asset),
            int(t),
            int(t),
            f"{len(payers)} address(es) paid {amount_text(data, int(asset), int(v))} to {k} "
            "different entities in one transaction",
            sources=[int(a) for a in payers],
        )
        for tx, t, asset, payers, rcv, k, v in rows
    ]


def structuring(data: ChainData, p: StructuringPolicy) -> list[Raw]:
    """Payments just under the reporting threshold (in USD at the day's price where daily
    prices were given, ``price_day``; else at the reference prices) into
    services (``deposits_only``), linked when they share a sender entity, a receiving
    address or entity, a funder of their senders, or when one's receiver pays the next one
    on, within ``window_s``; groups of ``min_payments`` or more (with labels: of which at
    least one payment's sender illicit funds had reached)."""
    ensure_tables(data)
    illicit = p.illicit_source and has_prov(data)
    daily = has_prices(data)
    tolerance = p.day_price_tolerance if daily else p.price_tolerance
    lo = p.threshold_usd * (1 - p.band) * (1 - tolerance)
    hi = p.threshold_usd * (1 + tolerance)
    # USD at the day's price where it is known, else at the policy's reference price
    usd_sql = "coalesce(f.value::DOUBLE * pd.usd_per_unit, f.usd)" if daily else "f.usd"
    day_join = (
        "LEFT JOIN price_day pd ON pd.asset_id = f.asset_id AND pd.day = f.t // 86400"
        if daily
        else ""
    )
    pay = data.con.execute(
        f"""SELECT f.tx_id, any_value(f.t), f.to_id, f.asset_id, sum(f.value), sum({usd_sql}),
                  min(f.from_id), min(es.entity_id), max(es.size),
                  any_value(er.entity_id), any_value(er.size),
                  bool_or(EXISTS (
                      SELECT 1 FROM prov pv WHERE pv.address_id = f.from_id AND pv.t <= f.t
                      AND pv.category NOT IN (SELECT unnest($weak::VARCHAR[]))))
           FROM flows f JOIN ent es ON es.address_id = f.from_id
           JOIN ent er ON er.address_id = f.to_id {day_join}
           WHERE es.entity_id <> er.entity_id
             AND (NOT $dep OR er.size > $big OR f.to_id IN (SELECT address_id FROM svc))
             AND f.from_id NOT IN (SELECT address_id FROM svc)
           GROUP BY f.tx_id, f.to_id, f.asset_id
           HAVING sum({usd_sql}) >= $lo AND sum({usd_sql}) < $hi
           ORDER BY 2, 1""",
        {
            "lo": lo,
            "hi": hi,
            "dep": p.deposits_only,
            "big": p.max_link_entity_size,
            "weak": list(p.weak_sources),
        },
    ).fetchall()
    n = len(pay)
    if n < p.min_payments:
        return []
    t = np.array([r[1] for r in pay], dtype=np.int64)
    src: list[int] = []
    dst: list[int] = []

    def link_by(keys: list[int | None]) -> None:
        last: dict[int, int] = {}
        for i, k in enumerate(keys):
            if k is None:
                continue
            j = last.get(k)
            if j is not None and t[i] - t[j] <= p.window_s:
                src.append(j)
                dst.append(i)
            last[k] = i

    big = p.max_link_entity_size
    link_by([int(r[7]) if r[8] <= big else None for r in pay])  # same sender entity
    link_by([int(r[2]) for r in pay])  # same receiving address
    link_by([int(r[9]) if r[10] <= big else None for r in pay])  # same receiving entity
    received: dict[int, list[int]] = {}
    for i, r in enumerate(pay):  # a receiver that passes a band payment on
        for j in received.get(int(r[6]), []):
            if 0 <= t[i] - t[j] <= p.window_s:
                src.append(j)
                dst.append(i)
        received.setdefault(int(r[2]), []).append(i)
    # senders funded by the same (small, non-service) address shortly before
    funders = data.con.execute(
        """SELECT w.i, f.from_id FROM (SELECT unnest($s::BIGINT[]) AS s,
                                              unnest($t::BIGINT[]) AS t,
                                              generate_subscripts($s::BIGINT[], 1) - 1 AS i) w
           JOIN flows f ON f.to_id = w.s AND f.t BETWEEN w.t - $w AND w.t
           JOIN ent e ON e.address_id = f.from_id
           WHERE f.from_id IS DISTINCT FROM w.s AND e.size <= $big
             AND f.from_id NOT IN (SELECT address_id FROM svc)
           GROUP BY ALL ORDER BY w.i""",
        {"s": [int(r[6]) for r in pay], "t": [int(x) for x in t], "w": p.window_s, "big": big},
    ).fetchall()
    by_funder: dict[int, list[int]] = {}
    for i, funder in funders:
        by_funder.setdefault(int(funder), []).append(int(i))
    for funded in by_funder.values():
        for j, i in zip(funded, funded[1:], strict=False):
            if t[i] - t[j] <= p.window_s:
                src.append(j)
                dst.append(i)
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    raws = []
    for comp in np.unique(label):
        members = np.flatnonzero(label == comp)
        if members.size < p.min_payments:
            continue
        rows = [pay[i] for i in members]
        if illicit and not any(r[11] for r in rows):
            continue  # no payment of the group comes from an illicit source
        asset = int(rows[0][3])
        usd = [float(r[5]) for r in rows]
        raws.append(
            Raw(
                Typology.STRUCTURING,
                [int(r[0]) for r in rows],
                [int(r[6]) for r in rows] + [int(r[2]) for r in rows],
                [int(r[4]) for r in rows],
                asset,
                int(t[members].min()),
                int(t[members].max()),
                f"{len(rows)} linked payments of USD {min(usd):,.0f} to {max(usd):,.0f}, just "
                f"under the USD {p.threshold_usd:,.0f} threshold, to "
                f"{len({r[2] for r in rows})} address(es) within "
                f"{hours(int(t[members].max() - t[members].min()))}",
            )
        )
    return raws


def pass_through(data: ChainData, p: PassThroughPolicy) -> list[Raw]:
    """An address of few transactions (a small entity) that forwards at least
    ``min_forwarded_share`` of a receipt within ``max_delay_s``."""
    ensure_tables(data)
    rows = data.con.execute(
        """WITH ntx AS (
               SELECT a, count(DISTINCT tx_id) AS k FROM (
                   SELECT from_id AS a, tx_id FROM flows UNION ALL
                   SELECT to_id, tx_id FROM flows) GROUP BY a),
           small AS (SELECT n.a FROM ntx n JOIN ent e ON e.address_id = n.a
                     WHERE n.k <= $k AND e.size <= $size
                       AND n.a NOT IN (SELECT address_id FROM svc)),
           inn AS (SELECT f.to_id AS a, f.tx_id, f.t, f.asset_id, sum(f.value) AS v,
                          sum(f.usd) AS usd
                   FROM flows f SEMI JOIN small s ON s.a = f.to_id
                   WHERE f.from_id IS DISTINCT FROM f.to_id GROUP BY ALL),
           outs AS (SELECT f.from_id AS a, f.tx_id, f.t, f.asset_id, sum(f.value) AS v
                    FROM flows f SEMI JOIN small s ON s.a = f.from_id
                    JOIN ent er ON er.address_id = f.to_id
                    WHERE f.from_id IS DISTINCT FROM f.to_id
                      AND (NOT $svc_only OR er.size >= $svc
                           OR f.to_id IN (SELECT address_id FROM svc
                                          WHERE category NOT IN ('mixer', 'coinjoin')))
                    GROUP BY f.from_id, f.tx_id, f.t, f.asset_id)
        SELECT i.a, i.tx_id, i.t, i.asset_id, i.v, list(o.tx_id ORDER BY o.t), sum(o.v), max(o.t)
        FROM inn i JOIN outs o ON o.a = i.a AND o.asset_id = i.asset_id
             AND o.t BETWEEN i.t AND i.t + $d AND o.tx_id <> i.tx_id
        WHERE i.usd >= $usd
        GROUP BY i.a, i.tx_id, i.t, i.asset_id, i.v
        HAVING sum(o.v) >= $share * i.v
        ORDER BY i.tx_id, i.a""",
        {
            "k": p.max_txs,
            "size": p.max_entity_size,
            "d": p.max_delay_s,
            "usd": p.min_value_usd,
            "share": p.min_forwarded_share,
            "svc_only": p.to_services_only,
            "svc": p.service_size,
        },
    ).fetchall()
    return [
        Raw(
            Typology.PASS_THROUGH,
            [int(tx), *[int(o) for o in outs]],
            [int(a)],
            [int(v), int(fwd)],
            int(asset),
            int(t),
            int(t1),
            f"received {amount_text(data, int(asset), int(v))} and forwarded "
            f"{amount_text(data, int(asset), int(fwd))} within {hours(int(t1) - int(t))}",
        )
        for a, tx, t, asset, v, outs, fwd, t1 in rows
    ]


def dormant_then_active(data: ChainData, p: DormantPolicy) -> list[Raw]:
    """An address (of a small entity) that did nothing for ``min_dormant_days`` and then
    sends at least ``min_value_usd`` (``skip_return_home``: not back into an address of the
    transaction that funded it: a wallet's own change swept home, such as a service's cold
    storage, is housekeeping, not a stash waking up)."""
    ensure_tables(data)
    rows = data.con.execute(
        """WITH act AS (
               SELECT a, tx_id, any_value(t) AS t, asset_id, sum(out_v) AS out_v,
                      sum(out_usd) AS out_usd FROM (
                   SELECT from_id AS a, tx_id, t, asset_id, value AS out_v, usd AS out_usd
                   FROM flows WHERE from_id IS DISTINCT FROM to_id
                   UNION ALL
                   SELECT to_id, tx_id, t, asset_id, 0, 0 FROM flows
                   WHERE from_id IS DISTINCT FROM to_id)
               WHERE a IS NOT NULL GROUP BY a, tx_id, asset_id),
           g AS (SELECT *, lag(t) OVER w AS pt, lag(tx_id) OVER w AS ptx FROM act
                 WINDOW w AS (PARTITION BY a ORDER BY t, tx_id))
        SELECT g.a, g.ptx, g.pt, g.tx_id, g.t, g.asset_id, g.out_v
        FROM g JOIN ent e ON e.address_id = g.a
        WHERE g.pt IS NOT NULL AND g.t - g.pt >= $gap AND g.out_usd >= $usd
          AND g.t - g.pt >= $share * (SELECT max(t) - min(t) FROM flows)
          AND e.size <= $size
          AND (NOT $once OR (SELECT count(DISTINCT x.tx_id) FROM flows x
                             WHERE x.to_id = g.a AND x.from_id IS DISTINCT FROM g.a
                               AND x.t < g.t) = 1)
          AND (NOT $emptied OR (
                 (SELECT count(*) FROM flows x JOIN ent er ON er.address_id = x.to_id
                  WHERE x.tx_id = g.tx_id AND x.from_id = g.a
                    AND ((er.size < $svc AND x.to_id NOT IN (SELECT address_id FROM svc))
                         OR x.to_id = g.a)) = 0
                 AND (SELECT count(*) FROM flows x WHERE x.from_id = g.a AND x.t > g.t) = 0))
        ORDER BY g.tx_id, g.a""",
        {
            "gap": int(p.min_dormant_days * 86_400),
            "share": p.min_span_share,
            "usd": p.min_value_usd,
            "size": p.max_entity_size,
            "once": p.funded_once,
            "emptied": p.emptied_to_service,
            "svc": p.service_size,
        },
    ).fetchall()
    if p.skip_return_home and rows:  # (few rows: checked on their own)
        home = data.con.execute(
            """SELECT DISTINCT w.k FROM (SELECT unnest($a::BIGINT[]) AS a,
                                                unnest($ptx::BIGINT[]) AS ptx,
                                                unnest($tx::BIGINT[]) AS tx,
                                                generate_subscripts($a::BIGINT[], 1) - 1 AS k) w
               JOIN flows x ON x.tx_id = w.tx AND x.from_id = w.a AND x.to_id <> w.a
               JOIN flows y ON y.tx_id = w.ptx AND (y.from_id = x.to_id OR y.to_id = x.to_id)""",
            {
                "a": [int(r[0]) for r in rows],
                "ptx": [int(r[1]) for r in rows],
                "tx": [int(r[3]) for r in rows],
            },
        ).fetchall()
        skip = {int(k) for (k,) in home}
        rows = [r for k, r in enumerate(rows) if k not in skip]
    return [
        Raw(
            Typology.DORMANT_THEN_ACTIVE,
            [int(ptx), int(tx)],
            [int(a)],
            [int(v)],
            int(asset),
            int(pt),
            int(t),
            f"untouched for {hours(int(t) - int(pt))}, then sent "
            f"{amount_text(data, int(asset), int(v))}",
        )
        for a, ptx, pt, tx, t, asset, v in rows
    ]


#: a cycle's transfer carries at most this much more than the one before (fees only shrink
#: what goes round; this allows for rounding)
_RT_GROWTH = 0.02


def round_trip(data: ChainData, p: RoundTripPolicy) -> list[Raw]:
    """Value that leaves an entity and comes back to it through one to ``max_hops - 1``
    other entities (none of them a service: larger than ``max_entity_size`` or dealing with
    more than ``max_counterparties`` entities; none visited twice) within ``window_s``: each
    transfer of the cycle later than the one before, carrying at least
    ``min_returned_share`` of the first and no more than the one before. Paths grow one
    transfer at a time; of the paths from one first transfer to one entity only the
    earliest goes on (it can close every cycle a later one could). A first transfer that
    starts several cycles reports the one that closes first (then the shortest)."""
    ensure_tables(data)
    con = data.con
    # flows between entities (materialised first: with the two ``ent`` joins together the
    # planner may pair every entity with every other before it joins the flows)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE rt_f AS
           WITH fe AS MATERIALIZED (
               SELECT f.tx_id, f.t, f.asset_id, f.from_id, f.to_id, f.value, f.usd,
                      es.entity_id AS a, es.size AS sa
               FROM flows f JOIN ent es ON es.address_id = f.from_id)
           SELECT fe.*, er.entity_id AS b, er.size AS sb
           FROM fe JOIN ent er ON er.address_id = fe.to_id
           WHERE fe.a <> er.entity_id"""
    )
    con.execute(  # entities that dealt with too many others: services, whatever their size
        """CREATE OR REPLACE TEMP TABLE rt_hub AS
           SELECT e AS entity_id FROM (SELECT a AS e, b AS o FROM rt_f UNION SELECT b, a FROM rt_f)
           GROUP BY e HAVING count(*) > $cp""",
        {"cp": p.max_counterparties},
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE rt_e AS
           SELECT tx_id, t, asset_id, a, b, min(from_id) AS fa, min(to_id) AS tb,
                  sum(value) AS v, sum(usd) AS usd
           FROM rt_f
           WHERE sa <= $size AND sb <= $size
             AND from_id NOT IN (SELECT address_id FROM stop)
             AND to_id NOT IN (SELECT address_id FROM stop)
             AND a NOT IN (SELECT entity_id FROM rt_hub) AND b NOT IN (SELECT entity_id FROM rt_hub)
           GROUP BY ALL HAVING sum(usd) >= $usd""",
        {"size": p.max_entity_size, "usd": p.min_value_usd},
    )
    # open paths: the first transfer's (tx, origin entity, time, value), where the path is
    # now (entity, time) and what it went through (txs, entities, addresses)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE rt_p AS
           SELECT tx_id AS x0, a AS a0, t AS t0, asset_id, v AS v0, b AS cur, t AS tl,
                  v AS vl, [tx_id] AS txs, [a, b] AS ents, [fa, tb] AS addrs
           FROM rt_e"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE rt_c (x0 BIGINT, a0 BIGINT, t0 BIGINT, tc BIGINT,
               asset_id BIGINT, v0 HUGEINT, vc HUGEINT, txs BIGINT[], addrs BIGINT[])"""
    )
    # one more transfer on each open path (a constant of this module; the values are bound)
    step = """SELECT p.*, y.tx_id AS ty, y.t AS tt, y.b AS nb, y.v AS vy, y.tb AS ay
              FROM rt_p p JOIN rt_e y ON y.a = p.cur AND y.asset_id = p.asset_id
                   AND y.t >= p.tl AND y.t <= p.t0 + $w AND y.v >= $share * p.v0
                   AND y.v <= $grow * p.vl AND NOT list_contains(p.txs, y.tx_id)"""
    args = {"w": p.window_s, "share": p.min_returned_share, "grow": 1 + _RT_GROWTH}
    for hop in range(2, p.max_hops + 1):
        con.execute(
            f"""INSERT INTO rt_c SELECT x0, a0, t0, tt, asset_id, v0, vy,
                       list_append(txs, ty), list_append(addrs, ay)
                FROM ({step}) WHERE nb = a0""",
            args,
        )
        if hop == p.max_hops:
            break
        con.execute(  # per first transfer and entity reached: the earliest path only
            f"""CREATE OR REPLACE TEMP TABLE rt_p AS
                SELECT x0, a0, t0, asset_id, v0, nb AS cur, tt AS tl, vy AS vl,
                       list_append(txs, ty) AS txs, list_append(ents, nb) AS ents,
                       list_append(addrs, ay) AS addrs
                FROM ({step}) WHERE NOT list_contains(ents, nb)
                QUALIFY row_number() OVER (PARTITION BY x0, nb ORDER BY tt, vy DESC, ty) = 1""",
            args,
        )
    rows = con.execute(
        """SELECT x0, txs, addrs, t0, tc, asset_id, v0, vc FROM rt_c
           QUALIFY row_number() OVER (PARTITION BY x0, a0 ORDER BY tc, len(txs), txs) = 1
           ORDER BY x0"""
    ).fetchall()
    words = {2: "two", 3: "three", 4: "four", 5: "five"}
    return [
        Raw(
            Typology.ROUND_TRIP,
            [int(t) for t in txs],
            [int(a) for a in addrs],
            [int(v0), int(vc)],
            int(asset),
            int(t0),
            int(tc),
            f"sent {amount_text(data, int(asset), int(v0))} out and got "
            f"{amount_text(data, int(asset), int(vc))} back within {hours(int(tc) - int(t0))}"
            f" ({words.get(len(txs), str(len(txs)))} transfers through {len(txs) - 1} other "
            f"{'entity' if len(txs) == 2 else 'entities'})",
        )
        for _, txs, addrs, t0, tc, asset, v0, vc in rows
    ]

"""Chain hopping: funds bridged to another chain (or swapped, then bridged) soon after
they arrived."""

from __future__ import annotations

from chainsleuth.risk.data import ChainData
from chainsleuth.risk.policy import ChainHoppingPolicy
from chainsleuth.risk.typologies.base import Raw, Typology, amount_text, hours


def chain_hopping(data: ChainData, p: ChainHoppingPolicy) -> list[Raw]:
    """A bridge lock (a call of one of ``bridge_methods``) of at least ``min_value_usd``
    by an address that received funds from an entity no larger than ``max_entity_size``
    within ``max_delay_s`` before; the swaps in between are part of the instance."""
    if data.utxo:
        return []
    rows = data.con.execute(
        """WITH lock AS (
               SELECT a.tx_id, a.t, a.from_id AS h, f.asset_id, sum(f.value) AS v,
                      sum(f.usd) AS usd
               FROM atx a JOIN flows f ON f.tx_id = a.tx_id AND f.from_id = a.from_id
               WHERE a.status = 1 AND a.method IN (SELECT unnest($bridge::VARCHAR[]))
               GROUP BY ALL HAVING sum(f.usd) >= $usd),
           got AS (
               SELECT f.to_id AS h, f.tx_id, f.t FROM flows f
               JOIN ent es ON es.address_id = f.from_id
               JOIN ent eh ON eh.address_id = f.to_id
               JOIN atx a ON a.tx_id = f.tx_id
               WHERE es.entity_id <> eh.entity_id AND es.size <= $size
                 AND (a.method IS NULL OR a.method NOT IN (SELECT unnest($swap::VARCHAR[])))),
           swaps AS (
               SELECT from_id AS h, tx_id, t FROM atx
               WHERE status = 1 AND method IN (SELECT unnest($swap::VARCHAR[])))
        SELECT l.tx_id, l.t, l.h, l.asset_id, l.v,
               list(DISTINCT g.tx_id), min(g.t),
               (SELECT list(s.tx_id) FROM swaps s WHERE s.h = l.h
                  AND s.t BETWEEN l.t - $d AND l.t)
        FROM lock l JOIN got g ON g.h = l.h AND g.t BETWEEN l.t - $d AND l.t
             AND g.tx_id <> l.tx_id
        GROUP BY l.tx_id, l.t, l.h, l.asset_id, l.v
        ORDER BY l.tx_id""",
        {
            "bridge": list(p.bridge_methods),
            "swap": list(p.swap_methods),
            "usd": p.min_value_usd,
            "size": p.max_entity_size,
            "d": p.max_delay_s,
        },
    ).fetchall()
    raws = []
    for tx, t, h, asset, v, got, t0, swaps in rows:
        swaps = [int(s) for s in (swaps or [])]
        raws.append(
            Raw(
                Typology.CHAIN_HOPPING,
                [*[int(g) for g in got], *swaps, int(tx)],
                [int(h)],
                [int(v)],
                int(asset),
                int(t0),
                int(t),
                f"bridged {amount_text(data, int(asset), int(v))} to another chain "
                f"{hours(int(t) - int(t0))} after receiving funds"
                + (f", with {len(swaps)} swap(s) in between" if swaps else ""),
                sources=[int(h)],
            )
        )
    return raws

"""Graph features per address, for the illicit-probability model.

One row per address that has a flow on the chain, from the chain's ``flows`` (see
``risk.data``): degree (transactions and distinct counterparties, in and out), value
statistics (USD at the policy's reference prices), timing (lifetime, mean inter-arrival,
longest gap: dormancy), the address's entity size, neighbourhood aggregates (the mean
degree and entity size of the counterparties, the share of value from and to large
entities, i.e. services) and the typology flags (how many instances of each typology
touch the address). ``first_t`` (first-seen block time) is kept for the temporal split and
is not a feature.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from chainsleuth.risk.data import ChainData
from chainsleuth.risk.policy import TypologyPolicy
from chainsleuth.risk.typologies import Typology, detect_data

#: counterparty entities at least this large count as services
SERVICE_SIZE = 40
#: the typology flags count the broad shapes, as the model was trained and measured with
#: (the detectors' alert-precision refinements, shape by shape, stay out of the features)
_BROAD = {
    "structuring": {"deposits_only": False},
    "pass_through": {"to_services_only": False, "max_delay_s": 2 * 3600},
    "dormant_then_active": {"funded_once": False, "emptied_to_service": False,
                            "min_span_share": 0.0},
    "fan_in": {"utxo_min_funders": 1},
}  # fmt: skip


def broad_shapes(policy: TypologyPolicy) -> TypologyPolicy:
    """The policy with each detector's refinements off (for the model's features)."""
    update = {
        name: getattr(policy, name).model_copy(update=changes) for name, changes in _BROAD.items()
    }
    return policy.model_copy(update=update)


BASE_FEATURES = [
    "is_account_chain",
    "tx_in",
    "tx_out",
    "cp_in",
    "cp_out",
    "log_usd_in",
    "log_usd_out",
    "log_usd_in_mean",
    "log_usd_in_max",
    "log_usd_out_max",
    "kept_share",
    "lifetime_h",
    "inter_arrival_h",
    "max_gap_h",
    "log_entity_size",
    "nbr_mean_degree",
    "nbr_mean_entity_size",
    "share_in_from_services",
    "share_out_to_services",
    "self_flows",
]
FEATURES = BASE_FEATURES + [f"typ_{t.value}" for t in Typology]


def address_features(
    data: ChainData, policy: TypologyPolicy | None = None, *, typologies: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(address ids, first-seen times, feature matrix with ``FEATURES`` columns)."""
    con = data.con
    table = con.sql(
        """WITH f AS (SELECT * FROM flows WHERE from_id IS NOT NULL AND to_id IS NOT NULL),
           deg AS (SELECT a, count(DISTINCT tx_id) AS k FROM (
                       SELECT from_id AS a, tx_id FROM f UNION ALL SELECT to_id, tx_id FROM f)
                   GROUP BY a),
           ev AS (SELECT from_id AS a, tx_id, t, usd, 0 AS dir, to_id AS cp FROM f
                  WHERE from_id <> to_id
                  UNION ALL SELECT to_id, tx_id, t, usd, 1, from_id FROM f
                  WHERE from_id <> to_id),
           gaps AS (SELECT a, max(t - pt) AS max_gap FROM (
                       SELECT a, t, lag(t) OVER (PARTITION BY a ORDER BY t) AS pt
                       FROM (SELECT DISTINCT a, t FROM ev)) GROUP BY a),
           self AS (SELECT from_id AS a, count(*) AS n FROM f WHERE from_id = to_id GROUP BY a),
           agg AS (
               SELECT e.a,
                      count(DISTINCT CASE WHEN dir = 1 THEN tx_id END) AS tx_in,
                      count(DISTINCT CASE WHEN dir = 0 THEN tx_id END) AS tx_out,
                      count(DISTINCT CASE WHEN dir = 1 THEN cp END) AS cp_in,
                      count(DISTINCT CASE WHEN dir = 0 THEN cp END) AS cp_out,
                      coalesce(sum(CASE WHEN dir = 1 THEN usd END), 0) AS usd_in,
                      coalesce(sum(CASE WHEN dir = 0 THEN usd END), 0) AS usd_out,
                      coalesce(avg(CASE WHEN dir = 1 THEN usd END), 0) AS usd_in_mean,
                      coalesce(max(CASE WHEN dir = 1 THEN usd END), 0) AS usd_in_max,
                      coalesce(max(CASE WHEN dir = 0 THEN usd END), 0) AS usd_out_max,
                      min(t) AS first_t, max(t) AS last_t, count(DISTINCT t) AS n_t,
                      avg(d.k) AS nbr_deg, avg(ce.size) AS nbr_size,
                      coalesce(sum(CASE WHEN dir = 1 AND ce.size >= $svc THEN usd END), 0)
                          AS in_svc,
                      coalesce(sum(CASE WHEN dir = 0 AND ce.size >= $svc THEN usd END), 0)
                          AS out_svc
               FROM ev e JOIN deg d ON d.a = e.cp JOIN ent ce ON ce.address_id = e.cp
               GROUP BY e.a)
        SELECT g.a AS address_id, g.first_t, g.tx_in, g.tx_out, g.cp_in, g.cp_out,
               g.usd_in, g.usd_out, g.usd_in_mean, g.usd_in_max, g.usd_out_max,
               (g.last_t - g.first_t) / 3600.0 AS lifetime_h,
               CASE WHEN g.n_t > 1 THEN (g.last_t - g.first_t) / 3600.0 / (g.n_t - 1)
                    ELSE 0 END AS inter_h,
               coalesce(gp.max_gap, 0) / 3600.0 AS max_gap_h,
               en.size, g.nbr_deg, g.nbr_size,
               CASE WHEN g.usd_in > 0 THEN g.in_svc / g.usd_in ELSE 0 END AS in_svc,
               CASE WHEN g.usd_out > 0 THEN g.out_svc / g.usd_out ELSE 0 END AS out_svc,
               coalesce(s.n, 0) AS self_n
        FROM agg g JOIN ent en ON en.address_id = g.a
        LEFT JOIN gaps gp ON gp.a = g.a LEFT JOIN self s ON s.a = g.a
        ORDER BY g.a""",
        params={"svc": SERVICE_SIZE},
    ).to_arrow_table()
    ids = _col(table, "address_id").astype(np.int64)
    n = ids.size
    x = np.zeros((n, len(FEATURES)), dtype=np.float64)
    usd_in, usd_out = _col(table, "usd_in"), _col(table, "usd_out")
    cols = {
        "is_account_chain": np.full(n, 0.0 if data.utxo else 1.0),
        "tx_in": _col(table, "tx_in"),
        "tx_out": _col(table, "tx_out"),
        "cp_in": _col(table, "cp_in"),
        "cp_out": _col(table, "cp_out"),
        "log_usd_in": np.log1p(usd_in),
        "log_usd_out": np.log1p(usd_out),
        "log_usd_in_mean": np.log1p(_col(table, "usd_in_mean")),
        "log_usd_in_max": np.log1p(_col(table, "usd_in_max")),
        "log_usd_out_max": np.log1p(_col(table, "usd_out_max")),
        "kept_share": np.where(
            usd_in > 0, np.clip(1 - usd_out / np.maximum(usd_in, 1e-9), -1, 1), 0
        ),
        "lifetime_h": _col(table, "lifetime_h"),
        "inter_arrival_h": _col(table, "inter_h"),
        "max_gap_h": _col(table, "max_gap_h"),
        "log_entity_size": np.log1p(_col(table, "size")),
        "nbr_mean_degree": _col(table, "nbr_deg"),
        "nbr_mean_entity_size": _col(table, "nbr_size"),
        "share_in_from_services": _col(table, "in_svc"),
        "share_out_to_services": _col(table, "out_svc"),
        "self_flows": _col(table, "self_n"),
    }
    for j, name in enumerate(BASE_FEATURES):
        x[:, j] = cols[name]
    if typologies and n:
        index = {int(a): i for i, a in enumerate(ids)}
        base = len(BASE_FEATURES)
        order = list(Typology)
        for inst in detect_data(data, broad_shapes(policy or TypologyPolicy())):
            j = base + order.index(inst.typology)
            for a in set(inst.address_ids):
                i = index.get(a)
                if i is not None:
                    x[i, j] += 1
    return ids, _col(table, "first_t").astype(np.int64), x


def _col(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name)
    if col.null_count:
        col = col.fill_null(0)
    return np.asarray(col.to_numpy(), dtype=np.float64)

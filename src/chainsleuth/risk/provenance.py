"""Where a chain's funds came from: taint from labelled illicit sources, for the detectors.

A shape alone (a fan-in, a payment just under a threshold, a quick forward) is made by
ordinary users every day; what makes it a typology instance for an AML analyst is that
the funds come from an illicit source. ``compute(data, labels, policy)`` marks, in the
chain's in-memory database, every address that illicit funds reached and when:

* **seeds**: the addresses labelled with one of ``source_categories`` (and the other
  addresses of their entity, when it is small); addresses that drained a labelled DeFi
  contract through a contract they created themselves (an exploit: ``stolen_funds``);
  addresses that received a bridge release answering a lock by a tainted address on a
  chain read before (``Lock`` rows carried in a ``ProvenanceContext``);
* **taint** spreads forward, in time order, along flows of at least ``min_value_usd`` to
  what a transaction pays an address when tainted inputs paid at least
  ``min_tainted_share`` of it (so a CoinJoin round does not taint its other participants),
  to addresses of small entities (at most ``max_entity_size`` addresses) that carry no
  service label (exchanges, mixers, bridges, ... pool everyone's funds: a trace stops
  there), up to ``max_hops`` transfers from a seed.

The result is the table ``prov(address_id, t, hops, category)``: the time the address was
first reached, the transfers from the seed, and the seed's category; beside it ``svc``:
the addresses of services (labelled, their entities, and deposit addresses: those that
only ever pay a labelled service), whose own operations are no typology instance. Labels
come from the label store or from label files (``labels_from_files``: TagPacks, OFAC
lists, CSV), never from a world's ground truth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.errors import InvalidInput
from chainsleuth.entities import source
from chainsleuth.labels.enums import ImportFormat
from chainsleuth.risk.data import ChainData
from chainsleuth.risk.policy import SOURCE_CATEGORIES, ProvenancePolicy

#: label categories whose addresses pool many people's funds: taint does not pass them
SERVICE_CATEGORIES = frozenset(
    {
        "exchange", "otc_broker", "wallet_service", "payment_processor", "atm", "merchant",
        "mixer", "coinjoin", "gambling", "miner", "bridge", "defi", "dex", "token",
        "infrastructure",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Lock:
    """A payment into a bridge on ``chain`` (``tainted``: by an address illicit funds had
    reached, with ``category`` their source's)."""

    chain: str
    t: int
    usd: float
    tainted: bool
    category: str | None


@dataclass
class ProvenanceContext:
    """What the detectors know beyond one chain: each chain's labels (address id ->
    category) and the bridge locks of the chains already read."""

    labels: dict[str, dict[int, str]]
    locks: list[Lock] = field(default_factory=list)

    def of(self, chain: str) -> dict[int, str]:
        return self.labels.get(chain, {})


def _format_of(path: Path) -> ImportFormat:
    name = path.name.lower()
    if name.endswith((".yaml", ".yml")):
        return ImportFormat.ACTORPACK if ".actorpack" in name else ImportFormat.TAGPACK
    if name.endswith(".xml"):
        return ImportFormat.OFAC_XML
    if name.endswith(".csv"):
        return ImportFormat.CSV
    raise InvalidInput(f"{path}: a label file is a TagPack (.yaml), an OFAC list (.xml) or a CSV")


def label_files(folder_or_files: Sequence[Path]) -> list[Path]:
    """The label files named, or those in the folders named (a world's ``labels/``)."""
    out: list[Path] = []
    for p in folder_or_files:
        p = Path(p)
        if p.is_dir():
            out.extend(
                f
                for f in sorted(p.iterdir())
                if f.is_file()
                and ".actorpack" not in f.name.lower()
                and f.suffix.lower() in (".yaml", ".yml", ".xml", ".csv")
            )
        elif p.is_file():
            out.append(p)
        else:
            raise InvalidInput(f"no label file or folder at {p}")
    return out


def labels_from_files(root: Path, paths: Sequence[Path]) -> dict[str, dict[int, str]]:
    """chain -> address id -> category, from label files (entity-scoped labels, e.g. a
    TagPack's cluster definers, stay on their address: ``compute`` widens to entities)."""
    from chainsleuth.labels.importers import parse  # noqa: PLC0415

    found: dict[str, dict[str, set[str]]] = {}
    for path in label_files(paths):
        parsed = parse(_format_of(path), [(path.name, path.read_bytes())], skip_invalid=True)
        for draft in parsed.labels:
            found.setdefault(draft.chain, {}).setdefault(draft.address, set()).add(
                str(draft.category)
            )
    by_chain = {c: {a: _one(cats) for a, cats in m.items()} for c, m in found.items()}
    out: dict[str, dict[int, str]] = {}
    with source.chain_connection(Path(root)) as con:
        reader = ChainReader(con, Path(root))
        for chain, mapping in by_chain.items():
            texts = list(mapping)
            ids = reader.address_ids(chain, texts).tolist()
            out[chain] = {
                int(i): mapping[t] for i, t in zip(ids, texts, strict=True) if int(i) >= 0
            }
    return out


def _one(categories: set[str]) -> str:
    """One category for an address several labels name: a service wins (a sanctioned
    exchange pools its customers' funds; its withdrawals are not one criminal's), then an
    illicit source, then any (in name order, so that the choice is stable)."""
    services = sorted(categories & (SERVICE_CATEGORIES - set(SOURCE_CATEGORIES)))
    if services:
        return services[0]
    sources = sorted(categories & set(SOURCE_CATEGORIES))
    return sources[0] if sources else sorted(categories)[0]


def _table(data: ChainData, name: str, columns: dict[str, np.ndarray | list[object]]) -> None:
    data.con.register(f"{name}_arrow", pa.table(columns))
    data.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    data.con.unregister(f"{name}_arrow")


def compute(
    data: ChainData,
    context: ProvenanceContext,
    p: ProvenancePolicy,
) -> int:
    """Create ``prov`` (and ``lab``: the chain's labels) in ``data.con``; append this
    chain's bridge locks to ``context``. Returns the number of tainted addresses."""
    con = data.con
    labels = context.of(data.info.id)
    ids = np.fromiter(labels.keys(), dtype=np.int64, count=len(labels))
    cats = [labels[int(i)] for i in ids]
    _table(data, "lab", {"address_id": ids, "category": pa.array(cats, pa.string())})
    params = {
        "src": sorted(p.source_categories),
        "svc": sorted(SERVICE_CATEGORIES - set(p.source_categories)),
        "size": p.max_entity_size,
        "usd": p.min_value_usd,
    }
    con.execute(
        """CREATE OR REPLACE TEMP TABLE stop AS
           SELECT DISTINCT address_id FROM lab
           WHERE category IN (SELECT unnest($svc::VARCHAR[]))""",
        {"svc": params["svc"]},
    )
    # labelled sources, widened to the other addresses of their entity when it is small
    con.execute(
        """CREATE OR REPLACE TEMP TABLE seeds AS
           WITH s AS (SELECT l.address_id, l.category FROM lab l
                      WHERE l.category IN (SELECT unnest($src::VARCHAR[])))
           SELECT address_id, (-4611686018427387904)::BIGINT AS t, any_value(category) AS category
           FROM (
               SELECT address_id, category FROM s
               UNION ALL
               SELECT e2.address_id, s.category FROM s
               JOIN ent e1 ON e1.address_id = s.address_id
               JOIN ent e2 ON e2.entity_id = e1.entity_id
               WHERE e1.size <= $size)
           GROUP BY address_id""",
        {"src": params["src"], "size": params["size"]},
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE svc AS
           WITH l AS (SELECT address_id, min(category) AS category FROM lab
                      WHERE category IN (SELECT unnest($all::VARCHAR[])) GROUP BY address_id),
                w AS (SELECT e2.address_id, min(l.category) AS category FROM l
                      JOIN ent e1 USING (address_id)
                      JOIN ent e2 ON e2.entity_id = e1.entity_id GROUP BY e2.address_id
                      UNION SELECT address_id, category FROM l),
                dep AS (SELECT f.from_id AS address_id, min(w.category) AS category
                        FROM flows f LEFT JOIN l w ON w.address_id = f.to_id
                        WHERE f.from_id IS DISTINCT FROM f.to_id AND f.from_id IS NOT NULL
                        GROUP BY f.from_id HAVING bool_and(w.address_id IS NOT NULL))
           SELECT address_id, min(category) AS category FROM (
               SELECT * FROM w UNION ALL SELECT * FROM dep) GROUP BY address_id""",
        {"all": sorted(SERVICE_CATEGORIES)},
    )
    if not data.utxo:
        _exploit_seeds(data)
    _release_seeds(data, context, p)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE prov AS
           SELECT address_id, min(t) AS t, 0 AS hops, arg_min(category, t) AS category
           FROM seeds GROUP BY address_id"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE pflow AS
           SELECT f.tx_id, f.from_id, f.to_id, min(f.t) AS t, sum(f.usd) AS usd FROM flows f
           JOIN ent e ON e.address_id = f.to_id
           WHERE f.from_id IS DISTINCT FROM f.to_id AND f.from_id IS NOT NULL
             AND f.usd >= $usd AND e.size <= $size
             AND f.to_id NOT IN (SELECT address_id FROM stop)
           GROUP BY f.from_id, f.to_id, f.tx_id""",
        {"usd": params["usd"], "size": params["size"]},
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE ptot AS
           SELECT tx_id, to_id, sum(usd) AS usd FROM flows
           WHERE from_id IS DISTINCT FROM to_id GROUP BY tx_id, to_id"""
    )
    for hop in range(1, p.max_hops + 1):
        added = con.execute(
            """INSERT INTO prov
               SELECT b.to_id, min(b.t), $hop, arg_min(b.category, b.t)
               FROM (SELECT f.tx_id, f.to_id, any_value(f.t) AS t, sum(f.usd) AS usd,
                            any_value(p.category) AS category
                     FROM pflow f JOIN prov p ON p.address_id = f.from_id AND f.t >= p.t
                     WHERE f.to_id NOT IN (SELECT address_id FROM prov)
                       AND f.tx_id IN (SELECT f2.tx_id FROM pflow f2 JOIN prov p2
                                       ON p2.address_id = f2.from_id AND p2.hops = $hop - 1)
                     GROUP BY f.tx_id, f.to_id) b
               JOIN ptot t ON t.tx_id = b.tx_id AND t.to_id = b.to_id
               WHERE b.usd >= $share * t.usd
               GROUP BY b.to_id""",
            {"hop": hop, "share": p.min_tainted_share},
        ).fetchall()
        if not added or not int(added[0][0]):
            break
    _collect_locks(data, context)
    return int(con.execute("SELECT count(*) FROM prov").fetchall()[0][0])


def _exploit_seeds(data: ChainData) -> None:
    """Addresses that received tokens or ether out of a labelled DeFi contract in a call to
    a contract they had created themselves: a drained protocol."""
    data.con.execute(
        """INSERT INTO seeds
           WITH made AS (SELECT from_id AS creator, to_id AS contract FROM atx
                         WHERE status = 1 AND method IS NULL AND value = 0),
                calls AS (SELECT a.tx_id, a.from_id, a.t FROM atx a
                          JOIN made m ON m.creator = a.from_id AND m.contract = a.to_id
                          WHERE a.status = 1)
           SELECT DISTINCT c.from_id, c.t, 'stolen_funds' FROM calls c
           JOIN flows f ON f.tx_id = c.tx_id AND f.to_id = c.from_id
           JOIN lab l ON l.address_id = f.from_id AND l.category = 'defi'
           WHERE c.from_id NOT IN (SELECT address_id FROM seeds)"""
    )


def _bridge_ids(data: ChainData) -> np.ndarray:
    rows = data.con.execute("SELECT address_id FROM lab WHERE category = 'bridge'").fetchall()
    return np.array(sorted(int(r[0]) for r in rows), dtype=np.int64)


def _collect_locks(data: ChainData, context: ProvenanceContext) -> None:
    if not _bridge_ids(data).size:
        return
    rows = data.con.execute(
        """SELECT f.t, sum(f.usd), p.category IS NOT NULL, any_value(p.category)
           FROM flows f
           JOIN lab b ON b.address_id = f.to_id AND b.category = 'bridge'
           LEFT JOIN lab s ON s.address_id = f.from_id AND s.category = 'bridge'
           LEFT JOIN prov p ON p.address_id = f.from_id AND p.t <= f.t
           WHERE s.address_id IS NULL AND f.usd > 0
           GROUP BY f.tx_id, f.t, f.from_id, p.category IS NOT NULL"""
    ).fetchall()
    context.locks.extend(
        Lock(data.info.id, int(t), float(usd), bool(bad), cat) for t, usd, bad, cat in rows
    )


def _release_seeds(data: ChainData, context: ProvenanceContext, p: ProvenancePolicy) -> None:
    """Releases out of a bridge on this chain that answer a tainted lock elsewhere: within
    ``bridge_window_s`` after it, at the rate of the other transfers of the time (the
    median log rate of all lock/release pairs in the window, within
    ``bridge_rate_tolerance``), one release per lock."""
    locks = [lk for lk in context.locks if lk.chain != data.info.id]
    if not locks or not _bridge_ids(data).size:
        return
    rel = data.con.execute(
        """SELECT f.to_id, f.t, sum(f.usd) FROM flows f
           JOIN lab b ON b.address_id = f.from_id AND b.category = 'bridge'
           LEFT JOIN lab d ON d.address_id = f.to_id AND d.category = 'bridge'
           WHERE d.address_id IS NULL AND f.usd > 0
           GROUP BY f.tx_id, f.to_id, f.t ORDER BY f.t"""
    ).fetchall()
    if not rel:
        return
    r_t = np.array([int(r[1]) for r in rel], dtype=np.int64)
    r_usd = np.array([float(r[2]) for r in rel])
    pairs: list[tuple[int, int, float]] = []  # lock index, release index, log rate
    for i, lk in enumerate(locks):
        lo, hi = np.searchsorted(r_t, [lk.t, lk.t + p.bridge_window_s + 1])
        for j in range(int(lo), int(hi)):
            pairs.append((i, j, math.log(max(r_usd[j], 1e-9) / max(lk.usd, 1e-9))))
    if not pairs:
        return
    rates = np.array([r for _, _, r in pairs])
    reference = float(np.median(rates))
    taken: set[int] = set()
    for i, lk in enumerate(locks):
        if not lk.tainted:
            continue
        mine = [(abs(r - reference), j) for k, j, r in pairs if k == i and j not in taken]
        if not mine:
            continue
        dist, j = min(mine)
        if dist > math.log1p(p.bridge_rate_tolerance):
            continue
        taken.add(j)
        data.con.execute(
            "INSERT INTO seeds VALUES (?, ?, ?)",
            [int(rel[j][0]), int(r_t[j]), lk.category or "stolen_funds"],
        )


def tainted_before(alias_address: str, alias_time: str) -> str:
    """A SQL condition: the address was reached by illicit funds at or before the time."""
    return (
        f"EXISTS (SELECT 1 FROM prov pv WHERE pv.address_id = {alias_address} "
        f"AND pv.t <= {alias_time})"
    )


def categories_of(data: ChainData, address_ids: Sequence[int]) -> dict[int, str]:
    """The source category of each tainted address among ``address_ids``."""
    if not address_ids:
        return {}
    rows = data.con.execute(
        "SELECT address_id, category FROM prov WHERE address_id IN (SELECT unnest(?::BIGINT[]))",
        [list({int(a) for a in address_ids})],
    ).fetchall()
    return {int(a): str(c) for a, c in rows}


def ensure_tables(data: ChainData) -> None:
    """Empty ``stop``, ``svc`` and ``prov`` tables where no labels were read (shapes
    alone); the detectors' queries name them either way."""
    data.con.execute("CREATE TEMP TABLE IF NOT EXISTS stop (address_id BIGINT)")
    data.con.execute(
        "CREATE TEMP TABLE IF NOT EXISTS prov "
        "(address_id BIGINT, t BIGINT, hops INTEGER, category VARCHAR)"
    )
    data.con.execute("CREATE TEMP TABLE IF NOT EXISTS svc (address_id BIGINT, category VARCHAR)")


def has_prov(data: ChainData) -> bool:
    """Whether ``compute`` ran on this connection (labels were read)."""
    found = data.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'lab'"
    ).fetchall()
    return bool(found and int(found[0][0]))


def label_map(mapping: Mapping[int, str] | None) -> dict[int, str]:
    return {int(k): str(v) for k, v in (mapping or {}).items()}

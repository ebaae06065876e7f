"""The ground truth of a world (``truth/``): actors, schemes, hops, typologies, bridge, mixer.

``truth/addresses_<chain>.parquet`` is written while the chains are generated; everything
else here, once both chains are done, from the plan and the two chains' recorders.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from chainsleuth.world.enums import ActorType
from chainsleuth.world.plan import WorldPlan
from chainsleuth.world.writer import write_parquet

#: hop steps where a victim's (or buyer's) money first reaches the criminals
PAYMENT_STEPS = {
    "ransom_payment",
    "scam_payment",
    "protocol_deposit",
    "market_payment",
    "donation",
}
#: the sanctions programme of a sanctioned actor, by its type
PROGRAMS = {"hacker": "CYBER2", "terrorist": "SDGT"}


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Both chains' recorder exports as one; bridge halves joined by record id."""
    hops = sorted(
        (h for p in parts for h in p["hops"]), key=lambda h: (h["time"], h["chain"], h["hop"])
    )
    typologies = sorted((t for p in parts for t in p["typologies"]), key=lambda t: t["id"])
    bridge: dict[str, dict[str, Any]] = {}
    for p in parts:
        for row in p["bridge"]:
            rec = bridge.setdefault(
                row["record"], {k: row[k] for k in ("record", "direction", "actor", "scheme")}
            )
            side = row["side"]
            rec[f"{side}_chain"] = row["chain"]
            for key in ("tx", "time", "amount", "asset", "address"):
                if f"{side}_{key}" in row:
                    rec[f"{side}_{key}"] = row[f"{side}_{key}"]
    custodial = sorted((c for p in parts for c in p["custodial"]), key=lambda c: c["order"])
    events = sorted(
        (e for p in parts for e in p["events"]), key=lambda e: (e["time"], e["tx_hash"])
    )
    return {
        "hops": hops,
        "typologies": typologies,
        "bridge": [bridge[k] for k in sorted(bridge)],
        "custodial": custodial,
        "events": events,
    }


def _actors_table(plan: WorldPlan) -> pa.Table:
    a = plan.actors
    n_users = a.n_users
    from chainsleuth.world.actors import COUNTRY_CODES

    ids = list(range(len(a)))
    names = [f"user {i}" for i in range(n_users)] + [x.name for x in a.named]
    types = ["user"] * n_users + [str(x.type) for x in a.named]
    cats = ["individual"] * n_users + [str(x.category) for x in a.named]
    countries = [COUNTRY_CODES[int(c)] for c in plan.users.country] + [x.country for x in a.named]
    person = [True] * n_users + [
        bool(x.info.get("person")) or x.type == ActorType.USER for x in a.named
    ]
    info = [None] * n_users + [
        json.dumps(x.info, sort_keys=True) if x.info else None for x in a.named
    ]
    return pa.table(
        {
            "actor_id": pa.array(ids, pa.int64()),
            "name": names,
            "type": types,
            "category": cats,
            "country": countries,
            "person": person,
            "info": pa.array(info, pa.string()),
        }
    )


def _hops_table(hops: list[dict[str, Any]]) -> pa.Table:
    def co(h: dict[str, Any], key: str) -> Any:
        return (h["cash_out"] or {}).get(key)

    return pa.table(
        {
            "scheme": [h["scheme"] for h in hops],
            "hop": [h["hop"] for h in hops],
            "chain": [h["chain"] for h in hops],
            "step": [h["step"] for h in hops],
            "link": [h["link"] for h in hops],
            "tx_hash": [h["tx_hash"] for h in hops],
            "height": pa.array([h["height"] for h in hops], pa.int64()),
            "time": pa.array([h["time"] for h in hops], pa.timestamp("s", tz="UTC")),
            "parents": pa.array([h["parents"] for h in hops], pa.list_(pa.string())),
            "from_addresses": pa.array([h["from"] for h in hops], pa.list_(pa.string())),
            "to_addresses": pa.array([h["to"] for h in hops], pa.list_(pa.string())),
            "amount": pa.array([h["amount"] for h in hops], pa.string()),
            "asset": [h["asset"] for h in hops],
            "cash_out_kind": pa.array([co(h, "kind") for h in hops], pa.string()),
            "cash_out_actor": pa.array([co(h, "actor") for h in hops], pa.int64()),
            "cash_out_customer": pa.array([co(h, "customer_actor") for h in hops], pa.int64()),
            "cash_out_address": pa.array([co(h, "address") for h in hops], pa.string()),
        }
    )


def _scheme_docs(plan: WorldPlan, truth: dict[str, Any]) -> list[dict[str, Any]]:
    by_scheme: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for h in truth["hops"]:
        by_scheme[h["scheme"]].append(h)
    typ: dict[str, list[str]] = defaultdict(list)
    for t in truth["typologies"]:
        if t["scheme"]:
            typ[t["scheme"]].append(t["id"])
    docs = []
    for s in plan.schemes:
        hops = by_scheme.get(s.id, [])
        path: list[str] = []
        for h in hops:
            if h["step"] not in path:
                path.append(h["step"])
        payments = [h for h in hops if h["step"] in PAYMENT_STEPS]
        victims = []
        for v in s.victims:
            victims.append({"actor": v, "name": plan.actors.get(v).name})
        cash = [
            {
                "hop": h["hop"],
                "chain": h["chain"],
                "tx_hash": h["tx_hash"],
                "time": h["time"],
                **(h["cash_out"] or {}),
            }
            for h in hops
            if h["cash_out"]
        ]
        totals: dict[str, int] = defaultdict(int)
        for h in payments:
            totals[h["asset"]] += int(h["amount"])
        cashed: dict[str, int] = defaultdict(int)
        for c in cash:
            cashed[c.get("asset") or next(h["asset"] for h in hops if h["hop"] == c["hop"])] += int(
                c.get("amount", 0)
            )
        docs.append(
            {
                "id": s.id,
                "type": s.type,
                "name": s.name,
                "chains": s.chains,
                "perpetrators": [
                    {
                        "actor": p,
                        "name": plan.actors.get(p).name,
                        "category": str(plan.actors.get(p).category),
                    }
                    for p in s.perpetrators
                ],
                "victims": victims,
                "payments": [
                    {
                        "hop": h["hop"],
                        "tx_hash": h["tx_hash"],
                        "amount": h["amount"],
                        "asset": h["asset"],
                        "time": h["time"],
                    }
                    for h in payments
                ],
                "start": hops[0]["time"] if hops else None,
                "end": hops[-1]["time"] if hops else None,
                "hops": len(hops),
                "laundering_path": path,
                "cash_outs": cash,
                "paid_total": {k: str(v) for k, v in totals.items()},
                "cashed_out_total": {k: str(v) for k, v in cashed.items()},
                "typologies": typ.get(s.id, []),
            }
        )
    return docs


def named_addresses(plan: WorldPlan, root: Path) -> dict[str, pa.Table]:
    """Per chain, the addresses of named actors (services, criminals, their helpers) with
    their actor and role, in file order: all the sanctions list and the labels look at.
    Read once for both; users' addresses, nearly all the rows, are dropped at once."""
    named = {}
    for chain in ("btc", "eth"):
        table = pq.read_table(
            root / "truth" / f"addresses_{chain}.parquet", columns=["address", "actor_id", "role"]
        )
        named[chain] = table.filter(pc.greater_equal(table["actor_id"], plan.actors.n_users))
    return named


def write_truth(
    plan: WorldPlan,
    root: Path,
    truth: dict[str, Any],
    named: dict[str, pa.Table] | None = None,
) -> list[Path]:
    """The truth files; ``named`` is ``named_addresses(plan, root)`` (read here if not given)."""
    out = root / "truth"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / "actors.parquet"
    write_parquet(_actors_table(plan), path)
    written.append(path)
    path = out / "scheme_hops.parquet"
    write_parquet(_hops_table(truth["hops"]), path)
    written.append(path)
    t = truth["typologies"]
    path = out / "typologies.parquet"
    write_parquet(
        pa.table(
            {
                "id": [x["id"] for x in t],
                "typology": [x["typology"] for x in t],
                "chain": [x["chain"] for x in t],
                "scheme": pa.array([x["scheme"] for x in t], pa.string()),
                "tx_hashes": pa.array([x["tx_hashes"] for x in t], pa.list_(pa.string())),
                "addresses": pa.array([x["addresses"] for x in t], pa.list_(pa.string())),
                "first_time": pa.array([x["first_time"] for x in t], pa.timestamp("s", tz="UTC")),
                "last_time": pa.array([x["last_time"] for x in t], pa.timestamp("s", tz="UTC")),
                "note": [x["note"] for x in t],
            }
        ),
        path,
    )
    written.append(path)
    cols = [
        "record",
        "direction",
        "actor",
        "scheme",
        "lock_chain",
        "lock_tx",
        "lock_time",
        "lock_address",
        "lock_amount",
        "lock_asset",
        "release_chain",
        "release_tx",
        "release_time",
        "release_address",
        "release_amount",
        "release_asset",
    ]
    rows = truth["bridge"]
    types = {
        "actor": pa.int64(),
        "lock_time": pa.timestamp("s", tz="UTC"),
        "release_time": pa.timestamp("s", tz="UTC"),
    }
    path = out / "bridge_transfers.parquet"
    write_parquet(
        pa.table({c: pa.array([r.get(c) for r in rows], types.get(c, pa.string())) for c in cols}),
        path,
    )
    written.append(path)
    c = truth["custodial"]
    ccols = [
        "order",
        "mixer_actor",
        "customer_actor",
        "scheme",
        "deposit_tx",
        "deposit_amount",
        "payout_tx",
        "payout_amount",
    ]
    ctypes = {"mixer_actor": pa.int64(), "customer_actor": pa.int64()}
    table = pa.table(
        {k: pa.array([r.get(k) for r in c], ctypes.get(k, pa.string())) for k in ccols}
    )
    # the chain and asset of an order (added with the account chain's mixer)
    table = table.append_column("chain", pa.array([r.get("chain", "btc") for r in c], pa.string()))
    table = table.append_column("asset", pa.array([r.get("asset", "BTC") for r in c], pa.string()))
    table = table.append_column(
        "addresses", pa.array([r["addresses"] for r in c], pa.list_(pa.string()))
    )
    path = out / "custodial_mixer.parquet"
    write_parquet(table, path)
    written.append(path)
    path = out / "schemes.json"
    path.write_text(
        json.dumps(_scheme_docs(plan, truth), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    written.append(path)
    written.append(_sanctions(plan, root, named or named_addresses(plan, root)))
    return written


def _sanctions(plan: WorldPlan, root: Path, named: dict[str, pa.Table]) -> Path:
    """A generated sanctions list in the spirit of OFAC's SDN digital-currency entries."""
    sanctioned = [
        x for x in plan.actors.named if x.category == "sanctioned" or x.info.get("sanctioned")
    ]
    rows: list[dict[str, Any]] = []
    for chain in ("btc", "eth"):
        table = named[chain]  # sanctioned actors are named actors
        for actor in sanctioned:
            mask = pc.and_(
                pc.equal(table["actor_id"], actor.id),
                pc.is_in(
                    table["role"],
                    pa.array(
                        ["hot", "cold", "exploit", "split", "receive", "bridge", "dormant"]
                        + (["collection"] if actor.type == ActorType.TERRORIST else [])
                    ),
                ),
            )
            for addr in table.filter(mask).column("address").to_pylist()[:25]:
                rows.append(
                    {
                        "entity": actor.name,
                        "program": PROGRAMS.get(str(actor.type), "RUSSIA-EO14024"),
                        "chain": chain,
                        "currency": "XBT" if chain == "btc" else "ETH",
                        "address": addr,
                        "entity_actor": actor.id,
                    }
                )
    path = root / "truth" / "sanctions.csv"
    cols = ["entity", "program", "chain", "currency", "address", "entity_actor"]
    pacsv.write_csv(
        pa.table(
            {
                c: pa.array(
                    [r[c] for r in rows], pa.int64() if c == "entity_actor" else pa.string()
                )
                for c in cols
            }
        ),
        path,
    )
    return path

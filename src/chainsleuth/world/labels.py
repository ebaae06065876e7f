"""What an investigator could know publicly about a world: ``labels/``.

The generator knows everything; a public analytics feed knows only part of it. This writes
that part, in the formats chainsleuth imports from the real world:

* ``labels/world.tagpack.yaml``: a GraphSense TagPack: the exchanges' hot and cold wallets,
  the mixers' and the darknet market's known addresses, half of the ransomware payment
  addresses (those reported), half of the scam's collection addresses, the miners' payout
  addresses and the bridge, DEX and lending contracts. Not every criminal address.
* ``labels/world.actorpack.yaml``: the GraphSense ActorPack of the actors those tags name.
* ``labels/sdn_advanced.xml``: ``truth/sanctions.csv`` as an OFAC ``SDN_ADVANCED.XML``.

Everything is derived from the truth files already written and the world's parameters, in
sorted order: the same world gives the same bytes.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from chainsleuth.world.plan import WorldPlan
from chainsleuth.world.presets import DAY
from chainsleuth.world.truth import named_addresses

SDN_NS = "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ADVANCED_XML"
FEATURE_TYPES = {"XBT": "344", "ETH": "345"}
CURRENCY = {"btc": "BTC", "eth": "ETH"}

#: (actor type, address role) -> (GraphSense field, concept, confidence, label suffix,
#: cluster definer, share of the addresses a public feed knows: every n-th)
RULES: dict[tuple[str, str], tuple[str, str, str, str, bool, int]] = {
    ("exchange", "hot"): ("category", "exchange", "service_data", "hot wallet", True, 1),
    ("exchange", "cold"): ("category", "exchange", "service_data", "cold wallet", False, 1),
    ("sanctioned", "hot"): ("category", "exchange", "web_crawl", "hot wallet", True, 1),
    ("sanctioned", "cold"): ("category", "exchange", "web_crawl", "cold wallet", False, 1),
    ("mixer", "hot"): ("category", "mixing_service", "forensic", "wallet", True, 1),
    ("mixer", "mix_in"): ("category", "mixing_service", "forensic", "deposit", False, 1),
    ("mixer", "fee"): ("category", "coinjoin", "forensic", "coordinator fee", False, 1),
    ("market", "escrow"): ("category", "market", "authority_data", "escrow", False, 1),
    ("ransomware", "ransom"): ("abuse", "ransomware", "forensic", "ransom payment", False, 2),
    ("scam", "collection"): ("abuse", "scam", "untrusted_transaction", "collection", False, 2),
    ("miner", "coinbase"): ("category", "miner", "service_data", "payout", False, 1),
    ("bridge", "contract"): ("category", "defi_bridge", "service_data", "contract", False, 1),
    ("bridge", "bridge"): ("category", "defi_bridge", "service_data", "custody", False, 1),
    ("dex", "contract"): ("category", "defi_dex", "service_data", "contract", False, 1),
    ("defi", "contract"): ("category", "defi_lending", "service_data", "contract", False, 1),
    ("gambling", "hot"): ("category", "gambling", "service_data", "hot wallet", True, 1),
    ("terrorist", "collection"): ("abuse", "terrorism", "authority_data", "donations", False, 1),
}
ACTOR_CONCEPT = {
    "exchange": "exchange",
    "sanctioned": "exchange",
    "mixer": "mixing_service",
    "market": "market",
    "ransomware": "ransomware",
    "scam": "scam",
    "miner": "miner",
    "bridge": "defi_bridge",
    "dex": "defi_dex",
    "defi": "defi_lending",
    "gambling": "gambling",
    "terrorist": "terrorism",
}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower()) or "actor"


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100)


def write_labels(
    plan: WorldPlan, root: Path, named: dict[str, pa.Table] | None = None
) -> list[Path]:
    out = root / "labels"
    out.mkdir(parents=True, exist_ok=True)
    seed = plan.params.seed
    lastmod = _day(plan.params.start + plan.params.days * DAY)
    actors = {
        int(r["actor_id"]): r
        for r in pq.read_table(
            root / "truth" / "actors.parquet", columns=["actor_id", "name", "type", "country"]
        ).to_pylist()
        if r["type"] != "user"
    }
    candidates: dict[tuple[int, str, str], list[tuple[str, str]]] = defaultdict(list)
    known = pa.array(sorted(actors), pa.int64())
    roles = pa.array(sorted({role for _, role in RULES}), pa.string())
    if named is None:
        named = named_addresses(plan, root)
    for chain in ("btc", "eth"):
        table = named[chain]  # the labelled actors are named actors (users are type "user")
        # most addresses are users' (or have roles no rule names): leave them out at once
        table = table.filter(
            pc.and_(
                pc.is_in(table["actor_id"], value_set=known),
                pc.is_in(table["role"], value_set=roles),
            )
        )
        for row in table.to_pylist():
            actor = actors.get(int(row["actor_id"]))
            if actor is None or (actor["type"], row["role"]) not in RULES:
                continue
            candidates[(int(row["actor_id"]), row["role"], chain)].append((chain, row["address"]))
    tags: list[dict[str, Any]] = []
    used: dict[int, str] = {}
    for (actor_id, role, _chain), addresses in sorted(candidates.items()):
        actor = actors[actor_id]
        field, concept, confidence, suffix, definer, every = RULES[(actor["type"], role)]
        ext_id = slug(actor["name"])
        used[actor_id] = ext_id
        for i, (chain, address) in enumerate(sorted(addresses)):
            if i % every:
                continue
            tags.append(
                {
                    "address": address,
                    "currency": CURRENCY[chain],
                    "label": f"{actor['name']} {suffix}",
                    field: concept,
                    "actor": ext_id,
                    "confidence": confidence,
                    "is_cluster_definer": definer,
                    "source": f"https://intel.example.org/world-{seed}/{ext_id}",
                }
            )
    tagpack = {
        "title": f"chainsleuth world {seed}: public attribution",
        "creator": "chainsleuth world generator",
        "description": "What a public analytics feed knows about this world (not everything).",
        "is_public": True,
        "lastmod": lastmod,
        "tags": tags,
    }
    tag_path = out / "world.tagpack.yaml"
    tag_path.write_text(_dump(tagpack), encoding="utf-8")
    actorpack = {
        "title": f"chainsleuth world {seed}: actors",
        "creator": "chainsleuth world generator",
        "description": "The actors the world's public TagPack names.",
        "lastmod": lastmod,
        "actors": [
            {
                "id": used[a],
                "label": actors[a]["name"],
                "uri": f"https://{used[a]}.example.org",
                "categories": [ACTOR_CONCEPT.get(actors[a]["type"], "organization")],
                "jurisdictions": [actors[a]["country"]] if actors[a]["country"] else [],
            }
            for a in sorted(used)
        ],
    }
    actor_path = out / "world.actorpack.yaml"
    actor_path.write_text(_dump(actorpack), encoding="utf-8")
    sdn_path = out / "sdn_advanced.xml"
    sdn_path.write_bytes(_sdn_advanced(root / "truth" / "sanctions.csv", lastmod))
    return [actor_path, tag_path, sdn_path]


def _sdn_advanced(sanctions_csv: Path, issued: str) -> bytes:
    """The world's sanctions list in OFAC's SDN_ADVANCED layout (one party per entity)."""
    with sanctions_csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    parties: dict[int, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        parties[int(row["entity_actor"])].append(row)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{SDN_NS}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    ET.register_namespace("", SDN_NS)
    root = ET.Element(f"{{{SDN_NS}}}Sanctions", {"Version": "3"})
    year, month, day = issued.split("-")
    date = sub(root, "DateOfIssue", CalendarTypeID="1")
    sub(date, "Year", str(int(year)))
    sub(date, "Month", str(int(month)))
    sub(date, "Day", str(int(day)))
    refs = sub(root, "ReferenceValueSets")
    sub(sub(refs, "DetailTypeValues"), "DetailType", "TEXT", ID="1432")
    features = sub(refs, "FeatureTypeValues")
    for currency, type_id in FEATURE_TYPES.items():
        sub(
            features,
            "FeatureType",
            f"Digital Currency Address - {currency}",
            ID=type_id,
            FeatureTypeGroupID="1",
        )
    distinct = sub(root, "DistinctParties")
    entries = sub(root, "SanctionsEntries")
    feature_id = 50_000
    for actor_id in sorted(parties):
        ref = str(30_000 + actor_id)
        party_rows = parties[actor_id]
        party = sub(distinct, "DistinctParty", FixedRef=ref)
        sub(party, "Comment")
        profile = sub(party, "Profile", ID=ref, PartySubTypeID="4")
        identity = sub(profile, "Identity", ID=ref, FixedRef=ref, Primary="true", False_="false")
        identity.attrib.pop("False_")
        identity.set("False", "false")
        alias = sub(identity, "Alias", FixedRef=ref, AliasTypeID="1403", Primary="true")
        alias.set("LowQuality", "false")
        name = sub(alias, "DocumentedName", ID=ref, FixedRef=ref, DocNameStatusID="1")
        part = sub(name, "DocumentedNamePart")
        sub(part, "NamePartValue", party_rows[0]["entity"], ScriptID="215", ScriptStatusID="1")
        for row in sorted(party_rows, key=lambda r: (r["currency"], r["address"])):
            feature_id += 1
            feature = sub(
                profile,
                "Feature",
                ID=str(feature_id),
                FeatureTypeID=FEATURE_TYPES[row["currency"]],
            )
            version = sub(feature, "FeatureVersion", ID=str(feature_id), ReliabilityID="1")
            sub(version, "Comment")
            sub(version, "VersionDetail", row["address"], DetailTypeID="1432")
            sub(feature, "IdentityReference", IdentityID=ref, IdentityFeatureLinkTypeID="1")
        entry = sub(entries, "SanctionsEntry", ID=ref, ProfileID=ref, ListID="1550")
        for n, program in enumerate(sorted({r["program"] for r in party_rows})):
            measure = sub(entry, "SanctionsMeasure", ID=f"{ref}{n}", SanctionsTypeID="1")
            sub(measure, "Comment", program)
            sub(measure, "DatePeriod", CalendarTypeID="1")
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"

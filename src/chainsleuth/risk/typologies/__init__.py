"""Typology detectors: ``detect(root, chain, policy)`` runs them over a chain.

Each detector is vectorised (DuckDB over the chain's flows, numpy) and takes its part of
the ``TypologyPolicy``. An instance found explains itself (``TypologyInstance``). When two
detectors report the same transactions, the more specific one wins: peel-chain hops and
CoinJoin rounds are not also reported as pass-through, fan-in or fan-out, and a piece of a
fan-out that moves on at once is the fan-out's layering, not a pass-through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chainsleuth.core.errors import InvalidInput
from chainsleuth.risk.data import ChainData, load_chain
from chainsleuth.risk.policy import TypologyPolicy
from chainsleuth.risk.provenance import ProvenanceContext, ensure_tables
from chainsleuth.risk.provenance import compute as compute_provenance
from chainsleuth.risk.typologies.base import Raw, Typology, TypologyInstance, finish
from chainsleuth.risk.typologies.flows import (
    dormant_then_active,
    fan_in,
    fan_out,
    pass_through,
    round_trip,
    structuring,
)
from chainsleuth.risk.typologies.hopping import chain_hopping
from chainsleuth.risk.typologies.prices import DailyPrices, register
from chainsleuth.risk.typologies.utxo import mixing, peel_chains

__all__ = [
    "DETECTORS",
    "DailyPrices",
    "Typology",
    "TypologyInstance",
    "detect",
    "detect_data",
    "parse_typologies",
]

DETECTORS: dict[Typology, Callable[[ChainData, Any], list[Raw]]] = {
    Typology.PEEL_CHAIN: peel_chains,
    Typology.MIXING: mixing,
    Typology.FAN_IN: fan_in,
    Typology.FAN_OUT: fan_out,
    Typology.STRUCTURING: structuring,
    Typology.PASS_THROUGH: pass_through,
    Typology.CHAIN_HOPPING: chain_hopping,
    Typology.DORMANT_THEN_ACTIVE: dormant_then_active,
    Typology.ROUND_TRIP: round_trip,
}
#: detectors whose transactions the later ones do not report again
_SPECIFIC = (Typology.PEEL_CHAIN, Typology.MIXING)
_GENERIC = (Typology.PASS_THROUGH, Typology.FAN_IN, Typology.FAN_OUT)


def parse_typologies(names: str | Sequence[str] | None) -> list[Typology]:
    if names is None:
        return list(DETECTORS)
    items = names.split(",") if isinstance(names, str) else list(names)
    out: list[Typology] = []
    for item in items:
        name = item.strip().lower().replace("-", "_")
        if not name:
            continue
        try:
            out.append(Typology(name))
        except ValueError:
            known = ", ".join(t.value for t in Typology)
            raise InvalidInput(f"unknown typology {item.strip()!r}: use one of {known}") from None
    return out


def detect_data(
    data: ChainData,
    policy: TypologyPolicy,
    *,
    typologies: Sequence[Typology] | None = None,
    address_ids: Sequence[int] | None = None,
    since_height: int | None = None,
    context: ProvenanceContext | None = None,
    prices: DailyPrices | None = None,
) -> list[TypologyInstance]:
    """The instances on ``data``. With a ``context`` (labels), a detector whose policy
    part asks for ``illicit_source`` keeps only the instances that illicit funds had
    reached (``risk.provenance``); without one, the shapes alone (what the model's
    features count). With ``prices`` (daily USD prices), structuring values payments at
    their day's price rather than at the policy's reference prices."""
    chosen = list(DETECTORS) if typologies is None else list(typologies)
    if prices is not None:
        register(data, prices)
    if context is not None:
        compute_provenance(data, context, policy.provenance)
    ensure_tables(data)
    raws: dict[Typology, list[Raw]] = {}
    for typ in DETECTORS:  # in the order above, so the specific ones come first
        part = getattr(policy, typ.value)
        needed = (
            typ in chosen
            or (typ in _SPECIFIC and any(g in chosen for g in _GENERIC))
            or (typ is Typology.FAN_OUT and Typology.PASS_THROUGH in chosen)
        )
        if needed and part.enabled:
            raws[typ] = DETECTORS[typ](data, part)
            if context is not None and part.illicit_source:
                hops = getattr(part, "utxo_max_source_hops", None) if data.utxo else None
                raws[typ] = _from_illicit(data, raws[typ], part.weak_sources, hops)
    taken = {t for typ in _SPECIFIC for r in raws.get(typ, []) for t in r.tx_ids}
    kept: list[Raw] = []
    for typ, found in raws.items():
        if typ not in chosen:
            continue
        if typ in _GENERIC:
            found = [r for r in found if not taken.intersection(r.tx_ids)]
        if typ is Typology.PASS_THROUGH:  # a split's pieces moving on: the fan-out's layering
            split = {t for r in raws.get(Typology.FAN_OUT, []) for t in r.tx_ids}
            found = [r for r in found if r.tx_ids[0] not in split]
        kept.extend(found)
    instances = finish(data, kept)
    if since_height is not None:
        instances = [i for i in instances if i.last_height >= since_height]
    if address_ids is not None:
        wanted = {int(a) for a in address_ids}
        instances = [i for i in instances if wanted.intersection(i.address_ids)]
    return instances


def _from_illicit(
    data: ChainData, found: list[Raw], weak: Sequence[str], max_hops: int | None = None
) -> list[Raw]:
    """The finds that touch an address illicit funds (from a source not in ``weak``) had
    reached by their last time (``max_hops``: within that many transfers of the source;
    0: an address of the illicit source itself)."""
    if not found:
        return found
    rows = [
        (k, int(a), int(r.last_t))
        for k, r in enumerate(found)
        for a in (r.address_ids if r.sources is None else r.sources)
    ]
    hit = data.con.execute(
        """SELECT DISTINCT w.k FROM (SELECT unnest($k::BIGINT[]) AS k,
                                            unnest($a::BIGINT[]) AS a,
                                            unnest($t::BIGINT[]) AS t) w
           JOIN prov p ON p.address_id = w.a AND p.t <= w.t
           WHERE p.category NOT IN (SELECT unnest($weak::VARCHAR[]))
             AND ($hops < 0 OR p.hops <= $hops)""",
        {
            "hops": -1 if max_hops is None else int(max_hops),
            "k": [r[0] for r in rows],
            "a": [r[1] for r in rows],
            "t": [r[2] for r in rows],
            "weak": list(weak),
        },
    ).fetchall()
    keep = {int(k) for (k,) in hit}
    return [r for k, r in enumerate(found) if k in keep]


def detect(
    root: Path,
    chain: str,
    policy: TypologyPolicy | None = None,
    *,
    address_ids: Sequence[int] | None = None,
    since_height: int | None = None,
    typologies: Sequence[Typology] | None = None,
    context: ProvenanceContext | None = None,
    prices: DailyPrices | None = None,
) -> list[TypologyInstance]:
    """The typology instances on ``chain`` (all, those touching ``address_ids``, or those
    ending at or after ``since_height``: the data read starts ``policy.lookback_s`` of
    blocks before it); ``context``: the labels that tell where funds came from."""
    policy = policy or TypologyPolicy()
    if since_height is not None and since_height < 0:
        raise InvalidInput("since_height is never negative")
    start = 0
    if since_height is not None:
        from chainsleuth.chain.chains import get_chain  # noqa: PLC0415

        start = max(0, since_height - policy.lookback_s // get_chain(chain).block_seconds)
    data = load_chain(root, chain, prices_usd=policy.prices_usd, since_height=start)
    try:
        return detect_data(
            data,
            policy,
            typologies=typologies,
            address_ids=address_ids,
            since_height=since_height,
            context=context,
            prices=prices,
        )
    finally:
        data.close()

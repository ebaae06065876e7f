"""Typology detectors scored on a generated world's ground truth (``truth/typologies.parquet``).

**Matching rule.** A detected instance *matches* a true instance when both are of the same
typology (``mixing`` is scored against the truth's ``coinjoin``) on the same chain and they
share at least one transaction hash; a true instance without transactions matches on a
shared address. Precision = detected instances that match some true instance / detected
instances; recall = true instances matched by some detected instance / true instances.
A typology the world has no instance of has no recall (and precision only counts the
detections as false); one with no detector is not scored.

**Set aside.** The generator writes every darknet-market sweep as a ``fan_in`` and every
vendor payout as a ``fan_out``, also when the sweep moves one deposit or the payout pays
one vendor: a one-to-one transfer, no fan-in or fan-out in the issue's sense. A true
``fan_in`` with fewer than two paying addresses (its addresses less the collector) and a
true ``fan_out`` of one transaction with fewer than two addresses are *set aside*: not
counted in recall, and a detection that matches only such instances counts neither way.
``set_aside`` says how many; ``strict=True`` scores against every true instance.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from pydantic import BaseModel

from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.enums import ChainKind
from chainsleuth.core.errors import InvalidInput
from chainsleuth.entities import service as entity_service
from chainsleuth.risk.policy import TypologyPolicy
from chainsleuth.risk.provenance import ProvenanceContext, labels_from_files
from chainsleuth.risk.typologies import Typology, TypologyInstance, detect
from chainsleuth.risk.typologies.prices import DailyPrices, from_trades_csv

#: detector -> the ground truth's name of the typology
TRUTH_NAME = {t: t.value for t in Typology} | {Typology.MIXING: "coinjoin"}


class TypologyScore(BaseModel):
    typology: str
    truth_name: str
    detected: int
    matched_detected: int
    true: int
    matched_true: int
    precision: float | None
    recall: float | None
    set_aside: int = 0


def degenerate(row: dict[str, object]) -> bool:
    """A true fan-in with fewer than two payers, or fan-out with fewer than two payees."""
    txs = list(row.get("tx_hashes") or [])  # type: ignore[call-overload]
    addrs = set(row.get("addresses") or [])  # type: ignore[call-overload]
    if row["typology"] == "fan_in":
        return len(addrs) - 1 < 2
    if row["typology"] == "fan_out":
        return len(txs) == 1 and len(addrs) < 2
    return False


def truth_instances(world: Path) -> list[dict[str, object]]:
    path = Path(world) / "truth" / "typologies.parquet"
    if not path.is_file():
        raise InvalidInput(f"{world} is no world folder: truth/typologies.parquet is missing")
    rows: list[dict[str, object]] = pq.read_table(path).to_pylist()
    return rows


def score(
    found: list[TypologyInstance],
    truth: list[dict[str, object]],
    typologies: list[Typology],
    chains: list[str],
    *,
    strict: bool = False,
) -> list[TypologyScore]:
    out: list[TypologyScore] = []
    for typ in typologies:
        name = TRUTH_NAME[typ]
        det = [i for i in found if i.typology == typ and i.chain in chains]
        every = [r for r in truth if r["typology"] == name and r["chain"] in chains]
        aside = [r for r in every if not strict and degenerate(r)]
        tru = [r for r in every if strict or not degenerate(r)]
        det_hit = [False] * len(det)
        tru_hit = [False] * len(tru)
        for j, r in enumerate(tru):
            txs = set(r["tx_hashes"] or [])  # type: ignore[call-overload]
            addrs = set(r["addresses"] or [])  # type: ignore[call-overload]
            for k, d in enumerate(det):
                if d.chain != r["chain"]:
                    continue
                hit = (
                    bool(txs.intersection(d.tx_hashes))
                    if txs
                    else bool(addrs.intersection(d.addresses))
                )
                if hit:
                    det_hit[k] = tru_hit[j] = True
        aside_txs = {h for r in aside for h in (r["tx_hashes"] or [])}  # type: ignore[attr-defined]
        kept = [  # a detection matching only set-aside instances counts neither way
            k for k, d in enumerate(det) if det_hit[k] or not aside_txs.intersection(d.tx_hashes)
        ]
        det = [det[k] for k in kept]
        det_hit = [det_hit[k] for k in kept]
        out.append(
            TypologyScore(
                typology=typ.value,
                truth_name=name,
                detected=len(det),
                matched_detected=sum(det_hit),
                true=len(tru),
                matched_true=sum(tru_hit),
                precision=sum(det_hit) / len(det) if det else None,
                recall=sum(tru_hit) / len(tru) if tru else None,
                set_aside=len(aside),
            )
        )
    return out


def evaluate(
    world: Path,
    root: Path,
    *,
    chain: str = "all",
    policy: TypologyPolicy | None = None,
    typologies: list[Typology] | None = None,
    labels: list[Path] | None = None,
    strict: bool = False,
    day_prices: bool = True,
) -> list[TypologyScore]:
    """Run the detectors on every chain asked for and score them against the world.

    ``labels``: label files or folders (default: the world's public ``labels/``, what an
    investigator could know; ``[]``: none, the shapes alone). Account chains are read
    first, so that bridge locks there are known when the UTXO chain's releases are.
    ``day_prices``: value payments at the day's price, the median of the world exchange's
    trades that day (``exchange/trades.csv``: what the exchange knows), where the world has
    them; else at the policy's reference prices."""
    truth = truth_instances(world)
    chains = sorted(
        entity_service.chains_of(chain), key=lambda c: get_chain(c).kind is ChainKind.UTXO
    )
    chosen = typologies or list(Typology)
    files = [Path(world) / "labels"] if labels is None else labels
    context = ProvenanceContext(labels_from_files(root, files)) if files else None
    trades = Path(world) / "exchange" / "trades.csv"
    prices: DailyPrices | None = (
        from_trades_csv(trades) if day_prices and trades.is_file() else None
    )
    found: list[TypologyInstance] = []
    for c in chains:
        found.extend(detect(root, c, policy, typologies=chosen, context=context, prices=prices))
    return score(found, truth, chosen, chains, strict=strict)

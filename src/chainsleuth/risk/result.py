"""The risk result of an address, an entity or a transfer, and the policy's verdict on it.

Two steps: **facts** (``Facts``: exposure per category, direction and hop in USD, the
subject's own category and labels, typology matches, the model's probability), gathered
from the precomputed table (``risk.table``) or on the fly (``live_*``, a bounded haircut
trace through ``tracing``); then ``evaluate(policy, facts)``, a pure function, turns them
into a ``RiskResult``: severity, action, score, the breakdown and the reasons in plain
words.

**Score** (0-100): the severity's band (low 0-39, medium 40-69, high 70-89, severe 90-100),
placed within it by the strongest signal (the largest share of exposure to an illicit
category, or the model's probability).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import BaseModel

from chainsleuth.labels.enums import ILLICIT
from chainsleuth.labels.schemas import LabelRead
from chainsleuth.risk.features import FEATURES
from chainsleuth.risk.policy_store import PolicyVersion
from chainsleuth.risk.riskpolicy import SEVERITIES, THRESHOLDS, Action, Level, Severity

DIRECTIONS = ("incoming", "outgoing")


class ExposureLine(BaseModel):
    category: str
    direction: str
    hops: int  # the policy's hop limit for the category
    direct_value_usd: float
    direct_share: float
    indirect_value_usd: float
    indirect_share: float
    counterparty: str | None = None  # the largest labelled address reached (live results)
    actor: str | None = None


class LabelLine(BaseModel):
    category: str
    label: str
    actor: str | None
    source: str
    confidence: int
    scope: str  # "address" (its own label) or "entity" (one of its entity's)


class TypologyLine(BaseModel):
    typology: str
    instances: int


class Contribution(BaseModel):
    feature: str
    value: float
    contribution: float


class ModelLine(BaseModel):
    version: str
    probability: float
    threshold: float
    contributions: list[Contribution]


class Reason(BaseModel):
    severity: Severity
    kind: str  # label, exposure, model, typology, none
    category: str | None = None
    text: str


class RiskResult(BaseModel):
    chain: str
    subject_type: str  # address, entity, transfer
    subject: str
    known: bool  # the subject has activity on the chain
    severity: Severity
    action: Action
    score: int
    policy_version: int
    totals_usd: dict[str, float]
    exposure: list[ExposureLine]
    labels: list[LabelLine]
    own_category: str | None
    typologies: list[TypologyLine]
    model: ModelLine | None
    reasons: list[str]
    reason_details: list[Reason]
    source: str  # "table" (precomputed) or "live"
    notes: list[str]
    computed_at: datetime


@dataclass
class Facts:
    chain: str
    subject_type: str
    subject: str
    known: bool
    hops: int
    categories: list[str]
    values: dict[str, np.ndarray]  # direction -> (hops x categories) USD at each hop
    totals: dict[str, float]
    own_category: str | None = None
    labels: list[LabelLine] = field(default_factory=list)
    typologies: dict[str, int] | None = None
    model: ModelLine | None = None
    counterparties: dict[tuple[str, str], tuple[str, str | None]] = field(default_factory=dict)
    source: str = "live"
    notes: list[str] = field(default_factory=list)


def empty_facts(chain: str, subject_type: str, subject: str, categories: list[str]) -> Facts:
    zeros = np.zeros((1, len(categories)))
    return Facts(
        chain=chain,
        subject_type=subject_type,
        subject=subject,
        known=False,
        hops=1,
        categories=categories,
        values=dict.fromkeys(DIRECTIONS, zeros),
        totals=dict.fromkeys(DIRECTIONS, 0.0),
    )


def label_lines(own: list[LabelRead], entity: Sequence[LabelRead] = ()) -> list[LabelLine]:
    out = []
    for scope, labels in (("address", own), ("entity", entity)):
        for label in labels:
            out.append(
                LabelLine(
                    category=label.category.value,
                    label=label.label,
                    actor=label.actor.name if label.actor else None,
                    source=label.source.name,
                    confidence=label.confidence,
                    scope=scope,
                )
            )
    return out


def model_line(
    version: str, probability: float, threshold: float, feats: list[tuple[str, float, float]]
) -> ModelLine:
    return ModelLine(
        version=version,
        probability=float(probability),
        threshold=float(threshold),
        contributions=[Contribution(feature=f, value=v, contribution=c) for f, v, c in feats],
    )


def feature_name(index: int) -> str:
    return FEATURES[index] if 0 <= index < len(FEATURES) else str(index)


# --- evaluation ------------------------------------------------------------------------------


def _met(level: Level, values: dict[str, float]) -> str | None:
    """The first threshold of ``level`` that ``values`` meet, or None."""
    for name in THRESHOLDS:
        limit = getattr(level, name)
        if limit is not None and values[name] > 0 and values[name] >= limit:
            return name
    return None


def _words(category: str) -> str:
    return category.replace("_", " ")


def _subject_words(facts: Facts) -> str:
    return {"transfer": "the transfer", "entity": "the entity"}.get(
        facts.subject_type, "the address"
    )


def _exposure_text(
    facts: Facts, direction: str, category: str, threshold: str, line: ExposureLine
) -> str:
    verb = "comes from" if direction == "incoming" else "goes to"
    what = f"{direction} value"
    if threshold.startswith("direct"):
        amount = line.direct_value_usd
        share = line.direct_share
        where = f"{verb} {_words(category)} directly"
    else:
        amount = line.indirect_value_usd
        share = line.indirect_share
        within = f"within {line.hops} hops" if line.hops > 2 else "2 hops away"
        where = f"{verb} {_words(category)} {within}"
    if line.actor:
        where += f" (entity {line.actor})"
    elif line.counterparty:
        where += f" ({line.counterparty})"
    return f"{share:.0%} of {what} (${amount:,.0f}) {where}"


def evaluate(policy: PolicyVersion, facts: Facts) -> RiskResult:
    """The policy's verdict on the facts."""
    body = policy.body
    reasons: list[Reason] = []
    lines: list[ExposureLine] = []
    strongest = 0.0
    index = {c: j for j, c in enumerate(facts.categories)}
    if facts.own_category and facts.own_category in body.categories:
        rule = body.categories[facts.own_category]
        if rule.own_label is not None:
            actor = next(
                (x.actor for x in facts.labels if x.category == facts.own_category and x.actor),
                None,
            )
            via = "" if any(x.scope == "address" for x in facts.labels) else " through its entity"
            reasons.append(
                Reason(
                    severity=rule.own_label,
                    kind="label",
                    category=facts.own_category,
                    text=f"{_subject_words(facts)} is labelled {_words(facts.own_category)}{via}"
                    + (f" ({actor})" if actor else ""),
                )
            )
            strongest = 1.0
    for category, rule in body.categories.items():
        j = index.get(category)
        if j is None:
            continue
        for direction in rule.direction.directions:
            total = facts.totals.get(direction, 0.0)
            if total <= 0:
                continue
            per_hop = facts.values[direction][:, j]
            h = min(rule.hops, facts.hops)
            direct = float(per_hop[0])
            indirect = float(per_hop[1:h].sum())
            if direct <= 0 and indirect <= 0:
                continue
            counterparty, actor = facts.counterparties.get((direction, category), (None, None))
            line = ExposureLine(
                category=category,
                direction=direction,
                hops=rule.hops,
                direct_value_usd=round(direct, 2),
                direct_share=min(1.0, direct / total),
                indirect_value_usd=round(indirect, 2),
                indirect_share=min(1.0, indirect / total),
                counterparty=counterparty,
                actor=actor,
            )
            lines.append(line)
            if category in {c.value for c in ILLICIT}:
                strongest = max(strongest, line.direct_share + line.indirect_share)
            values = {
                "direct_share": line.direct_share,
                "direct_value_usd": direct,
                "indirect_share": line.indirect_share,
                "indirect_value_usd": indirect,
            }
            for severity in SEVERITIES:
                level = rule.levels.get(severity)
                met = _met(level, values) if level is not None else None
                if met is not None:
                    reasons.append(
                        Reason(
                            severity=severity,
                            kind="exposure",
                            category=category,
                            text=_exposure_text(facts, direction, category, met, line),
                        )
                    )
                    break
    if facts.model is not None and body.model.enabled:
        threshold = body.model.threshold or facts.model.threshold
        facts.model = facts.model.model_copy(update={"threshold": threshold})
        strongest = max(strongest, facts.model.probability)
        if facts.model.probability >= threshold:
            top = ", ".join(c.feature for c in facts.model.contributions if c.contribution > 0)
            reasons.append(
                Reason(
                    severity=body.model.severity,
                    kind="model",
                    text=f"the model gives an illicit probability of "
                    f"{facts.model.probability:.0%} (alert threshold {threshold:.0%})"
                    + (f", mostly from {top}" if top else ""),
                )
            )
    typologies = [
        TypologyLine(typology=k, instances=int(v)) for k, v in (facts.typologies or {}).items() if v
    ]
    if typologies and body.typology_severity is not None:
        named = ", ".join(
            f"{_words(t.typology)} ({t.instances} instance{'s' if t.instances > 1 else ''})"
            for t in typologies
        )
        reasons.append(
            Reason(
                severity=body.typology_severity,
                kind="typology",
                text=f"{_subject_words(facts)} takes part in {named}",
            )
        )
    reasons.sort(key=lambda r: -r.severity.rank)
    severity = reasons[0].severity if reasons else Severity.LOW
    if not reasons:
        reasons.append(
            Reason(
                severity=Severity.LOW,
                kind="none",
                text=f"no label, exposure, typology or model score reaches a threshold of "
                f"policy version {policy.version}"
                + ("" if facts.known else f"; {_subject_words(facts)} has no activity on chain"),
            )
        )
    lines.sort(key=lambda x: -(x.direct_share + x.indirect_share))
    return RiskResult(
        chain=facts.chain,
        subject_type=facts.subject_type,
        subject=facts.subject,
        known=facts.known,
        severity=severity,
        action=body.action_for(severity),
        score=score(severity, strongest),
        policy_version=policy.version,
        totals_usd={d: round(v, 2) for d, v in facts.totals.items()},
        exposure=lines,
        labels=facts.labels,
        own_category=facts.own_category,
        typologies=typologies,
        model=facts.model,
        reasons=[r.text for r in reasons],
        reason_details=reasons,
        source=facts.source,
        notes=facts.notes,
        computed_at=datetime.now(UTC),
    )


_BANDS = {
    Severity.LOW: (0, 39),
    Severity.MEDIUM: (40, 69),
    Severity.HIGH: (70, 89),
    Severity.SEVERE: (90, 100),
}


def score(severity: Severity, strength: float) -> int:
    lo, hi = _BANDS[severity]
    return int(round(lo + (hi - lo) * min(1.0, max(0.0, strength))))


def result_json(result: RiskResult) -> dict[str, Any]:
    data: dict[str, Any] = result.model_dump(mode="json")
    return data

"""The risk policy: what exposure, labels, typologies and model scores mean for a decision.

A policy body (``RiskPolicyBody``, stored as JSON in ``risk_policies``, one row per
version) holds, per label category (``chainsleuth.labels.enums.Category``):

* ``direction``: the exposure that counts, ``incoming`` (source of funds), ``outgoing``
  (destination) or ``both``; ``hops``: how far (1 = direct counterparties only);
* ``levels``: for each severity (severe, high, medium, low) the thresholds that reach it:
  ``direct_share`` / ``direct_value_usd`` (hop 1) and ``indirect_share`` /
  ``indirect_value_usd`` (hops 2 to ``hops``). A level is reached when any threshold it
  sets is met; the highest level reached wins;
* ``own_label``: the severity when the subject itself carries the category.

Beside them: ``actions`` (severity -> allow, review or hold), the model's alert threshold
and the severity it calls for, the severity of a typology match, and the typology
detectors' parameters (``TypologyPolicy``).

A body that contradicts itself is refused (``InvalidInput``, a 422 with the reason): an
unknown category, a hop limit out of range, a lower severity with a stricter threshold
than a higher one, or a lower severity with a stricter action than a higher one.
"""

from __future__ import annotations

import difflib
import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chainsleuth.core.errors import InvalidInput
from chainsleuth.labels.enums import Category
from chainsleuth.risk.policy import TypologyPolicy

#: the farthest exposure a policy may ask for (the precomputed table holds as many hops)
MAX_POLICY_HOPS = 5


class Severity(StrEnum):
    SEVERE = "severe"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.SEVERE: 3}
#: highest first
SEVERITIES = (Severity.SEVERE, Severity.HIGH, Severity.MEDIUM, Severity.LOW)


class Action(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    HOLD = "hold"

    @property
    def rank(self) -> int:
        return {Action.ALLOW: 0, Action.REVIEW: 1, Action.HOLD: 2}[self]


class ExposureDirection(StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"
    BOTH = "both"

    @property
    def directions(self) -> tuple[str, ...]:
        if self is ExposureDirection.BOTH:
            return ("incoming", "outgoing")
        return (self.value,)


THRESHOLDS = ("direct_share", "direct_value_usd", "indirect_share", "indirect_value_usd")


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    direct_share: float | None = Field(None, gt=0, le=1)
    direct_value_usd: int | None = Field(None, ge=0, le=10**15)
    indirect_share: float | None = Field(None, gt=0, le=1)
    indirect_value_usd: int | None = Field(None, ge=0, le=10**15)

    @model_validator(mode="after")
    def _some(self) -> Level:
        if all(getattr(self, t) is None for t in THRESHOLDS):
            raise ValueError("a level needs at least one threshold")
        return self


class CategoryRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: ExposureDirection = ExposureDirection.BOTH
    hops: int = Field(3, ge=1, le=MAX_POLICY_HOPS)
    levels: dict[Severity, Level] = Field(default_factory=dict)
    own_label: Severity | None = None

    @model_validator(mode="after")
    def _ordered(self) -> CategoryRule:
        for threshold in THRESHOLDS:
            prev: tuple[Severity, float] | None = None  # the next higher severity's value
            for severity in SEVERITIES:
                level = self.levels.get(severity)
                value = getattr(level, threshold) if level is not None else None
                if value is None:
                    continue
                if prev is not None and value > prev[1]:
                    raise ValueError(
                        f"{severity.value} has a stricter {threshold} ({value}) than "
                        f"{prev[0].value} ({prev[1]}): a lower severity must be reached first"
                    )
                prev = (severity, value)
        return self


class ModelRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    #: None: the active model's own threshold (best F1 on its calibration data)
    threshold: float | None = Field(None, gt=0, le=1)
    severity: Severity = Severity.HIGH


def _default_actions() -> dict[Severity, Action]:
    return {
        Severity.SEVERE: Action.HOLD,
        Severity.HIGH: Action.REVIEW,
        Severity.MEDIUM: Action.ALLOW,
        Severity.LOW: Action.ALLOW,
    }


class RiskPolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: dict[str, CategoryRule]
    actions: dict[Severity, Action] = Field(default_factory=_default_actions)
    model: ModelRule = ModelRule()
    typology_severity: Severity | None = Severity.MEDIUM
    typologies: TypologyPolicy = TypologyPolicy()

    @model_validator(mode="after")
    def _consistent(self) -> RiskPolicyBody:
        known = {c.value for c in Category}
        for name in self.categories:
            if name not in known:
                raise ValueError(f"unknown category {name!r}")
        missing = [s.value for s in SEVERITIES if s not in self.actions]
        if missing:
            raise ValueError("actions: no action for " + ", ".join(missing))
        for higher, lower in zip(SEVERITIES, SEVERITIES[1:], strict=False):
            if self.actions[lower].rank > self.actions[higher].rank:
                raise ValueError(
                    f"actions: {lower.value} calls for {self.actions[lower].value}, stricter "
                    f"than {higher.value} ({self.actions[higher].value})"
                )
        return self

    @property
    def max_hops(self) -> int:
        return max((r.hops for r in self.categories.values()), default=1)

    def action_for(self, severity: Severity) -> Action:
        return self.actions[severity]


def _levels(**levels: dict[str, float]) -> dict[Severity, Level]:
    return {Severity(k): Level.model_validate(v) for k, v in levels.items()}


def default_body() -> RiskPolicyBody:
    """The policy a fresh installation starts with (version 1)."""
    both, incoming = ExposureDirection.BOTH, ExposureDirection.INCOMING
    worst = _levels(
        severe={"direct_share": 0.05, "indirect_share": 0.25},
        high={"direct_share": 0.01, "indirect_share": 0.05},
        medium={"indirect_share": 0.01},
        low={"indirect_share": 0.001},
    )
    crime = _levels(
        severe={"direct_share": 0.2, "indirect_share": 0.5},
        high={"direct_share": 0.05, "indirect_share": 0.2},
        medium={"direct_share": 0.01, "indirect_share": 0.05},
        low={"indirect_share": 0.01},
    )
    lesser = _levels(
        high={"direct_share": 0.2, "indirect_share": 0.5},
        medium={"direct_share": 0.05, "indirect_share": 0.2},
        low={"indirect_share": 0.01},
    )
    mixer = _levels(
        high={"direct_share": 0.5},
        medium={"direct_share": 0.1, "indirect_share": 0.3},
        low={"indirect_share": 0.05},
    )
    gambling = _levels(medium={"direct_share": 0.5}, low={"direct_share": 0.1})
    rules: dict[str, CategoryRule] = {
        Category.SANCTIONED: CategoryRule(
            direction=both, hops=3, levels=worst, own_label=Severity.SEVERE
        ),
        Category.TERRORIST_FINANCING: CategoryRule(
            direction=both, hops=3, levels=worst, own_label=Severity.SEVERE
        ),
        Category.CHILD_ABUSE: CategoryRule(
            direction=both, hops=3, levels=worst, own_label=Severity.SEVERE
        ),
        Category.RANSOMWARE: CategoryRule(
            direction=both, hops=4, levels=crime, own_label=Severity.SEVERE
        ),
        Category.STOLEN_FUNDS: CategoryRule(
            direction=both, hops=4, levels=crime, own_label=Severity.SEVERE
        ),
        Category.DARKNET_MARKET: CategoryRule(
            direction=both, hops=3, levels=crime, own_label=Severity.HIGH
        ),
        Category.SCAM: CategoryRule(
            direction=incoming, hops=3, levels=lesser, own_label=Severity.HIGH
        ),
        Category.EXTORTION: CategoryRule(
            direction=incoming, hops=2, levels=lesser, own_label=Severity.HIGH
        ),
        Category.MONEY_LAUNDERING: CategoryRule(
            direction=both, hops=2, levels=lesser, own_label=Severity.HIGH
        ),
        Category.MONEY_MULE: CategoryRule(
            direction=both, hops=2, levels=lesser, own_label=Severity.HIGH
        ),
        Category.MIXER: CategoryRule(direction=both, hops=2, levels=mixer, own_label=Severity.HIGH),
        Category.GAMBLING: CategoryRule(direction=incoming, hops=1, levels=gambling),
        Category.EXCHANGE: CategoryRule(direction=both, hops=1),
    }
    return RiskPolicyBody(categories={str(k): v for k, v in rules.items()})


def parse_body(data: Any) -> RiskPolicyBody:
    """A policy body from JSON-like data; a self-contradicting one is ``InvalidInput``."""
    if not isinstance(data, dict):
        raise InvalidInput("a risk policy is a JSON object")
    try:
        return RiskPolicyBody.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"risk policy: {where + ': ' if where else ''}{message}") from None


def body_json(body: RiskPolicyBody) -> dict[str, Any]:
    data: dict[str, Any] = body.model_dump(mode="json", exclude_none=True)
    return data


def diff(old: dict[str, Any], new: dict[str, Any], *, old_name: str, new_name: str) -> str:
    """A unified diff of two bodies' JSON (sorted keys, one value a line)."""

    def lines(body: dict[str, Any]) -> list[str]:
        return json.dumps(body, indent=2, sort_keys=True).splitlines(keepends=True)

    return "".join(
        difflib.unified_diff(lines(old), lines(new), fromfile=old_name, tofile=new_name, n=2)
    )

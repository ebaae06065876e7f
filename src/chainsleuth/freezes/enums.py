"""Machine values of freezes."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    ACCOUNT = "account"  # every asset account of a customer: all their available funds
    ASSET = "asset"  # one asset account of a customer: all its available funds
    AMOUNT = "amount"  # an amount of one asset account

    @property
    def label(self) -> str:
        return {
            Scope.ACCOUNT: "whole account",
            Scope.ASSET: "one asset",
            Scope.AMOUNT: "an amount",
        }[self]


class FreezeStatus(StrEnum):
    PENDING = "pending"  # requested, awaiting the second person
    ACTIVE = "active"  # funds held
    REJECTED = "rejected"  # the request was turned down; nothing was ever held
    RELEASED = "released"  # what was held went back to the customer
    SEIZED = "seized"  # everything held went to an agency's wallet

    @property
    def is_open(self) -> bool:
        return self in (FreezeStatus.PENDING, FreezeStatus.ACTIVE)


class ActionKind(StrEnum):
    """What a four-eyes request asks for."""

    FREEZE = "freeze"
    RELEASE = "release"
    EXTEND = "extend"
    SEIZE = "seize"


class ActionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class DueKind(StrEnum):
    EXPIRY = "expiry"
    REVIEW = "review"

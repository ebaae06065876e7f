"""Machine values of the ledger."""

from __future__ import annotations

from enum import StrEnum


class Bucket(StrEnum):
    """What a ledger account holds. Customer buckets never go negative; system ones may."""

    AVAILABLE = "available"  # a customer's spendable funds
    HELD = "held"  # a customer's funds under a freeze
    EXTERNAL = "external"  # the world outside the exchange (deposits come from it)
    TRADING = "trading"  # the exchange's side of trades
    OPENING = "opening"  # where opening balances come from
    SEIZURE = "seizure"  # an agency's wallet that seized funds go to

    @property
    def is_customer(self) -> bool:
        return self in (Bucket.AVAILABLE, Bucket.HELD)


class JournalKind(StrEnum):
    OPENING = "opening"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRADE = "trade"
    HOLD = "hold"
    RELEASE = "release"
    SEIZE = "seize"

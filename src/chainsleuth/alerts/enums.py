"""Machine values of the alerts domain."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    SEVERE = "severe"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Larger is worse (for sorting the queue)."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.SEVERE: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1}


class SubjectType(StrEnum):
    ADDRESS = "address"
    ENTITY = "entity"
    TRANSFER = "transfer"
    CUSTOMER = "customer"
    ACCOUNT = "account"


class AlertSource(StrEnum):
    SCREENING = "screening"
    WATCHLIST = "watchlist"
    TYPOLOGY = "typology"
    MANUAL = "manual"


class AlertStatus(StrEnum):
    NEW = "new"
    IN_REVIEW = "in_review"
    ESCALATED = "escalated"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


OPEN_STATUSES = frozenset({AlertStatus.NEW, AlertStatus.IN_REVIEW, AlertStatus.ESCALATED})


class Disposition(StrEnum):
    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    BENIGN = "benign"
    DUPLICATE = "duplicate"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class WatchKind(StrEnum):
    ADDRESS = "address"
    ENTITY = "entity"

"""The team lead's figures: alerts per day, time to disposition, share of false positives.

Alerts counted are those first seen in the window; dispositions those made in it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.alerts.enums import OPEN_STATUSES, AlertStatus, Disposition
from chainsleuth.alerts.models import Alert
from chainsleuth.alerts.schemas import AlertStats, DayCount
from chainsleuth.core.errors import InvalidInput
from chainsleuth.core.models import utcnow

MAX_DAYS = 3660


def stats(session: Session, *, days: int = 30) -> AlertStats:
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"the window is 1 to {MAX_DAYS} days")
    now = utcnow()
    first_day = (now - timedelta(days=days - 1)).date()
    since = now.replace(
        year=first_day.year,
        month=first_day.month,
        day=first_day.day,
        hour=0,
        minute=0,
        second=0,
        microsecond=0,
    )
    raised = session.execute(
        select(Alert.first_seen, Alert.status, Alert.severity, Alert.source).where(
            Alert.first_seen >= since
        )
    ).all()
    closed = session.execute(
        select(Alert.first_seen, Alert.closed_at, Alert.disposition).where(
            Alert.status == AlertStatus.CLOSED.value, Alert.closed_at >= since
        )
    ).all()
    per_day_counts = Counter(row.first_seen.date() for row in raised)
    per_day = [
        DayCount(
            day=first_day + timedelta(days=i),
            count=per_day_counts.get(first_day + timedelta(days=i), 0),
        )
        for i in range(days)
    ]
    hours = [
        (row.closed_at - row.first_seen).total_seconds() / 3600
        for row in closed
        if row.closed_at is not None
    ]
    dispositions = Counter(row.disposition for row in closed if row.disposition)
    false_positives = dispositions.get(Disposition.FALSE_POSITIVE.value, 0)
    open_values = {s.value for s in OPEN_STATUSES}
    return AlertStats(
        days=days,
        since=since,
        total=len(raised),
        open=sum(1 for row in raised if row.status in open_values),
        closed=sum(1 for row in raised if row.status == AlertStatus.CLOSED.value),
        per_day=per_day,
        alerts_per_day=round(len(raised) / days, 2),
        median_hours_to_disposition=round(statistics.median(hours), 2) if hours else None,
        false_positive_share=(false_positives / len(closed)) if closed else None,
        by_status=dict(Counter(row.status for row in raised)),
        by_severity=dict(Counter(row.severity for row in raised)),
        by_source=dict(Counter(row.source for row in raised)),
        by_disposition=dict(dispositions),
    )

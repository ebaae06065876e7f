"""Request metrics (``chainsleuth request-stats``, ``/requests/stats``), reproducible from the
records and the audit log.

Definitions (a request counts when it was *received* inside ``[since, until)``; open ends
are unbounded):

* **by country / agency / type / month**: the agency's country and name, the request type,
  the month (UTC) it was received;
* **emergency** (``emergency_disclosure``) and **preservation** requests are counted apart:
  they have their own figures and are left out of the "other" figures;
* **time to acknowledge**: ``acknowledged_at - received_at``; **time to respond**:
  ``responded_at - received_at`` where the request was delivered or rejected (both are set
  by the requests workflow in the same transaction as its audit entry, ``request.submit``
  and ``request.transition``); medians in hours;
* **SLA breached**: responded after ``sla_due_at``, or still open past it at ``now``;
* **data produced**: the request has a delivered package with at least one produced item;
  the share is over the requests that were responded to;
* **customers / accounts affected**: distinct customers whose items were produced in those
  packages, and their exchange accounts;
* **audited responses**: responses with a ``request.transition`` audit entry to delivered
  or rejected (imported history has none: the difference shows how many came from imports).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from statistics import median
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.audit.models import AuditEvent
from chainsleuth.core.models import as_utc, utcnow
from chainsleuth.exchange.models import Account
from chainsleuth.orgs.models import Agency
from chainsleuth.packages.models import Gathering, GatheringItem, Package
from chainsleuth.requests.models import LeRequest

EMERGENCY = "emergency_disclosure"
PRESERVATION = "preservation"
RESPONDED = ("delivered", "rejected")


class GroupFigures(BaseModel):
    requests: int = 0
    responded: int = 0
    median_hours_to_acknowledge: float | None = None
    median_hours_to_respond: float | None = None
    sla_breaches: int = 0


class RequestStats(BaseModel):
    since: datetime | None
    until: datetime | None
    computed_at: datetime
    requests: int
    by_country: dict[str, int]
    by_agency: dict[str, int]
    by_type: dict[str, int]
    by_month: dict[str, int]
    by_status: dict[str, int]
    all: GroupFigures
    emergency: GroupFigures
    preservation: GroupFigures
    other: GroupFigures
    produced: int
    share_produced: float | None
    customers_affected: int
    accounts_affected: int
    audited_responses: int


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


def _figures(rows: list[Any], now: datetime) -> GroupFigures:
    ack = [_hours(r.received_at, r.acknowledged_at) for r in rows if r.acknowledged_at]
    responded = [r for r in rows if r.responded_at and r.status in RESPONDED]
    resp = [_hours(r.received_at, r.responded_at) for r in responded if r.responded_at]
    breaches = sum(
        1
        for r in rows
        if (r.responded_at is not None and r.responded_at > r.sla_due_at)
        or (r.responded_at is None and r.is_open and now > r.sla_due_at)
    )
    return GroupFigures(
        requests=len(rows),
        responded=len(responded),
        median_hours_to_acknowledge=round(median(ack), 3) if ack else None,
        median_hours_to_respond=round(median(resp), 3) if resp else None,
        sla_breaches=breaches,
    )


def compute(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> RequestStats:
    since, until = as_utc(since), as_utc(until)
    now = now or utcnow()
    q = LeRequest
    stmt = select(
        q.id, q.agency_id, q.type, q.status, q.is_open, q.received_at, q.acknowledged_at,
        q.responded_at, q.sla_due_at,
    ).order_by(q.id)  # fmt: skip
    if since is not None:
        stmt = stmt.where(LeRequest.received_at >= since)
    if until is not None:
        stmt = stmt.where(LeRequest.received_at < until)
    rows: list[Any] = list(session.execute(stmt))
    agencies = {a.id: a for a in session.scalars(select(Agency))}
    ids = {r.id for r in rows}

    produced_items = session.execute(
        select(Package.request_id, GatheringItem.customer_id)
        .join(Gathering, Gathering.id == Package.gathering_id)
        .join(GatheringItem, GatheringItem.gathering_id == Gathering.id)
        .where(Package.request_id.is_not(None), GatheringItem.selected.is_(True))
    ).all()
    produced_requests = {rid for rid, _ in produced_items if rid in ids}
    customers = {cid for rid, cid in produced_items if rid in ids}
    accounts = (
        len(list(session.scalars(select(Account.id).where(Account.customer_id.in_(customers)))))
        if customers
        else 0
    )
    audited: set[int] = set()
    for object_id, details in session.execute(
        select(AuditEvent.object_id, AuditEvent.details).where(
            AuditEvent.action == "request.transition", AuditEvent.object_type == "le_request"
        )
    ):
        if object_id and object_id.isdigit() and json.loads(details).get("to") in RESPONDED:
            audited.add(int(object_id))

    def agency_of(r: Any) -> Agency | None:
        return agencies.get(r.agency_id)

    responded = [r for r in rows if r.responded_at and r.status in RESPONDED]
    return RequestStats(
        since=since,
        until=until,
        computed_at=now,
        requests=len(rows),
        by_country=dict(
            Counter((a.country if (a := agency_of(r)) else "?") for r in rows).most_common()
        ),
        by_agency=dict(
            Counter((a.name if (a := agency_of(r)) else "?") for r in rows).most_common()
        ),
        by_type=dict(Counter(r.type for r in rows).most_common()),
        by_month=dict(
            sorted(Counter(r.received_at.astimezone(UTC).strftime("%Y-%m") for r in rows).items())
        ),  # fmt: skip
        by_status=dict(Counter(r.status for r in rows).most_common()),
        all=_figures(rows, now),
        emergency=_figures([r for r in rows if r.type == EMERGENCY], now),
        preservation=_figures([r for r in rows if r.type == PRESERVATION], now),
        other=_figures([r for r in rows if r.type not in (EMERGENCY, PRESERVATION)], now),
        produced=len(produced_requests),
        share_produced=round(len(produced_requests) / len(responded), 4) if responded else None,
        customers_affected=len(customers),
        accounts_affected=accounts,
        audited_responses=len(audited & {r.id for r in responded}),
    )

"""Reading freezes: the register, one freeze with its approvals and ledger trail, what is due
(expiring or up for review) and the daily digest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chainsleuth.auth.models import User
from chainsleuth.core.errors import InvalidInput
from chainsleuth.core.models import utcnow
from chainsleuth.exchange import service as exchange_service
from chainsleuth.freezes import effects
from chainsleuth.freezes.enums import ActionStatus, DueKind, FreezeStatus
from chainsleuth.freezes.models import Freeze, FreezeAction
from chainsleuth.freezes.schemas import (
    ActionRead,
    DueRead,
    FreezeDetail,
    FreezeRead,
    HoldRead,
    JournalRead,
    PostingRead,
)
from chainsleuth.ledger import service as ledger
from chainsleuth.orgs.models import Agency

MAX_DAYS = 3650


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all())


def _status(value: str | None) -> FreezeStatus | None:
    if not value:
        return None
    try:
        return FreezeStatus(value)
    except ValueError:
        raise InvalidInput(
            f"unknown status {value!r} (use {', '.join(s.value for s in FreezeStatus)})"
        ) from None


def _days(days: int) -> int:
    if days < 0 or days > MAX_DAYS:
        raise InvalidInput(f"days must lie between 0 and {MAX_DAYS}")
    return days


def list_freezes(
    session: Session,
    *,
    status: str | None = None,
    due_within: int | None = None,
    customer_id: str | None = None,
    limit: int = 200,
    now: datetime | None = None,
) -> Sequence[Freeze]:
    """Newest first; ``due_within`` days: active freezes whose review or expiry falls by then
    (overdue ones included)."""
    stmt = select(Freeze)
    wanted = _status(status)
    if wanted is not None:
        stmt = stmt.where(Freeze.status == str(wanted))
    if due_within is not None:
        horizon = (now or utcnow()) + timedelta(days=_days(due_within))
        stmt = stmt.where(
            Freeze.status == str(FreezeStatus.ACTIVE),
            or_(Freeze.review_at <= horizon, Freeze.expires_at <= horizon),
        )
    if customer_id:
        stmt = stmt.where(Freeze.customer_id == customer_id.strip().upper())
    return session.scalars(stmt.order_by(Freeze.id.desc()).limit(limit)).all()


def reads(session: Session, freezes: Sequence[Freeze]) -> list[FreezeRead]:
    names = _names(session, {f.requested_by for f in freezes})
    pending = {
        a.freeze_id: a.kind
        for a in session.scalars(
            select(FreezeAction).where(
                FreezeAction.freeze_id.in_([f.id for f in freezes]),
                FreezeAction.status == str(ActionStatus.PENDING),
            )
        )
    }
    return [_read(session, f, names, pending.get(f.id)) for f in freezes]


def _read(
    session: Session, freeze: Freeze, names: dict[int, str], pending: str | None
) -> FreezeRead:
    return FreezeRead(
        id=freeze.id,
        customer_id=freeze.customer_id,
        scope=freeze.scope,
        exchange_account_id=freeze.exchange_account_id,
        asset=freeze.asset,
        amount=freeze.amount,
        status=freeze.status,
        request_id=freeze.request_id,
        case_id=freeze.case_id,
        reason=freeze.reason,
        review_at=freeze.review_at,
        expires_at=freeze.expires_at,
        requested_by=names.get(freeze.requested_by, f"user #{freeze.requested_by}"),
        created_at=freeze.created_at,
        activated_at=freeze.activated_at,
        closed_at=freeze.closed_at,
        pending_action=pending,
        held=[
            HoldRead(
                exchange_account_id=h.exchange_account_id,
                asset=h.asset,
                held=h.held,
                placed=h.placed,
                released=h.released,
                seized=h.seized,
                held_display=exchange_service.display(h.held, h.asset),
            )
            for h in effects.holds(session, freeze.id)
        ],
    )


def detail(session: Session, freeze: Freeze) -> FreezeDetail:
    actions = session.scalars(
        select(FreezeAction).where(FreezeAction.freeze_id == freeze.id).order_by(FreezeAction.id)
    ).all()
    people: set[int | None] = {freeze.requested_by}
    people |= {a.requested_by for a in actions} | {a.decided_by for a in actions}
    names = _names(session, people)
    agencies = dict(
        session.execute(
            select(Agency.id, Agency.name).where(
                Agency.id.in_({a.agency_id for a in actions if a.agency_id})
            )
        ).all()
    )
    pending = next((a.kind for a in actions if a.status == ActionStatus.PENDING), None)
    base = _read(session, freeze, names, pending)
    return FreezeDetail(
        **base.model_dump(),
        actions=[
            ActionRead(
                id=a.id,
                kind=a.kind,
                status=a.status,
                requested_by=names.get(a.requested_by, f"user #{a.requested_by}"),
                requested_at=a.requested_at,
                note=a.note,
                decided_by=names.get(a.decided_by) if a.decided_by else None,
                decided_at=a.decided_at,
                decision_note=a.decision_note,
                new_review_at=a.new_review_at,
                new_expires_at=a.new_expires_at,
                exchange_account_id=a.exchange_account_id,
                amount=a.amount,
                agency_id=a.agency_id,
                agency=agencies.get(a.agency_id) if a.agency_id else None,
                wallet_address=a.wallet_address,
            )
            for a in actions
        ],
        trail=[
            JournalRead(
                id=t.journal.id,
                kind=t.journal.kind,
                asset=t.journal.asset,
                memo=t.journal.memo,
                actor=t.journal.actor,
                created_at=t.journal.created_at,
                postings=[
                    PostingRead(
                        account=account.key,
                        bucket=account.bucket,
                        amount=amount,
                        display=exchange_service.display(amount, account.asset),
                        wallet_address=account.wallet_address,
                    )
                    for account, amount in t.postings
                ],
            )
            for t in ledger.trail(session, effects.reference(freeze.id))
        ],
    )


@dataclass(frozen=True)
class Due:
    freeze: Freeze
    kind: DueKind
    at: datetime
    overdue: bool

    def read(self) -> DueRead:
        return DueRead(
            freeze_id=self.freeze.id,
            customer_id=self.freeze.customer_id,
            kind=str(self.kind),
            at=self.at,
            overdue=self.overdue,
            status=self.freeze.status,
        )


def due_soon(session: Session, *, days: int = 7, now: datetime | None = None) -> list[Due]:
    """Active freezes whose review date or expiry falls within ``days`` (or has passed),
    soonest first: what the investigators' home page and the daily digest show."""
    now = now or utcnow()
    horizon = now + timedelta(days=_days(days))
    out: list[Due] = []
    for freeze in list_freezes(session, due_within=days, now=now, limit=10_000):
        for kind, at in ((DueKind.EXPIRY, freeze.expires_at), (DueKind.REVIEW, freeze.review_at)):
            if at is not None and at <= horizon:
                out.append(Due(freeze, kind, at, at <= now))
    return sorted(out, key=lambda d: (d.at, d.freeze.id))


def awaiting_approval(session: Session) -> Sequence[FreezeAction]:
    return session.scalars(
        select(FreezeAction)
        .where(FreezeAction.status == str(ActionStatus.PENDING))
        .order_by(FreezeAction.requested_at)
    ).all()


def digest(session: Session, *, days: int = 7, now: datetime | None = None) -> str:
    """The daily digest as plain text (``chainsleuth freezes digest``, run from cron)."""
    now = now or utcnow()
    due = due_soon(session, days=days, now=now)
    waiting = awaiting_approval(session)
    active = list_freezes(session, status=str(FreezeStatus.ACTIVE), limit=100_000)
    lines = [
        f"chainsleuth freezes digest, {now:%Y-%m-%d %H:%M} UTC",
        f"{len(active)} active freeze(s); {len(due)} date(s) due within {days} day(s); "
        f"{len(waiting)} step(s) awaiting approval",
        "",
    ]
    for title, items in (
        ("Overdue", [d for d in due if d.overdue]),
        (f"Due within {days} days", [d for d in due if not d.overdue]),
    ):
        lines.append(f"{title}:")
        lines.extend(
            f"  freeze #{d.freeze.id}  customer {d.freeze.customer_id}  "
            f"{'expires' if d.kind is DueKind.EXPIRY else 'review'} {d.at:%Y-%m-%d %H:%M}"
            for d in items
        )
        if not items:
            lines.append("  none")
        lines.append("")
    lines.append("Awaiting a second person's approval:")
    lines.extend(
        f"  freeze #{a.freeze_id}  {a.kind}  requested {a.requested_at:%Y-%m-%d %H:%M}"
        for a in waiting
    )
    if not waiting:
        lines.append("  none")
    return "\n".join(lines) + "\n"

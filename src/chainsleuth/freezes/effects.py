"""What an approved step does to the money: holds placed, released, seized (ledger entries
filed under the freeze's reference), funds arriving under an active freeze held at once, and
the invariant tying freezes to the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.core.errors import InvalidInput
from chainsleuth.exchange.models import Account
from chainsleuth.freezes.enums import FreezeStatus, Scope
from chainsleuth.freezes.models import Freeze, FreezeAction, FreezeHold
from chainsleuth.ledger import service as ledger


def reference(freeze_id: int) -> str:
    """What the ledger journals of a freeze are filed under."""
    return f"freeze:{freeze_id}"


def holds(session: Session, freeze_id: int) -> list[FreezeHold]:
    return list(
        session.scalars(
            select(FreezeHold)
            .where(FreezeHold.freeze_id == freeze_id)
            .order_by(FreezeHold.exchange_account_id)
            .execution_options(populate_existing=True)
        )
    )


def hold_for(session: Session, freeze: Freeze, account_id: str | None) -> FreezeHold:
    """The hold a seizure takes from: the named account's, or the freeze's only one."""
    live = [h for h in holds(session, freeze.id) if h.held > 0]
    if account_id:
        wanted = account_id.strip().upper()
        for hold in live:
            if hold.exchange_account_id == wanted:
                return hold
        raise InvalidInput(f"freeze #{freeze.id} holds nothing in {wanted}")
    if len(live) != 1:
        raise InvalidInput(
            f"freeze #{freeze.id} holds funds in {len(live)} accounts: name the one to seize from"
            if live
            else f"freeze #{freeze.id} holds nothing to seize"
        )
    return live[0]


def _targets(session: Session, freeze: Freeze) -> list[str]:
    if freeze.exchange_account_id:
        return [freeze.exchange_account_id]
    return list(
        session.scalars(
            select(Account.id).where(Account.customer_id == freeze.customer_id).order_by(Account.id)
        )
    )


def place(session: Session, actor: Actor, freeze: Freeze, now: datetime) -> dict[str, str]:
    if freeze.expires_at is not None and freeze.expires_at <= now:
        raise InvalidInput(f"freeze #{freeze.id} expired before it was approved")
    held: dict[str, str] = {}
    for account_id in _targets(session, freeze):
        buckets = ledger.lock_buckets(session, account_id, actor=actor.name)
        if freeze.scope == Scope.AMOUNT:
            assert freeze.amount is not None
            amount = freeze.amount
            if buckets.available.balance < amount:
                raise ledger.InsufficientFunds(
                    f"cannot freeze {amount} {buckets.available.asset} units: {account_id} has "
                    f"only {buckets.available.balance} available"
                )
        else:
            amount = buckets.available.balance
        if amount > 0:
            ledger.hold(
                session,
                account_id=account_id,
                amount=amount,
                actor=actor.name,
                reference=reference(freeze.id),
                memo=f"freeze #{freeze.id} approved",
            )
        session.add(
            FreezeHold(
                freeze_id=freeze.id,
                exchange_account_id=account_id,
                asset=buckets.available.asset,
                held=amount,
                placed=amount,
                released=0,
                seized=0,
            )
        )
        held[account_id] = str(amount)
    freeze.status = str(FreezeStatus.ACTIVE)
    freeze.activated_at = now
    return held


def hold_arrival(session: Session, account_id: str, amount: int, actor: str) -> None:
    """Funds that arrived in an exchange account (a deposit, a bought trade leg) while a freeze
    of the whole account or of that asset is active go on to the held bucket under the oldest
    such freeze, and onto its hold there (created for an account opened after the approval),
    so that they are released or seized with the rest. Called by the ledger with the account's
    buckets locked, so that an approval or release in flight is seen once it has committed."""
    account = session.get(Account, account_id)
    if account is None:  # pragma: no cover - the ledger checked it
        return
    freeze = session.scalar(
        select(Freeze)
        .where(
            Freeze.status == str(FreezeStatus.ACTIVE),
            or_(
                and_(Freeze.scope == str(Scope.ASSET), Freeze.exchange_account_id == account_id),
                and_(Freeze.scope == str(Scope.ACCOUNT), Freeze.customer_id == account.customer_id),
            ),
        )
        .order_by(Freeze.id)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if freeze is None:
        return
    ledger.hold(
        session,
        account_id=account_id,
        amount=amount,
        actor=actor,
        reference=reference(freeze.id),
        memo=f"arrived while freeze #{freeze.id} is active",
    )
    hold = session.scalar(
        select(FreezeHold)
        .where(FreezeHold.freeze_id == freeze.id, FreezeHold.exchange_account_id == account_id)
        .execution_options(populate_existing=True)
    )
    if hold is None:
        session.add(
            FreezeHold(
                freeze_id=freeze.id,
                exchange_account_id=account_id,
                asset=account.asset,
                held=amount,
                placed=amount,
                released=0,
                seized=0,
            )
        )
    else:
        hold.held = hold.held + amount
        hold.placed = hold.placed + amount
    session.flush()


def _lock_targets(session: Session, actor: Actor, freeze: Freeze) -> None:
    """Lock the freeze's accounts before reading its holds, so that no arrival (which updates
    a hold with the buckets locked) slips in between the read and the write."""
    for account_id in _targets(session, freeze):
        ledger.lock_buckets(session, account_id, actor=actor.name)


def release(session: Session, actor: Actor, freeze: Freeze, now: datetime) -> dict[str, str]:
    released: dict[str, str] = {}
    _lock_targets(session, actor, freeze)
    for hold in holds(session, freeze.id):
        if hold.held > 0:
            ledger.release(
                session,
                account_id=hold.exchange_account_id,
                amount=hold.held,
                actor=actor.name,
                reference=reference(freeze.id),
                memo=f"freeze #{freeze.id} released",
            )
            released[hold.exchange_account_id] = str(hold.held)
            hold.released = hold.released + hold.held
            hold.held = 0
    freeze.status = str(FreezeStatus.RELEASED)
    freeze.closed_at = now
    return released


def seize(
    session: Session, actor: Actor, freeze: Freeze, action: FreezeAction, now: datetime
) -> dict[str, Any]:
    first = hold_for(session, freeze, action.exchange_account_id)
    ledger.lock_buckets(session, first.exchange_account_id, actor=actor.name)
    hold = hold_for(session, freeze, first.exchange_account_id)  # read again, locked
    amount = hold.held if action.amount is None else action.amount
    if amount > hold.held:
        raise InvalidInput(
            f"cannot seize {amount} {hold.asset} units: freeze #{freeze.id} holds only "
            f"{hold.held} in {hold.exchange_account_id}"
        )
    assert action.agency_id is not None and action.wallet_address is not None
    journal = ledger.seize(
        session,
        account_id=hold.exchange_account_id,
        amount=amount,
        agency_id=action.agency_id,
        wallet=action.wallet_address,
        actor=actor.name,
        reference=reference(freeze.id),
        memo=f"seizure #{action.id} to agency #{action.agency_id}",
    )
    hold.seized = hold.seized + amount
    hold.held = hold.held - amount
    action.amount = amount
    session.flush()
    if all(h.held == 0 for h in holds(session, freeze.id)):
        freeze.status = str(FreezeStatus.SEIZED)
        freeze.closed_at = now
    return {
        "account": hold.exchange_account_id,
        "amount": str(amount),
        "agency_id": action.agency_id,
        "wallet": action.wallet_address,
        "journal_id": journal.id,
    }


def check(session: Session) -> list[str]:
    """The freezes' own invariant on top of the ledger's: in every exchange account, what the
    active freezes hold is exactly the ledger's held bucket."""
    problems = ledger.check(session)
    held_by_freezes: dict[str, int] = {}
    for account_id, held in session.execute(
        select(FreezeHold.exchange_account_id, FreezeHold.held)
    ):
        held_by_freezes[account_id] = held_by_freezes.get(account_id, 0) + held
    for account_id, held in ledger.held_by_account(session).items():
        if held != held_by_freezes.get(account_id, 0):
            problems.append(
                f"{account_id}: the ledger holds {held}, "
                f"its freezes {held_by_freezes.get(account_id, 0)}"
            )
    in_ledger = ledger.held_by_account(session)
    for account_id, held in held_by_freezes.items():
        if held and account_id not in in_ledger:
            problems.append(f"{account_id}: freezes hold {held} that the ledger does not")
    for hold in session.scalars(select(FreezeHold)):
        if hold.held != hold.placed - hold.released - hold.seized or hold.held < 0:
            problems.append(f"freeze #{hold.freeze_id} in {hold.exchange_account_id}: bad hold")
    return problems

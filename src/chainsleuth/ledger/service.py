"""The double-entry ledger: opening balances, movements, and the invariants that prove them.

Every movement is one :class:`Journal` whose postings sum to zero. Customer buckets
(available, held) carry their balance on the row; a movement locks the customer rows it
touches (``SELECT ... FOR UPDATE`` on PostgreSQL, in id order so that two movements never
wait on each other in a cycle; SQLite serialises writers with ``BEGIN IMMEDIATE``), checks
that no bucket would go negative, and writes postings and balances together. System
accounts (outside world, trading desk, opening balances, seizure wallets) are never locked:
their balance is the sum of their postings, so that they are no hot row.

Nothing here commits: a movement belongs to the caller's transaction (with its audit entry).

Funds arriving in an exchange account (a deposit, the bought leg of a trade) are passed to the
*arrival hooks* (:func:`on_arrival`) after their journal, with the account's buckets locked:
``chainsleuth.freezes`` registers one that moves them straight on to the held bucket while a
freeze of the whole account or of that asset is active (the ledger knows nothing of freezes,
but imports the module that registers it before the first arrival, so that no caller of the
ledger can bypass it).

Invariants (:func:`check`): every journal balances; each customer bucket's balance is the sum
of its postings and never negative; per asset, all accounts sum to zero (nothing created or
lost: what customers hold, what left and what was seized is what came in).
"""

from __future__ import annotations

import importlib
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.exchange.models import Account, Balance
from chainsleuth.ledger.enums import Bucket, JournalKind
from chainsleuth.ledger.models import Journal, LedgerAccount, Posting


class InsufficientFunds(InvalidInput):
    """A movement would take a customer bucket below zero (nothing was written)."""

    code = "insufficient_funds"


#: ``hook(session, exchange account id, amount, actor)``: called after funds arrived
ArrivalHook = Callable[[Session, str, int, str], None]
_arrival_hooks: list[ArrivalHook] = []


def on_arrival(hook: ArrivalHook) -> ArrivalHook:
    """Register a hook called (in the movement's transaction, the account's buckets locked)
    after funds arrived in an exchange account's available bucket (idempotent)."""
    if hook not in _arrival_hooks:
        _arrival_hooks.append(hook)
    return hook


#: modules that register arrival hooks which no movement may bypass: imported before the first
#: arrival, so that a script using the ledger alone still holds money arriving under a freeze
_REQUIRED_HOOK_MODULES = ("chainsleuth.freezes.models",)


def arrival_hooks() -> list[ArrivalHook]:
    """The registered arrival hooks, the required ones' modules imported first."""
    for module in _REQUIRED_HOOK_MODULES:
        if module not in sys.modules:
            importlib.import_module(module)
    return list(_arrival_hooks)


def _arrived(session: Session, account_id: str, amount: int, actor: str) -> None:
    for hook in arrival_hooks():
        hook(session, account_id, amount, actor)


@dataclass(frozen=True)
class Buckets:
    """An exchange account's two ledger accounts."""

    available: LedgerAccount
    held: LedgerAccount


def customer_key(exchange_account_id: str, bucket: Bucket) -> str:
    return f"acct:{exchange_account_id}:{bucket}"


def system_key(
    bucket: Bucket, asset: str, *, agency_id: int | None = None, wallet: str | None = None
) -> str:
    key = f"{bucket}:{asset}"
    return key if bucket is not Bucket.SEIZURE else f"{key}:{agency_id}:{wallet}"


def _by_key(session: Session, key: str) -> LedgerAccount | None:
    return session.scalar(select(LedgerAccount).where(LedgerAccount.key == key))


def _create(session: Session, account: LedgerAccount) -> LedgerAccount:
    """Insert, or take the row a concurrent transaction inserted first (unique ``key``)."""
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError:
        found = _by_key(session, account.key)
        if found is None:  # pragma: no cover - the conflicting row must be visible now
            raise
        return found
    return account


def system_account(
    session: Session,
    bucket: Bucket,
    asset: str,
    *,
    agency_id: int | None = None,
    wallet: str | None = None,
) -> LedgerAccount:
    if bucket.is_customer:
        raise ValueError(f"{bucket} is a customer bucket")
    key = system_key(bucket, asset, agency_id=agency_id, wallet=wallet)
    found = _by_key(session, key)
    if found is not None:
        return found
    return _create(
        session,
        LedgerAccount(
            key=key,
            bucket=str(bucket),
            asset=asset,
            agency_id=agency_id,
            wallet_address=wallet,
            balance=0,
        ),
    )


def ensure_open(session: Session, exchange_account_id: str, *, actor: str = "system") -> Buckets:
    """The ledger accounts of an exchange account, opened from ``exchange_balances`` on first
    use (idempotent, safe against a concurrent first use)."""
    available = _by_key(session, customer_key(exchange_account_id, Bucket.AVAILABLE))
    held = _by_key(session, customer_key(exchange_account_id, Bucket.HELD))
    if available is not None and held is not None:
        return Buckets(available, held)
    account = session.get(Account, exchange_account_id)
    if account is None:
        raise NotFound(f"no exchange account {exchange_account_id!r}")
    opening = session.scalar(
        select(Balance.balance).where(Balance.account_id == exchange_account_id)
    )
    opening = int(opening or 0)
    source = system_account(session, Bucket.OPENING, account.asset)
    try:
        with session.begin_nested():
            available = LedgerAccount(
                key=customer_key(account.id, Bucket.AVAILABLE),
                bucket=str(Bucket.AVAILABLE),
                asset=account.asset,
                exchange_account_id=account.id,
                customer_id=account.customer_id,
                balance=opening,
            )
            held = LedgerAccount(
                key=customer_key(account.id, Bucket.HELD),
                bucket=str(Bucket.HELD),
                asset=account.asset,
                exchange_account_id=account.id,
                customer_id=account.customer_id,
                balance=0,
            )
            session.add_all([available, held])
            session.flush()
            if opening:
                journal = Journal(
                    kind=str(JournalKind.OPENING),
                    asset=account.asset,
                    reference=account.id,
                    memo="opening balance from exchange_balances",
                    actor=actor,
                )
                session.add(journal)
                session.flush()
                session.add_all(
                    [
                        Posting(journal_id=journal.id, account_id=source.id, amount=-opening),
                        Posting(journal_id=journal.id, account_id=available.id, amount=opening),
                    ]
                )
                session.flush()
    except IntegrityError:
        # a concurrent first use opened it (and wrote its opening journal): use theirs
        available = _by_key(session, customer_key(exchange_account_id, Bucket.AVAILABLE))
        held = _by_key(session, customer_key(exchange_account_id, Bucket.HELD))
        if available is None or held is None:  # pragma: no cover
            raise
    return Buckets(available, held)


def open_all(
    session: Session,
    *,
    actor: str = "system",
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Open every exchange account that has no ledger accounts yet; returns how many."""
    opened = set(
        session.scalars(
            select(LedgerAccount.exchange_account_id).where(
                LedgerAccount.bucket == str(Bucket.AVAILABLE)
            )
        )
    )
    todo = [a for a in session.scalars(select(Account.id).order_by(Account.id)) if a not in opened]
    for i, account_id in enumerate(todo, 1):
        ensure_open(session, account_id, actor=actor)
        if progress:
            progress(i, len(todo))
    return len(todo)


def _lock(session: Session, accounts: Iterable[LedgerAccount]) -> dict[int, LedgerAccount]:
    ids = sorted({a.id for a in accounts})
    rows = session.scalars(
        select(LedgerAccount)
        .where(LedgerAccount.id.in_(ids))
        .order_by(LedgerAccount.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {r.id: r for r in rows}


def lock_buckets(session: Session, account_id: str, *, actor: str = "system") -> Buckets:
    """An exchange account's buckets, locked for this transaction and freshly read."""
    buckets = ensure_open(session, account_id, actor=actor)
    locked = _lock(session, [buckets.available, buckets.held])
    return Buckets(locked[buckets.available.id], locked[buckets.held.id])


def held_by_account(session: Session) -> dict[str, int]:
    """Every exchange account's held balance (those with a held bucket)."""
    return {
        account_id: balance
        for account_id, balance in session.execute(
            select(LedgerAccount.exchange_account_id, LedgerAccount.balance).where(
                LedgerAccount.bucket == str(Bucket.HELD)
            )
        )
        if account_id is not None
    }


def _positive(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput(f"the amount must be a positive whole number of units, not {amount!r}")
    return amount


def move(
    session: Session,
    *,
    kind: JournalKind,
    legs: list[tuple[LedgerAccount, int]],
    actor: str,
    reference: str | None = None,
    memo: str | None = None,
) -> Journal:
    """One balanced journal; refused (nothing written) if a customer bucket would go negative."""
    assets = {account.asset for account, _ in legs}
    if len(assets) != 1:
        raise ValueError("a journal moves exactly one asset")
    if sum(amount for _, amount in legs) != 0:
        raise ValueError("a journal's postings must sum to zero")
    locked = _lock(session, [a for a, _ in legs if Bucket(a.bucket).is_customer])
    for account, amount in legs:
        row = locked.get(account.id)
        if row is not None and row.balance + amount < 0:
            what = "available" if row.bucket == Bucket.AVAILABLE else "held"
            raise InsufficientFunds(
                f"{row.exchange_account_id} has {row.balance} {row.asset} units {what}, "
                f"{-amount} were asked for"
            )
    journal = Journal(
        kind=str(kind), asset=assets.pop(), reference=reference, memo=memo, actor=actor
    )
    session.add(journal)
    session.flush()
    for account, amount in legs:
        session.add(Posting(journal_id=journal.id, account_id=account.id, amount=amount))
        row = locked.get(account.id)
        if row is not None:
            row.balance = row.balance + amount
    session.flush()
    return journal


def deposit(
    session: Session, *, account_id: str, amount: int, actor: str, reference: str | None = None
) -> Journal:
    buckets = ensure_open(session, account_id, actor=actor)
    amount = _positive(amount)
    world = system_account(session, Bucket.EXTERNAL, buckets.available.asset)
    journal = move(
        session,
        kind=JournalKind.DEPOSIT,
        legs=[(world, -amount), (buckets.available, amount)],
        actor=actor,
        reference=reference,
    )
    _arrived(session, account_id, amount, actor)
    return journal


def withdraw(
    session: Session, *, account_id: str, amount: int, actor: str, reference: str | None = None
) -> Journal:
    """Pays out of the available bucket only: held funds cannot be withdrawn."""
    buckets = ensure_open(session, account_id, actor=actor)
    amount = _positive(amount)
    world = system_account(session, Bucket.EXTERNAL, buckets.available.asset)
    return move(
        session,
        kind=JournalKind.WITHDRAWAL,
        legs=[(buckets.available, -amount), (world, amount)],
        actor=actor,
        reference=reference,
    )


def trade(
    session: Session, *, account_id: str, amount: int, actor: str, reference: str | None = None
) -> Journal:
    """One leg of a trade: ``amount`` > 0 is bought into the account (arriving funds, see
    :func:`on_arrival`), < 0 sold out of its available funds (never its held funds) to the
    trading desk."""
    buckets = ensure_open(session, account_id, actor=actor)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidInput(f"a trade leg needs a non-zero whole number of units, not {amount!r}")
    desk = system_account(session, Bucket.TRADING, buckets.available.asset)
    journal = move(
        session,
        kind=JournalKind.TRADE,
        legs=[(desk, -amount), (buckets.available, amount)],
        actor=actor,
        reference=reference,
    )
    if amount > 0:
        _arrived(session, account_id, amount, actor)
    return journal


def hold(
    session: Session,
    *,
    account_id: str,
    amount: int,
    actor: str,
    reference: str | None = None,
    memo: str | None = None,
) -> Journal:
    buckets = ensure_open(session, account_id, actor=actor)
    amount = _positive(amount)
    return move(
        session,
        kind=JournalKind.HOLD,
        legs=[(buckets.available, -amount), (buckets.held, amount)],
        actor=actor,
        reference=reference,
        memo=memo,
    )


def release(
    session: Session,
    *,
    account_id: str,
    amount: int,
    actor: str,
    reference: str | None = None,
    memo: str | None = None,
) -> Journal:
    buckets = ensure_open(session, account_id, actor=actor)
    amount = _positive(amount)
    return move(
        session,
        kind=JournalKind.RELEASE,
        legs=[(buckets.held, -amount), (buckets.available, amount)],
        actor=actor,
        reference=reference,
        memo=memo,
    )


def seize(
    session: Session,
    *,
    account_id: str,
    amount: int,
    agency_id: int,
    wallet: str,
    actor: str,
    reference: str | None = None,
    memo: str | None = None,
) -> Journal:
    """Held funds to the seizure account of the receiving agency's wallet."""
    buckets = ensure_open(session, account_id, actor=actor)
    amount = _positive(amount)
    target = system_account(
        session, Bucket.SEIZURE, buckets.held.asset, agency_id=agency_id, wallet=wallet
    )
    return move(
        session,
        kind=JournalKind.SEIZE,
        legs=[(buckets.held, -amount), (target, amount)],
        actor=actor,
        reference=reference,
        memo=memo,
    )


def balances(session: Session, account_id: str) -> tuple[int, int]:
    """(available, held) of an exchange account (opening it if needed)."""
    buckets = ensure_open(session, account_id)
    return buckets.available.balance, buckets.held.balance


@dataclass(frozen=True)
class TrailEntry:
    journal: Journal
    postings: list[tuple[LedgerAccount, int]]


def trail(session: Session, reference: str) -> list[TrailEntry]:
    """The journals of one reference (``freeze:12``), oldest first, with their postings."""
    journals = session.scalars(
        select(Journal).where(Journal.reference == reference).order_by(Journal.id)
    ).all()
    if not journals:
        return []
    rows = session.execute(
        select(Posting.journal_id, LedgerAccount, Posting.amount)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(Posting.journal_id.in_([j.id for j in journals]))
        .order_by(Posting.id)
    ).all()
    by_journal: dict[int, list[tuple[LedgerAccount, int]]] = defaultdict(list)
    for journal_id, account, amount in rows:
        by_journal[journal_id].append((account, amount))
    return [TrailEntry(j, by_journal[j.id]) for j in journals]


def totals(session: Session) -> dict[str, dict[str, int]]:
    """Per asset, per bucket: the sum of all postings."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for asset, bucket, amount in session.execute(
        select(LedgerAccount.asset, LedgerAccount.bucket, Posting.amount).join(
            Posting, Posting.account_id == LedgerAccount.id
        )
    ):
        out[asset][bucket] += amount
    return {asset: dict(buckets) for asset, buckets in out.items()}


def check(session: Session) -> list[str]:
    """Every broken invariant, in words (an empty list: the ledger is sound)."""
    problems: list[str] = []
    journal_sums: dict[int, int] = defaultdict(int)
    journal_assets: dict[int, set[str]] = defaultdict(set)
    account_sums: dict[int, int] = defaultdict(int)
    asset_sums: dict[str, int] = defaultdict(int)
    for journal_id, account_id, asset, amount in session.execute(
        select(Posting.journal_id, Posting.account_id, LedgerAccount.asset, Posting.amount).join(
            LedgerAccount, LedgerAccount.id == Posting.account_id
        )
    ):
        journal_sums[journal_id] += amount
        journal_assets[journal_id].add(asset)
        account_sums[account_id] += amount
        asset_sums[asset] += amount
    for journal_id, total in sorted(journal_sums.items()):
        if total != 0:
            problems.append(f"journal {journal_id} does not balance (off by {total})")
        if len(journal_assets[journal_id]) != 1:
            problems.append(f"journal {journal_id} mixes assets")
    for account in session.scalars(
        select(LedgerAccount)
        .where(LedgerAccount.bucket.in_([str(Bucket.AVAILABLE), str(Bucket.HELD)]))
        .execution_options(populate_existing=True)
    ):
        if account.balance != account_sums.get(account.id, 0):
            problems.append(
                f"{account.key}: balance {account.balance} but its postings sum to "
                f"{account_sums.get(account.id, 0)}"
            )
        lowest = min(account.balance, account_sums.get(account.id, 0))
        if lowest < 0:
            problems.append(f"{account.key} is negative ({lowest})")
    for asset, total in sorted(asset_sums.items()):
        if total != 0:
            problems.append(f"{asset}: the accounts sum to {total}, not 0 (created or lost)")
    empty = session.scalar(
        select(func.count())
        .select_from(Journal)
        .where(~select(Posting.id).where(Posting.journal_id == Journal.id).exists())
    )
    if empty:
        problems.append(f"{empty} journal(s) without postings")
    return problems

"""Queries and rules of the exchange's records: a customer and everything about them, the
KYC reveal (audited), and the subject search (``chainsleuth.exchange.search``).

Reading needs ``exchange:read`` and shows KYC details masked; :func:`reveal_kyc` decrypts a
record for ``kyc:reveal`` and writes its audit entry in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from chainsleuth.audit import service as audit
from chainsleuth.audit.service import Actor
from chainsleuth.chain.chains import format_amount
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.exchange import kyc as kyc_module
from chainsleuth.exchange import links as link_service
from chainsleuth.exchange.kyc import KycKeys
from chainsleuth.exchange.models import (
    Account,
    Balance,
    Customer,
    Deposit,
    LedgerEntry,
    Login,
    Withdrawal,
)
from chainsleuth.exchange.parse import ASSETS
from chainsleuth.exchange.schemas import (
    AccountRead,
    CustomerRead,
    CustomerSummary,
    KycRecord,
    LinkRead,
    LoginRead,
    MoneyMove,
    ReasonRead,
    SubjectMatchRead,
)
from chainsleuth.exchange.search import SubjectMatch, SubjectQuery, classify, find_subjects

__all__ = ["SubjectQuery", "classify", "find_subjects", "keys_for"]

#: how many of a customer's deposits, withdrawals and logins a page shows (newest first)
SHOWN = 200


def keys_for(settings: Settings) -> KycKeys:
    return KycKeys.from_settings(settings)


def display(amount: int, asset: str) -> str:
    decimals = ASSETS[asset][1] if asset in ASSETS else 0
    return f"{format_amount(amount, decimals)} {asset}"


def get_customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id.strip().upper()) if customer_id else None
    if customer is None:
        raise NotFound(f"no customer {customer_id!r}")
    return customer


def search(
    session: Session, *, keys: KycKeys, q: str, limit: int = 50
) -> tuple[SubjectQuery, list[SubjectMatchRead]]:
    """The search box: a free-text query, classified, then :func:`find_subjects`."""
    query = classify(q)
    return query, [
        match_read(m) for m in find_subjects(session, keys=keys, query=query, limit=limit)
    ]


def match_read(match: SubjectMatch) -> SubjectMatchRead:
    return SubjectMatchRead(
        customer=CustomerSummary.model_validate(match.customer),
        reasons=[ReasonRead(field=r.field, value=r.value, detail=r.detail) for r in match.reasons],
    )


def _explorer(chain: str, tx_hash: str | None) -> str | None:
    return f"/chains/{chain}/txs/{tx_hash}" if tx_hash else None


def customer_read(session: Session, customer: Customer, *, shown: int = SHOWN) -> CustomerRead:
    """Everything about a customer, KYC masked."""
    cid = customer.id
    balances = {
        b.account_id: b for b in session.scalars(select(Balance).where(Balance.customer_id == cid))
    }
    accounts = [
        AccountRead(
            id=a.id,
            asset=a.asset,
            status=a.status,
            balance=balances[a.id].balance if a.id in balances else None,
            balance_display=display(balances[a.id].balance, a.asset) if a.id in balances else None,
            balance_as_of=balances[a.id].as_of if a.id in balances else None,
        )
        for a in session.scalars(
            select(Account).where(Account.customer_id == cid).order_by(Account.id)
        )
    ]
    deposits = [
        MoneyMove(
            id=d.id,
            kind="deposit",
            account_id=d.account_id,
            chain=d.chain,
            asset=d.asset,
            tx_hash=d.tx_hash,
            output_index=d.output_index,
            address=d.address,
            amount=d.amount,
            display=display(d.amount, d.asset),
            time=d.credited_at,
            status="credited",
            explorer_path=_explorer(d.chain, d.tx_hash),
        )
        for d in session.scalars(
            select(Deposit)
            .where(Deposit.customer_id == cid)
            .order_by(Deposit.credited_at.desc(), Deposit.id.desc())
            .limit(shown)
        )
    ]
    withdrawals = [
        MoneyMove(
            id=w.id,
            kind="withdrawal",
            account_id=w.account_id,
            chain=w.chain,
            asset=w.asset,
            tx_hash=w.tx_hash,
            output_index=w.output_index,
            address=w.address,
            amount=w.amount,
            display=display(w.amount, w.asset),
            fee=w.fee,
            time=w.requested_at,
            status=w.status,
            explorer_path=_explorer(w.chain, w.tx_hash),
        )
        for w in session.scalars(
            select(Withdrawal)
            .where(Withdrawal.customer_id == cid)
            .order_by(Withdrawal.requested_at.desc(), Withdrawal.id.desc())
            .limit(shown)
        )
    ]
    logins = [
        LoginRead.model_validate(x)
        for x in session.scalars(
            select(Login)
            .where(Login.customer_id == cid)
            .order_by(Login.time.desc(), Login.id.desc())
            .limit(shown)
        )
    ]
    total = session.scalar(select(func.count()).select_from(Login).where(Login.customer_id == cid))
    links = links_read(session, customer)
    summary = CustomerSummary.model_validate(customer)
    return CustomerRead(
        **summary.model_dump(),
        accounts=accounts,
        deposits=deposits,
        withdrawals=withdrawals,
        logins=logins,
        logins_total=int(total or 0),
        links=links,
    )


def balances_at(session: Session, customer: Customer, at: datetime) -> dict[str, int]:
    """Each account's balance at a moment, from the ledger (the last entry at or before it;
    0 before the first): what a request for "balances on <date>" asks."""
    last = (
        select(LedgerEntry.account_id, func.max(LedgerEntry.time).label("t"))
        .where(LedgerEntry.customer_id == customer.id, LedgerEntry.time <= at)
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    rows = session.execute(
        select(LedgerEntry.account_id, LedgerEntry.balance_after, LedgerEntry.id)
        .join(last, (LedgerEntry.account_id == last.c.account_id) & (LedgerEntry.time == last.c.t))
        .order_by(LedgerEntry.account_id, LedgerEntry.id)
    ).all()
    out = dict.fromkeys(
        session.scalars(select(Account.id).where(Account.customer_id == customer.id)), 0
    )
    for account_id, balance, _entry in rows:  # entries at the same second: the last id wins
        out[account_id] = balance
    return out


def links_read(session: Session, customer: Customer) -> list[LinkRead]:
    return [
        LinkRead(
            customer_id=link.other,
            kind=link.kind,
            label=link.label,
            value=link.value,
            first_seen=link.first_seen,
            last_seen=link.last_seen,
            occurrences=link.occurrences,
            evidence=link.evidence,
        )
        for link in link_service.links_of(session, customer.id)
    ]


def reveal_kyc(
    session: Session,
    *,
    keys: KycKeys,
    actor: Actor,
    customer: Customer,
    reason: str | None = None,
) -> KycRecord:
    """Decrypt a customer's KYC record for someone allowed to see it; audited, committed."""
    if reason is not None and len(reason) > 500:
        raise InvalidInput("the reason is longer than 500 characters")
    record: dict[str, Any] = keys.decrypt(customer.kyc, customer.kyc_key_version)
    details: dict[str, Any] = {"fields": sorted(k for k, v in record.items() if v)}
    if reason:
        details["reason"] = reason
    audit.record(
        session,
        actor=actor,
        action="exchange.kyc_reveal",
        object_type="customer",
        object_id=customer.id,
        details=details,
    )
    session.commit()
    return KycRecord.model_validate(record)


def rekey(session: Session, *, keys: KycKeys, actor: Actor, batch: int = 1000) -> int:
    """Re-encrypt every KYC record not under the current key version (after a new version is
    introduced); one transaction with its audit entry. Returns how many were re-encrypted."""
    current = kyc_module.KEY_VERSION
    done = 0
    rows = session.execute(
        select(Customer.id, Customer.kyc, Customer.kyc_key_version).where(
            Customer.kyc_key_version != current
        )
    ).all()
    for i in range(0, len(rows), batch):
        updates = []
        for cid, token, version in rows[i : i + batch]:
            sealed, new_version = keys.encrypt(keys.decrypt(token, version))
            updates.append({"id": cid, "kyc": sealed, "kyc_key_version": new_version})
        session.execute(update(Customer), updates)
        done += len(updates)
    if done:
        audit.record(
            session,
            actor=actor,
            action="exchange.kyc_rekey",
            object_type="customer",
            details={"records": done, "key_version": current},
        )
    session.commit()
    return done

"""Subject search: which customers a name, date of birth, e-mail, phone, document, customer or
account id, on-chain address, transaction hash, IP or device points to, and why.

KYC details are matched on their blind indexes (``chainsleuth.exchange.kyc``): exact
matches on normalised values, without decrypting anything. Criteria given together must all
match (a name with a date of birth, as a request names a person). :func:`classify` reads
one free-text query (the search box) as the criteria it looks like, so that the web page,
the API and request intake all go through :func:`find_subjects`.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsleuth.chain.addresses import canonical_address, canonical_hash
from chainsleuth.chain.chains import CHAINS
from chainsleuth.core.errors import InvalidInput
from chainsleuth.exchange.enums import IndexField, MatchField
from chainsleuth.exchange.kyc import KycKeys, name_tokens, norm_document, norm_email, norm_phone
from chainsleuth.exchange.models import (
    Account,
    Customer,
    Deposit,
    DepositAddress,
    KycIndex,
    Login,
    Withdrawal,
)

MAX_RESULTS = 200
_CUSTOMER = re.compile(r"^C\d{6,12}$", re.IGNORECASE)
_ACCOUNT = re.compile(r"^(C\d{6,12})-([A-Za-z0-9]{2,12})$", re.IGNORECASE)
_HEX64 = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_DEVICE = re.compile(r"^[0-9a-fA-F]{32}$")
_PHONE = re.compile(r"^\+?[\d\s().\-/x]{6,40}$")
_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


@dataclass(frozen=True)
class SubjectQuery:
    """What to look for; every criterion given must match."""

    name: str | None = None
    date_of_birth: date | None = None
    email: str | None = None
    phone: str | None = None
    document: str | None = None
    customer_id: str | None = None
    account_id: str | None = None
    address: str | None = None
    chain: str | None = None  # narrows ``address`` and ``tx_hash``; any chain when None
    tx_hash: str | None = None
    ip: str | None = None
    device_id: str | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) in (None, "") for f in fields(self) if f.name != "chain")


@dataclass(frozen=True)
class Reason:
    """One way a customer matched: the field, and what of theirs it matched."""

    field: MatchField
    value: str
    detail: str | None = None


@dataclass
class SubjectMatch:
    customer: Customer
    reasons: list[Reason] = field(default_factory=list)


def classify(text: str) -> SubjectQuery:
    """What a free-text query looks like: an id, an e-mail, a hash, an address, a date, an
    IP, a device id, a phone number, a document number, or else a name (with a date of birth
    when it holds one)."""
    q = text.strip()
    if not q:
        return SubjectQuery()
    if len(q) > 200:
        raise InvalidInput("the query is longer than 200 characters")
    if _CUSTOMER.match(q):
        return SubjectQuery(customer_id=q)
    if _ACCOUNT.match(q):
        return SubjectQuery(account_id=q)
    if "@" in q and " " not in q:
        return SubjectQuery(email=q)
    if _HEX64.match(q):
        return SubjectQuery(tx_hash=q)
    if any(_valid_address(c, q) for c in CHAINS):
        return SubjectQuery(address=q)
    try:
        return SubjectQuery(date_of_birth=date.fromisoformat(q))
    except ValueError:
        pass
    try:
        ipaddress.ip_address(q)
        return SubjectQuery(ip=q)
    except ValueError:
        pass
    if _DEVICE.match(q):
        return SubjectQuery(device_id=q)
    if _PHONE.match(q) and norm_phone(q):
        return SubjectQuery(phone=q)
    dob = _DATE.search(q)
    rest = _DATE.sub(" ", q).strip()
    if dob is None and " " not in rest and re.search(r"\d", rest) and re.search(r"[A-Za-z]", rest):
        return SubjectQuery(document=rest)
    try:
        born = date.fromisoformat(dob.group(1)) if dob else None
    except ValueError as exc:
        raise InvalidInput(f"{dob.group(1) if dob else q!r} is not a date") from exc
    return SubjectQuery(name=rest or None, date_of_birth=born)


def _valid_address(chain: str, text: str) -> bool:
    try:
        canonical_address(chain, text)
    except InvalidInput:
        return False
    return True


Hits = dict[str, list[Reason]]


def _add(hits: Hits, customer: str, reason: Reason) -> None:
    if reason not in hits[customer]:
        hits[customer].append(reason)


def _by_index(
    session: Session, keys: KycKeys, fld: IndexField, value: str | None, match: MatchField
) -> Hits:
    hits: Hits = defaultdict(list)
    if value:
        digest = keys.digest(fld, value)
        for cid in session.scalars(
            select(KycIndex.customer_id).where(
                KycIndex.field == str(fld), KycIndex.digest == digest
            )
        ):
            _add(hits, cid, Reason(match, str(match).replace("_", " ")))
    return hits


def _by_name(session: Session, keys: KycKeys, name: str) -> Hits:
    tokens = name_tokens(name)
    if not tokens:
        raise InvalidInput(f"{name!r} holds no name")
    digests = [keys.digest(IndexField.NAME, t) for t in tokens]
    stmt = (
        select(KycIndex.customer_id)
        .where(KycIndex.field == str(IndexField.NAME), KycIndex.digest.in_(digests))
        .group_by(KycIndex.customer_id)
        .having(func.count(func.distinct(KycIndex.digest)) == len(set(digests)))
    )
    hits: Hits = defaultdict(list)
    for cid in session.scalars(stmt):
        _add(hits, cid, Reason(MatchField.NAME, "name", "all of: " + " ".join(tokens)))
    return hits


def _chains(chain: str | None) -> list[str]:
    if chain is None:
        return list(CHAINS)
    return [chain.strip().lower()] if chain.strip().lower() in CHAINS else []


def _by_address(session: Session, address: str, chain: str | None) -> Hits:
    hits: Hits = defaultdict(list)
    forms = {c: canonical_address(c, address) for c in _chains(chain) if _valid_address(c, address)}
    if not forms:
        raise InvalidInput(f"{address!r} is not an address on {chain or 'any chain'}")
    for c, addr in forms.items():
        for cid in session.scalars(
            select(DepositAddress.customer_id).where(
                DepositAddress.chain == c, DepositAddress.address == addr
            )
        ):
            _add(hits, cid, Reason(MatchField.DEPOSIT_ADDRESS, addr, f"{c} deposit address"))
        for cid, wid in session.execute(
            select(Withdrawal.customer_id, Withdrawal.id)
            .where(Withdrawal.chain == c, Withdrawal.address == addr)
            .order_by(Withdrawal.id)
        ):
            _add(hits, cid, Reason(MatchField.WITHDRAWAL_ADDRESS, addr, f"withdrawal {wid}"))
    return hits


def _by_tx(session: Session, tx_hash: str, chain: str | None) -> Hits:
    hits: Hits = defaultdict(list)
    for c in _chains(chain):
        h = canonical_hash(c, tx_hash)
        for cid, did in session.execute(
            select(Deposit.customer_id, Deposit.id).where(Deposit.chain == c, Deposit.tx_hash == h)
        ):
            _add(hits, cid, Reason(MatchField.DEPOSIT_TX, h, f"deposit {did}"))
        for cid, wid in session.execute(
            select(Withdrawal.customer_id, Withdrawal.id).where(
                Withdrawal.chain == c, Withdrawal.tx_hash == h
            )
        ):
            _add(hits, cid, Reason(MatchField.WITHDRAWAL_TX, h, f"withdrawal {wid}"))
    return hits


def _by_column(session: Session, value: str, match: MatchField) -> Hits:
    hits: Hits = defaultdict(list)
    if match is MatchField.CUSTOMER_ID:
        stmt = select(Customer.id).where(Customer.id == value)
    elif match is MatchField.ACCOUNT_ID:
        stmt = select(Account.customer_id).where(Account.id == value)
    elif match is MatchField.LOGIN_IP:
        stmt = select(Login.customer_id).where(Login.ip == value).distinct()
    else:
        stmt = select(Login.customer_id).where(Login.device_id == value).distinct()
    for cid in session.scalars(stmt):
        _add(hits, cid, Reason(match, value))
    return hits


def find_subjects(
    session: Session, *, keys: KycKeys, query: SubjectQuery, limit: int = 50
) -> list[SubjectMatch]:
    """The customers every given criterion matches, with the reasons, by customer id."""
    if query.is_empty():
        return []
    groups: list[Hits] = []
    if query.customer_id:
        groups.append(
            _by_column(session, query.customer_id.strip().upper(), MatchField.CUSTOMER_ID)
        )
    if query.account_id:
        ref = query.account_id.strip()
        m = _ACCOUNT.match(ref)
        ref = f"{m.group(1).upper()}-{m.group(2).upper()}" if m else ref
        groups.append(_by_column(session, ref, MatchField.ACCOUNT_ID))
    if query.name:
        groups.append(_by_name(session, keys, query.name))
    if query.date_of_birth:
        groups.append(
            _by_index(
                session,
                keys,
                IndexField.DATE_OF_BIRTH,
                query.date_of_birth.isoformat(),
                MatchField.DATE_OF_BIRTH,
            )
        )
    if query.email:
        email = norm_email(query.email)
        if email is None:
            raise InvalidInput(f"{query.email!r} is not an e-mail address")
        groups.append(_by_index(session, keys, IndexField.EMAIL, email, MatchField.EMAIL))
    if query.phone:
        phone = norm_phone(query.phone)
        if phone is None:
            raise InvalidInput(f"{query.phone!r} is not a phone number")
        groups.append(_by_index(session, keys, IndexField.PHONE, phone, MatchField.PHONE))
    if query.document:
        doc = norm_document(query.document)
        groups.append(_by_index(session, keys, IndexField.DOCUMENT, doc, MatchField.DOCUMENT))
    if query.address:
        groups.append(_by_address(session, query.address, query.chain))
    if query.tx_hash:
        groups.append(_by_tx(session, query.tx_hash, query.chain))
    if query.ip:
        groups.append(_by_column(session, query.ip.strip(), MatchField.LOGIN_IP))
    if query.device_id:
        groups.append(_by_column(session, query.device_id.strip(), MatchField.DEVICE))

    ids = set(groups[0])
    for g in groups[1:]:
        ids &= set(g)
    chosen = sorted(ids)[: min(limit, MAX_RESULTS)]
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(chosen)))}
    return [
        SubjectMatch(customers[cid], [r for g in groups for r in g.get(cid, [])])
        for cid in chosen
        if cid in customers
    ]

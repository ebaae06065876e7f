"""Gathering: the records of a request's subjects, category by category, as tables.

Each subject (account id, customer id, e-mail, phone, name with date of birth, on-chain
address, tx hash) is resolved to customers through the exchange's subject search. For each
customer and each :class:`~chainsleuth.packages.enums.Category` one :func:`read_item` call
gives a :class:`Table`; a gathering stores which items there are, their row counts and the
SHA-256 of their canonical content (:func:`item_digest`: the CSV rows the package would
hold), and the package is built by reading the ticked items again with the same function
and checking the digests: what the agency receives is exactly what the reviewer saw.

Definitions (the time range is the union of the ranges of the subjects that led to the
customer, else the request's; open ends are unbounded):

* **kyc**: the decrypted KYC record, one row per field (masked while gathering; decrypted
  only when the package is built, which is audited);
* **accounts**: every account; **balances**: each account's balance at ``balances_at``
  from the ledger (the last entry at or before it; 0 before the first);
* **ledger**, **deposits** (``credited_at``), **withdrawals** (``requested_at``),
  **logins** (``time``): the rows inside the time range, oldest first;
* **linked_accounts**: every link with its evidence (device, IP, address, KYC detail);
* **counterparties** (per chain): the addresses that paid the customer's deposit and
  withdrawal addresses or were paid by them inside the range, per asset and direction,
  from the chain store's flows (see ``chainsleuth.chain.flows``);
* **exposure** (per chain): direct and indirect exposure per category of the same
  addresses (``chainsleuth.tracing``), 3 hops, where the store and labels are there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsleuth.chain.chains import format_amount
from chainsleuth.core.errors import ChainsleuthError, InvalidInput
from chainsleuth.exchange import service as exchange_service
from chainsleuth.exchange.kyc import KYC_FIELDS, KycKeys
from chainsleuth.exchange.models import (
    Account,
    Customer,
    Deposit,
    LedgerEntry,
    Login,
    Withdrawal,
)
from chainsleuth.exchange.parse import ASSETS
from chainsleuth.packages import onchain
from chainsleuth.packages.enums import Category
from chainsleuth.packages.tables import (
    Scope,
    Sources,
    Table,
    _value,
    amounts,
    bools,
    csv_body,
    digest,
    displays,
    fetch_columns,
    ints,
    texts,
    times,
)

#: the order categories are gathered and shown in
EXCHANGE_CATEGORIES = [
    Category.KYC,
    Category.ACCOUNTS,
    Category.BALANCES,
    Category.LEDGER,
    Category.DEPOSITS,
    Category.WITHDRAWALS,
    Category.LOGINS,
    Category.LINKED_ACCOUNTS,
]
SUBJECT_KINDS = (
    "account_id",
    "customer_id",
    "email",
    "phone",
    "name_dob",
    "address",
    "tx_hash",
)


@dataclass(frozen=True)
class Subject:
    """A subject as a request names it (``kind`` is one of :data:`SUBJECT_KINDS`)."""

    kind: str
    value: str
    chain: str | None = None
    date_of_birth: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "chain": self.chain,
            "date_of_birth": self.date_of_birth,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }

    @property
    def shown(self) -> str:
        if self.kind == "name_dob" and self.date_of_birth:
            return f"{self.value} (born {self.date_of_birth})"
        return f"{self.value} ({self.chain})" if self.chain else self.value


def subject_query(subject: Subject) -> exchange_service.SubjectQuery:
    """The exchange's search criteria of a subject."""
    kind, value = subject.kind, subject.value.strip()
    if not value:
        raise InvalidInput(f"the {kind} subject is empty")
    if kind == "account_id":
        return exchange_service.SubjectQuery(account_id=value)
    if kind == "customer_id":
        return exchange_service.SubjectQuery(customer_id=value)
    if kind == "email":
        return exchange_service.SubjectQuery(email=value)
    if kind == "phone":
        return exchange_service.SubjectQuery(phone=value)
    if kind == "name_dob":
        born = None
        if subject.date_of_birth:
            try:
                born = date.fromisoformat(subject.date_of_birth)
            except ValueError as exc:
                raise InvalidInput(f"{subject.date_of_birth!r} is not a date") from exc
        return exchange_service.SubjectQuery(name=value, date_of_birth=born)
    if kind == "address":
        return exchange_service.SubjectQuery(address=value, chain=subject.chain)
    if kind == "tx_hash":
        return exchange_service.SubjectQuery(tx_hash=value, chain=subject.chain)
    raise InvalidInput(f"unknown subject kind {kind!r} (known: {', '.join(SUBJECT_KINDS)})")


def resolve(
    session: Session, keys: KycKeys, subjects: Sequence[Subject]
) -> tuple[dict[str, list[int]], list[str]]:
    """customer id -> positions of the subjects that name them; and the subjects naming none."""
    found: dict[str, list[int]] = defaultdict(list)
    unmatched: list[str] = []
    for i, subject in enumerate(subjects):
        matches = exchange_service.find_subjects(
            session, keys=keys, query=subject_query(subject), limit=200
        )
        if not matches:
            unmatched.append(subject.shown)
        for m in matches:
            found[m.customer.id].append(i)
    return dict(sorted(found.items())), unmatched


def time_range(
    subjects: Sequence[Subject],
    positions: Iterable[int],
    since: datetime | None,
    until: datetime | None,
) -> tuple[datetime | None, datetime | None]:
    """The union of the ranges of the given subjects; theirs when set, else the request's."""
    lows: list[datetime | None] = []
    highs: list[datetime | None] = []
    for i in positions:
        s = subjects[i]
        lows.append(s.since or since)
        highs.append(s.until or until)
    low = None if not lows or any(x is None for x in lows) else min(x for x in lows if x)
    high = None if not highs or any(x is None for x in highs) else max(x for x in highs if x)
    return low, high


# --- the exchange's records -------------------------------------------------------------------


def _in_range(column: Any, scope: Scope) -> list[Any]:
    out = []
    if scope.since is not None:
        out.append(column >= scope.since)
    if scope.until is not None:
        out.append(column <= scope.until)
    return out


def _show(amount: int | None, asset: str) -> str | None:
    """An amount in whole units as decimal text (the integer stays in its own column)."""
    if amount is None:
        return None
    decimals = ASSETS[asset][1] if asset in ASSETS else 0
    return format_amount(amount, decimals)


def _iso(v: datetime | None) -> str | None:
    return None if v is None else v.isoformat()


def _kyc(session: Session, scope: Scope, src: Sources) -> Table:
    customer = exchange_service.get_customer(session, scope.customer_id)
    table = Table(["field", "value"])
    if src.reveal:
        record = src.keys.decrypt(customer.kyc, customer.kyc_key_version)
        table.rows = [(f, _value(record.get(f))) for f in KYC_FIELDS if record.get(f)]
    else:
        table.rows = [(k, v) for k, v in sorted(customer.masked.items()) if v]
    table.rows[:0] = [
        ("customer_id", customer.id),
        ("customer_type", customer.customer_type),
        ("residence_country", customer.residence_country),
        ("kyc_level", customer.kyc_level),
        ("kyc_status", customer.kyc_status),
        ("registered_at", _value(customer.registered_at)),
    ]
    return table


def kyc_digest(session: Session, customer_id: str) -> str:
    """The KYC item's digest: the keyed hash of the imported record (no decryption)."""
    return exchange_service.get_customer(session, customer_id).source_digest


def _accounts(session: Session, scope: Scope, src: Sources) -> Table:
    rows = (
        session.connection()
        .execute(
            select(Account.id, Account.asset, Account.status)
            .where(Account.customer_id == scope.customer_id)
            .order_by(Account.id)
        )
        .all()
    )
    return Table(["account_id", "asset", "status"], list(map(tuple, rows)))


def _balances(session: Session, scope: Scope, src: Sources) -> Table:
    customer = exchange_service.get_customer(session, scope.customer_id)
    at = scope.until or src.balances_at
    balances = exchange_service.balances_at(session, customer, at)
    stmt = select(Account.id, Account.asset).where(Account.customer_id == customer.id)
    assets: dict[str, str] = dict(session.execute(stmt).all())
    return Table(
        ["account_id", "asset", "balance", "balance_display", "at"],
        [
            (a, assets[a], b, _show(b, assets[a]), at.isoformat())
            for a, b in sorted(balances.items())
        ],
    )


# The long items are read from the driver's cursor into columns (``fetch_columns``) and
# formatted by Arrow's kernels: a subject can have hundreds of thousands of rows, and
# per-value conversion was most of the cost of a package.

_WIDE = pa.decimal256(76, 0)
_SCALES = {a: d for a, (_chain, d) in ASSETS.items()}


def _arrow(columns: Sequence[str], arrays: Sequence[pa.Array]) -> Table:
    return Table(list(columns), data=pa.table(list(arrays), names=list(columns)))


def _ledger(session: Session, scope: Scope, src: Sources) -> Table:
    e = LedgerEntry
    ids, acc, asset, t, kind, amt, bal, ref = fetch_columns(
        session,
        select(e.id, e.account_id, e.asset, e.time, e.kind, e.amount, e.balance_after,
               e.reference)
        .where(e.customer_id == scope.customer_id, *_in_range(e.time, scope))
        .order_by(e.time, e.id),
    )  # fmt: skip
    assets, amounts_, balances = texts(asset), amounts(amt), amounts(bal)
    return _arrow(
        ["id", "account_id", "asset", "time", "kind", "amount", "amount_display",
         "balance_after", "balance_after_display", "reference"],
        [texts(ids), texts(acc), assets, times(t), texts(kind), amounts_,
         displays(amounts_, assets, _SCALES), balances, displays(balances, assets, _SCALES),
         texts(ref)],
    )  # fmt: skip


def _deposits(session: Session, scope: Scope, src: Sources) -> Table:
    d = Deposit
    ids, acc, chain, asset, tx, n, addr, amt, t = fetch_columns(
        session,
        select(d.id, d.account_id, d.chain, d.asset, d.tx_hash, d.output_index, d.address,
               d.amount, d.credited_at)
        .where(d.customer_id == scope.customer_id, *_in_range(d.credited_at, scope))
        .order_by(d.credited_at, d.id),
    )  # fmt: skip
    assets, amounts_ = texts(asset), amounts(amt)
    return _arrow(
        ["id", "account_id", "chain", "asset", "tx_hash", "output_index", "address", "amount",
         "amount_display", "credited_at"],
        [texts(ids), texts(acc), texts(chain), assets, texts(tx), ints(n), texts(addr),
         amounts_, displays(amounts_, assets, _SCALES), times(t)],
    )  # fmt: skip


def _withdrawals(session: Session, scope: Scope, src: Sources) -> Table:
    w = Withdrawal
    ids, acc, chain, asset, tx, n, addr, amt, fee, req, sent, status = fetch_columns(
        session,
        select(w.id, w.account_id, w.chain, w.asset, w.tx_hash, w.output_index, w.address,
               w.amount, w.fee, w.requested_at, w.sent_at, w.status)
        .where(w.customer_id == scope.customer_id, *_in_range(w.requested_at, scope))
        .order_by(w.requested_at, w.id),
    )  # fmt: skip
    assets, amounts_ = texts(asset), amounts(amt)
    return _arrow(
        ["id", "account_id", "chain", "asset", "tx_hash", "output_index", "address", "amount",
         "amount_display", "fee", "requested_at", "sent_at", "status"],
        [texts(ids), texts(acc), texts(chain), assets, texts(tx), ints(n), texts(addr),
         amounts_, displays(amounts_, assets, _SCALES), amounts(fee), times(req), times(sent),
         texts(status)],
    )  # fmt: skip


def _logins(session: Session, scope: Scope, src: Sources) -> Table:
    x = Login
    ids, t, ip, country, device, agent, success, mfa = fetch_columns(
        session,
        select(x.id, x.time, x.ip, x.ip_country, x.device_id, x.user_agent, x.success, x.mfa)
        .where(x.customer_id == scope.customer_id, *_in_range(x.time, scope))
        .order_by(x.time, x.id),
    )  # fmt: skip
    return _arrow(
        ["id", "time", "ip", "ip_country", "device_id", "user_agent", "success", "mfa"],
        [texts(ids), times(t), texts(ip), texts(country), texts(device), texts(agent),
         bools(success), bools(mfa)],
    )  # fmt: skip


def _links(session: Session, scope: Scope, src: Sources) -> Table:
    customer = exchange_service.get_customer(session, scope.customer_id)
    return Table(
        ["linked_customer_id", "kind", "shared", "first_seen", "last_seen", "occurrences",
         "evidence"],
        [
            (x.customer_id, str(x.kind), x.value, _value(x.first_seen), _value(x.last_seen),
             x.occurrences, _value(x.evidence))
            for x in exchange_service.links_read(session, customer)
        ],
    )  # fmt: skip


READERS = {
    Category.KYC: _kyc,
    Category.ACCOUNTS: _accounts,
    Category.BALANCES: _balances,
    Category.LEDGER: _ledger,
    Category.DEPOSITS: _deposits,
    Category.WITHDRAWALS: _withdrawals,
    Category.LOGINS: _logins,
    Category.LINKED_ACCOUNTS: _links,
    Category.COUNTERPARTIES: onchain.counterparties,
    Category.EXPOSURE: onchain.exposure,
}
SOURCES = {
    Category.KYC: "exchange_customers",
    Category.ACCOUNTS: "exchange_accounts",
    Category.BALANCES: "exchange_ledger",
    Category.LEDGER: "exchange_ledger",
    Category.DEPOSITS: "exchange_deposits",
    Category.WITHDRAWALS: "exchange_withdrawals",
    Category.LOGINS: "exchange_logins",
    Category.LINKED_ACCOUNTS: "exchange_links",
    Category.COUNTERPARTIES: "chain store (flows)",
    Category.EXPOSURE: "chain store (tracing)",
}


def read_item(session: Session, scope: Scope, src: Sources) -> Table:
    """The rows of one item."""
    return READERS[scope.category](session, scope, src)


def item_digest(session: Session, scope: Scope, table: Table, body: bytes | None = None) -> str:
    """The digest of an item as read: for the KYC record the keyed hash of the imported
    record (no decryption), else :func:`~chainsleuth.packages.tables.digest` of its rows led
    by :attr:`Scope.lead` (``body``: those CSV rows, when the caller made them already)."""
    if scope.category is Category.KYC:
        return kyc_digest(session, scope.customer_id)
    return digest(table, csv_body(table, scope.lead[1]) if body is None else body)


def summary(scope: Scope, table: Table) -> dict[str, Any]:
    """A few figures for the reviewer: the range read, totals per asset of money columns."""
    out: dict[str, Any] = {
        "since": scope.since.isoformat() if scope.since else None,
        "until": scope.until.isoformat() if scope.until else None,
    }
    if "amount" in table.columns and "asset" in table.columns:
        out["totals"] = {k: str(t) for k, t in sorted(_totals(table).items())}
    return out


def _totals(table: Table) -> dict[str, int]:
    """The sum of the amounts per asset."""
    data = table.data
    if data is not None and pa.types.is_decimal(data.schema.field("amount").type):
        # 76 digits: no sum of decimal128(38) amounts of one item comes near
        wide = pa.table(
            {"asset": data.column("asset"), "amount": data.column("amount").cast(_WIDE)}
        )
        sums = wide.group_by("asset").aggregate([("amount", "sum")])
        return dict(
            zip(
                sums.column("asset").to_pylist(),
                (int(v) for v in sums.column("amount_sum").to_pylist()),
                strict=True,
            )
        )
    totals: dict[str, int] = defaultdict(int)
    for asset, value in zip(table.column("asset"), table.column("amount"), strict=True):
        totals[asset] += int(value)
    return totals


@dataclass
class Found:
    scope: Scope
    subjects: list[int]
    rows: int
    digest: str
    summary: dict[str, Any]
    preview: Table


def gather(
    session: Session,
    *,
    subjects: Sequence[Subject],
    since: datetime | None,
    until: datetime | None,
    src: Sources,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[list[Found], list[str]]:
    """Every item of every customer the subjects name; and notes on what could not be done.
    ``progress(stage, done, total)`` is told after each customer."""
    customers, unmatched = resolve(session, src.keys, subjects)
    notes = [f"no records of the subject {s}" for s in unmatched]
    store = src.reader is not None and src.reader.con is not None
    if not store:
        notes.append(
            "the chain store is not there: on-chain counterparties and exposure are not gathered"
        )
    found: list[Found] = []
    for n, (customer_id, positions) in enumerate(customers.items()):
        if progress is not None:
            progress(f"gathering {customer_id}", n, len(customers))
        low, high = time_range(subjects, positions, since, until)
        scopes = [Scope(customer_id, c, None, low, high) for c in EXCHANGE_CATEGORIES]
        if store:
            for chain in onchain.customer_addresses(session, customer_id):
                scopes += [
                    Scope(customer_id, Category.COUNTERPARTIES, chain, low, high),
                    Scope(customer_id, Category.EXPOSURE, chain, low, high),
                ]
        for scope in scopes:
            try:
                table = read_item(session, scope, src)
            except ChainsleuthError as exc:
                if not scope.category.on_chain:
                    raise
                notes.append(
                    f"{scope.category.label} of {customer_id} on {scope.chain}: {exc.message}"
                )
                continue
            found.append(
                Found(
                    scope=scope,
                    subjects=positions,
                    rows=len(table),
                    digest=item_digest(session, scope, table),
                    summary=summary(scope, table),
                    preview=table.head(20),
                )
            )
    return found, notes


def customers_of(session: Session, ids: Iterable[str]) -> dict[str, Customer]:
    wanted = sorted(set(ids))
    return {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(wanted)))}

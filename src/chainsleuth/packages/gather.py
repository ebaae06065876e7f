"""Gathering: the records of a request's subjects, category by category, as tables.

Each subject (account id, customer id, e-mail, phone, name with date of birth, on-chain
address, tx hash) is resolved to customers through the exchange's subject search. For each
customer and each :class:`~chainsleuth.packages.enums.Category` one :func:`read_item` call
gives a :class:`Table`; a gathering stores which items there are, their row counts and the
SHA-256 of their canonical content (:func:`digest`), and the package is built by reading
the ticked items again with the same function and checking the digests: what the agency
receives is exactly what the reviewer saw.

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
import pyarrow.compute as pc
from sqlalchemy import DateTime, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

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
    Row,
    Scope,
    Sources,
    Table,
    _value,
    digest,
    integers,
    iso_utc,
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


# Rows are read with the drivers' values (``_time``: naive UTC datetimes, ``_amount``: the
# stored amount untouched) and formatted column by column: a subject can have hundreds of
# thousands of rows, and per-value type conversion was most of the cost of a package.


def _time(column: Any) -> Any:
    return type_coerce(column, DateTime())


def _amount(column: Any) -> Any:
    return type_coerce(column, NullType())


def _displays(amounts: Sequence[int | None], assets: Sequence[str]) -> list[str | None]:
    """``format_amount`` of each amount in its asset's decimals (inlined: a column can hold
    hundreds of thousands of amounts)."""
    scales = {a: ASSETS[a][1] if a in ASSETS else 0 for a in set(assets)}
    if len(scales) == 1 and len(amounts) > 1000:
        fast = _displays_arrow(amounts, next(iter(scales.values())))
        if fast is not None:
            return fast
    out: list[str | None] = []
    add = out.append
    for v, a in zip(amounts, assets, strict=True):
        if v is None:
            add(None)
            continue
        d = scales[a]
        if d == 0:
            add(str(v))
            continue
        whole, frac = divmod(-v if v < 0 else v, 10**d)
        sign = "-" if v < 0 else ""
        add(f"{sign}{whole}.{frac:0{d}d}".rstrip("0") if frac else f"{sign}{whole}")
    return out


def _displays_arrow(amounts: Sequence[int | None], decimals: int) -> list[str | None] | None:
    """The same with Arrow's kernels, for a long column of one asset within int64 (else
    None: the caller formats value by value)."""
    try:
        values = pa.array(amounts, pa.int64())
    except (pa.ArrowInvalid, OverflowError):
        return None
    if decimals == 0:
        return pc.cast(values, pa.string()).to_pylist()  # type: ignore[no-any-return]
    scale = 10**decimals
    if scale >= 2**63:
        return None
    magnitude = pc.abs_checked(values)
    whole = pc.divide(magnitude, scale)  # integers: truncating division
    frac = pc.subtract(magnitude, pc.multiply(whole, scale))
    digits = pc.utf8_rtrim(pc.utf8_lpad(pc.cast(frac, pa.string()), decimals, "0"), "0")
    whole_s = pc.cast(whole, pa.string())
    body = pc.if_else(pc.equal(frac, 0), whole_s, pc.binary_join_element_wise(whole_s, digits, "."))
    signed = pc.if_else(pc.less(values, 0), pc.binary_join_element_wise("-", body, ""), body)
    return signed.to_pylist()  # type: ignore[no-any-return]


def _ledger(session: Session, scope: Scope, src: Sources) -> Table:
    e = LedgerEntry
    rows = (
        session.connection()
        .execute(
            select(e.id, e.account_id, e.asset, _time(e.time), e.kind, _amount(e.amount),
                   _amount(e.balance_after), e.reference)
            .where(e.customer_id == scope.customer_id, *_in_range(e.time, scope))
            .order_by(e.time, e.id)
        )
        .all()
    )  # fmt: skip

    def fmt(rows: list[Row]) -> list[Row]:
        ids, acc, asset, t, kind, amt, bal, ref = zip(*rows, strict=True)
        amounts, balances = integers(amt), integers(bal)
        return list(
            zip(ids, acc, asset, iso_utc(t), kind, amounts, _displays(amounts, asset),
                balances, _displays(balances, asset), ref, strict=True)
        )  # fmt: skip

    return Table(
        ["id", "account_id", "asset", "time", "kind", "amount", "amount_display",
         "balance_after", "balance_after_display", "reference"],
        list(map(tuple, rows)), fmt,
    )  # fmt: skip


def _deposits(session: Session, scope: Scope, src: Sources) -> Table:
    d = Deposit
    rows = session.connection().execute(
        select(d.id, d.account_id, d.chain, d.asset, d.tx_hash, d.output_index, d.address,
               _amount(d.amount), _time(d.credited_at))
        .where(d.customer_id == scope.customer_id, *_in_range(d.credited_at, scope))
        .order_by(d.credited_at, d.id)
    ).all()  # fmt: skip

    def fmt(rows: list[Row]) -> list[Row]:
        ids, acc, chain, asset, tx, n, addr, amt, t = zip(*rows, strict=True)
        amounts = integers(amt)
        return list(
            zip(ids, acc, chain, asset, tx, n, addr, amounts, _displays(amounts, asset),
                iso_utc(t), strict=True)
        )  # fmt: skip

    return Table(
        ["id", "account_id", "chain", "asset", "tx_hash", "output_index", "address", "amount",
         "amount_display", "credited_at"],
        list(map(tuple, rows)), fmt,
    )  # fmt: skip


def _withdrawals(session: Session, scope: Scope, src: Sources) -> Table:
    w = Withdrawal
    rows = session.connection().execute(
        select(w.id, w.account_id, w.chain, w.asset, w.tx_hash, w.output_index, w.address,
               _amount(w.amount), _amount(w.fee), _time(w.requested_at), _time(w.sent_at),
               w.status)
        .where(w.customer_id == scope.customer_id, *_in_range(w.requested_at, scope))
        .order_by(w.requested_at, w.id)
    ).all()  # fmt: skip

    def fmt(rows: list[Row]) -> list[Row]:
        ids, acc, chain, asset, tx, n, addr, amt, fee, req, sent, status = zip(*rows, strict=True)
        amounts = integers(amt)
        return list(
            zip(ids, acc, chain, asset, tx, n, addr, amounts, _displays(amounts, asset),
                integers(fee), iso_utc(req), iso_utc(sent), status, strict=True)
        )  # fmt: skip

    return Table(
        ["id", "account_id", "chain", "asset", "tx_hash", "output_index", "address", "amount",
         "amount_display", "fee", "requested_at", "sent_at", "status"],
        list(map(tuple, rows)), fmt,
    )  # fmt: skip


def _logins(session: Session, scope: Scope, src: Sources) -> Table:
    x = Login
    rows = session.connection().execute(
        select(x.id, _time(x.time), x.ip, x.ip_country, x.device_id, x.user_agent, x.success,
               x.mfa)
        .where(x.customer_id == scope.customer_id, *_in_range(x.time, scope))
        .order_by(x.time, x.id)
    ).all()  # fmt: skip

    def fmt(rows: list[Row]) -> list[Row]:
        times = iso_utc(r[1] for r in rows)
        return [(r[0], t, *r[2:]) for r, t in zip(rows, times, strict=True)]

    return Table(
        ["id", "time", "ip", "ip_country", "device_id", "user_agent", "success", "mfa"],
        list(map(tuple, rows)),
        fmt,
    )


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


def item_digest(session: Session, scope: Scope, table: Table) -> str:
    if scope.category is Category.KYC:
        return kyc_digest(session, scope.customer_id)
    return digest(table)


def summary(scope: Scope, table: Table) -> dict[str, Any]:
    """A few figures for the reviewer: the range read, totals per asset of money columns."""
    out: dict[str, Any] = {
        "since": scope.since.isoformat() if scope.since else None,
        "until": scope.until.isoformat() if scope.until else None,
    }
    cols = table.columns
    # rows as read hold every column up to ``amount`` (the display columns come after it)
    if "amount" in cols and "asset" in cols:
        a, v = cols.index("asset"), cols.index("amount")
        totals: dict[str, int] = defaultdict(int)
        for row in table.rows:
            totals[row[a]] += int(row[v])
        out["totals"] = {k: str(t) for k, t in sorted(totals.items())}
    return out


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
                    rows=len(table.rows),
                    digest=item_digest(session, scope, table),
                    summary=summary(scope, table),
                    preview=table.head(20),
                )
            )
    return found, notes


def customers_of(session: Session, ids: Iterable[str]) -> dict[str, Customer]:
    wanted = sorted(set(ids))
    return {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(wanted)))}

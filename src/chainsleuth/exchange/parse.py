"""Reading the exchange's export: files, columns, and every value checked and canonicalised.

Each table is ``<table>.csv`` (UTF-8, a header line) or ``<table>.parquet`` with the
columns of :data:`COLUMNS`. A bad value raises :class:`InvalidInput` naming the file and
its line (CSV) or row (Parquet). Amounts become integers of the asset's smallest unit,
exactly (more decimals than the asset has are refused); addresses and hashes are
canonicalised per chain; times are UTC.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation, localcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from chainsleuth.chain.addresses import canonical_address, canonical_hash
from chainsleuth.core.errors import InvalidInput
from chainsleuth.core.models import Base
from chainsleuth.exchange.enums import CustomerType, LedgerKind, TradeSide
from chainsleuth.exchange.kyc import KYC_FIELDS
from chainsleuth.exchange.models import (
    Account,
    Balance,
    Customer,
    Deposit,
    DepositAddress,
    FiatDeposit,
    LedgerEntry,
    Login,
    Trade,
    Withdrawal,
)

#: asset -> (chain, decimals)
ASSETS: dict[str, tuple[str, int]] = {
    "BTC": ("btc", 8),
    "ETH": ("eth", 18),
    "USDT": ("eth", 6),
    "WETH": ("eth", 18),
}
BATCH = 5000
CUSTOMER_TYPES = frozenset(str(t) for t in CustomerType)
TRADE_SIDES = frozenset(str(t) for t in TradeSide)
LEDGER_KINDS = frozenset(str(t) for t in LedgerKind)

COLUMNS: dict[str, list[str]] = {
    "customers": [
        "customer_id",
        "customer_type",
        *KYC_FIELDS,
        "kyc_level",
        "kyc_status",
        "risk_rating",
        "registered_at",
    ],
    "accounts": ["account_id", "customer_id", "asset", "status"],
    "deposit_addresses": ["customer_id", "chain", "address", "first_height"],
    "deposits": [
        "deposit_id",
        "customer_id",
        "account_id",
        "chain",
        "asset",
        "tx_hash",
        "output_index",
        "address",
        "amount",
        "credited_at",
    ],
    "withdrawals": [
        "withdrawal_id",
        "customer_id",
        "account_id",
        "chain",
        "asset",
        "tx_hash",
        "output_index",
        "address",
        "amount",
        "fee",
        "requested_at",
        "sent_at",
        "status",
    ],
    "trades": ["trade_id", "customer_id", "side", "asset", "amount", "price_usd", "time"],
    "fiat_deposits": [
        "fiat_deposit_id",
        "customer_id",
        "currency",
        "amount",
        "method",
        "bank_country",
        "payer_account",
        "payer_matches_kyc",
        "reference",
        "received_at",
        "status",
    ],
    "ledger": [
        "entry_id",
        "account_id",
        "customer_id",
        "asset",
        "time",
        "kind",
        "amount",
        "balance_after",
        "reference",
    ],
    "balances": ["account_id", "customer_id", "asset", "balance", "as_of"],
    "logins": [
        "session_id",
        "customer_id",
        "time",
        "ip",
        "ip_country",
        "device_id",
        "user_agent",
        "success",
        "mfa",
    ],
}
TABLES = list(COLUMNS)
REQUIRED_TABLES = ("customers", "accounts")
#: fiat currencies (ISO 4217) -> decimals of the minor unit
CURRENCIES: dict[str, int] = {
    "USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "CAD": 2, "AUD": 2, "BRL": 2, "INR": 2,
    "JPY": 0, "KRW": 0, "PLN": 2, "UAH": 2, "NGN": 2, "HKD": 2, "SGD": 2, "SEK": 2,
    "NOK": 2, "DKK": 2, "CZK": 2, "TRY": 2, "MXN": 2, "ZAR": 2, "AED": 2, "CNY": 2,
}  # fmt: skip

#: (stage, done, total): how far an import is
Progress = Callable[[str, int, int], None]


_PLAIN_AMOUNT = re.compile(r"^\s*(-?)([0-9]+)(?:\.([0-9]+))?\s*$")


class RowError(ValueError):
    """A problem with one value; the reader adds the file and line."""


# --- values ------------------------------------------------------------------------------


def _text(value: Any, *, required: bool = True, max_len: int = 500) -> str | None:
    text = "" if value is None else (value if type(value) is str else str(value)).strip()
    if not text:
        if required:
            raise RowError("is empty")
        return None
    if len(text) > max_len:
        raise RowError(f"is longer than {max_len} characters")
    return text


def _req(value: Any, max_len: int = 500) -> str:
    text = "" if value is None else (value if type(value) is str else str(value)).strip()
    if not text:
        raise RowError("is empty")
    if len(text) > max_len:
        raise RowError(f"is longer than {max_len} characters")
    return text


def _time(value: Any, *, required: bool = True) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = _text(value, required=required, max_len=40)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise RowError(f"{text!r} is not an ISO 8601 time") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _req_time(value: Any) -> datetime:
    parsed = _time(value)
    assert parsed is not None
    return parsed


def _date(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value, required=False, max_len=20)
    if text is None:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise RowError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _int(value: Any, *, required: bool = True) -> int | None:
    if isinstance(value, bool):
        raise RowError("is not an integer")
    if isinstance(value, int):
        return value
    text = _text(value, required=required, max_len=30)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise RowError(f"{text!r} is not an integer") from exc


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = (_text(value, max_len=10) or "").lower()
    if text in ("true", "1", "yes", "t"):
        return True
    if text in ("false", "0", "no", "f"):
        return False
    raise RowError(f"{text!r} is not true or false")


def _asset(value: Any) -> str:
    text = _req(value, 16).upper()
    if text not in ASSETS:
        raise RowError(f"unknown asset {text!r} (known: {', '.join(ASSETS)})")
    return text


def units(value: Any, asset: str, *, signed: bool = False) -> int:
    """A decimal amount in the asset's unit as an integer of its smallest unit, exactly."""
    decimals = ASSETS[asset][1]
    if type(value) is str:  # the common case, without Decimal: "-12.345"
        m = _PLAIN_AMOUNT.match(value)
        if m is not None:
            sign, whole, frac = m.group(1), m.group(2), (m.group(3) or "").rstrip("0")
            if len(frac) <= decimals:
                result = int(whole + frac.ljust(decimals, "0"))
                if sign:
                    if not signed and result:
                        raise RowError(f"{value.strip()} is negative")
                    result = -result
                return result
    if isinstance(value, float):
        raise RowError("is a floating-point number: amounts must be exact decimals")
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if not isinstance(value, Decimal):
        text = _req(value, 100)
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise RowError(f"{text!r} is not a decimal amount") from exc
    if not value.is_finite():
        raise RowError(f"{value} is not an amount")
    with localcontext() as ctx:
        ctx.prec = 120
        scaled = value.scaleb(decimals)
        if scaled != scaled.to_integral_value():
            raise RowError(f"{value} has more decimals than {asset} has ({decimals})")
        result = int(scaled)
    if result < 0 and not signed:
        raise RowError(f"{value} is negative")
    return result


def _chain_of(chain_value: Any, asset: str) -> str:
    chain = _req(chain_value, 8).lower()
    if chain != ASSETS[asset][0]:
        raise RowError(f"{asset} is not on chain {chain!r}")
    return chain


@lru_cache(maxsize=1 << 16)
def _canonical(chain: str, text: str) -> str:
    return canonical_address(chain, text)  # an export repeats its addresses: checked once


def _address(chain: str, value: Any) -> str:
    try:
        return _canonical(chain, _req(value, 200))
    except InvalidInput as exc:
        raise RowError(exc.message) from exc


def _hash(chain: str, value: Any, *, required: bool = True) -> str | None:
    text = _text(value, required=required, max_len=100)
    if text is None:
        return None
    try:
        return canonical_hash(chain, text)
    except InvalidInput as exc:
        raise RowError(exc.message) from exc


# --- reading -----------------------------------------------------------------------------


@dataclass
class SourceFile:
    table: str
    path: Path
    data: bytes

    @property
    def name(self) -> str:
        return self.path.name


def find_files(directory: Path) -> dict[str, SourceFile]:
    if not directory.is_dir():
        raise InvalidInput(f"{directory} is not a folder")
    found: dict[str, SourceFile] = {}
    for table in TABLES:
        paths = [
            p for p in (directory / f"{table}.csv", directory / f"{table}.parquet") if p.is_file()
        ]
        if len(paths) > 1:
            raise InvalidInput(f"{directory} holds both {table}.csv and {table}.parquet")
        if paths:
            try:
                found[table] = SourceFile(table, paths[0], paths[0].read_bytes())
            except OSError as exc:
                raise InvalidInput(f"{paths[0]} cannot be read: {exc.strerror}") from exc
    missing = [t for t in REQUIRED_TABLES if t not in found]
    if missing:
        raise InvalidInput(
            f"{directory} is not an exchange export: {missing[0]}.csv (or .parquet) is missing"
        )
    return found


def _rows(src: SourceFile) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) of a file, after its columns are checked."""
    wanted = COLUMNS[src.table]
    if src.path.suffix == ".parquet":
        try:
            table = pq.read_table(io.BytesIO(src.data))
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInput(f"{src.name}: not a readable Parquet file ({exc})") from exc
        missing = [c for c in wanted if c not in table.column_names]
        if missing:
            raise InvalidInput(f"{src.name}: missing column {missing[0]!r}")
        row_no = 0
        for batch in table.select(wanted).to_batches(BATCH):
            for row in batch.to_pylist():
                row_no += 1
                yield f"{src.name} row {row_no}", row
        return
    try:
        text = src.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{src.name}: not UTF-8 text") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in wanted if c not in header]
    if missing:
        raise InvalidInput(f"{src.name} line 1: missing column {missing[0]!r}")
    try:
        for row in reader:
            where = f"{src.name} line {reader.line_num}"
            if None in row or None in row.values():
                raise InvalidInput(f"{where}: expected {len(header)} fields")
            yield where, row
    except csv.Error as exc:
        raise InvalidInput(f"{src.name} line {reader.line_num}: {exc}") from exc


# --- parsing each table ------------------------------------------------------------------


@dataclass
class Known:
    """What rows may refer to: the export's own rows and what the database already has."""

    customers: set[str] = field(default_factory=set)
    accounts: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (customer, asset)

    def customer(self, value: Any) -> str:
        ref = _req(value, 32)
        if ref not in self.customers:
            raise RowError(f"unknown customer {ref!r}")
        return ref

    def account(self, value: Any, customer: str, asset: str | None = None) -> str:
        ref = _req(value, 48)
        owner = self.accounts.get(ref)
        if owner is None:
            raise RowError(f"unknown account {ref!r}")
        if owner[0] != customer:
            raise RowError(f"account {ref!r} belongs to customer {owner[0]}, not {customer}")
        if asset is not None and owner[1] != asset:
            raise RowError(f"account {ref!r} holds {owner[1]}, not {asset}")
        return ref


def _customer(row: dict[str, Any], known: Known) -> dict[str, Any]:
    kind = _field("customer_type", _req, row["customer_type"], 16).lower()
    if kind not in CUSTOMER_TYPES:
        raise RowError(f"customer_type: {kind!r} is not individual or business")
    record: dict[str, Any] = {}
    for name in KYC_FIELDS:
        if name in ("date_of_birth", "document_expiry"):
            record[name] = _field(name, _date, row[name])
        else:
            record[name] = _field(name, _text, row[name], required=False)
    residence = (record.get("country_of_residence") or "").upper() or None
    if residence is not None and len(residence) != 2:
        raise RowError(f"country_of_residence: {residence!r} is not a two-letter code")
    return {
        "id": _field("customer_id", _req, row["customer_id"], 32),
        "customer_type": kind,
        "residence_country": residence,
        "kyc_level": _field("kyc_level", _int, row["kyc_level"], required=False),
        "kyc_status": _field("kyc_status", _text, row["kyc_status"], required=False, max_len=32),
        "risk_rating": _field("risk_rating", _text, row["risk_rating"], required=False, max_len=32),
        "registered_at": _field("registered_at", _time, row["registered_at"], required=False),
        "_record": record,
    }


def _account(row: dict[str, Any], known: Known) -> dict[str, Any]:
    customer = _field("customer_id", known.customer, row["customer_id"])
    return {
        "id": _field("account_id", _req, row["account_id"], 48),
        "customer_id": customer,
        "asset": _field("asset", _asset, row["asset"]),
        "status": _field("status", _req, row["status"], 32),
    }


def _deposit_address(row: dict[str, Any], known: Known) -> dict[str, Any]:
    chain = _field("chain", _req, row["chain"], 8).lower()
    if chain not in {c for c, _ in ASSETS.values()}:
        raise RowError(f"unknown chain {chain!r}")
    return {
        "chain": chain,
        "address": _field("address", _address, chain, row["address"]),
        "customer_id": _field("customer_id", known.customer, row["customer_id"]),
        "first_height": _field("first_height", _int, row["first_height"], required=False),
    }


def _deposit(row: dict[str, Any], known: Known) -> dict[str, Any]:
    customer = _field("customer_id", known.customer, row["customer_id"])
    asset = _field("asset", _asset, row["asset"])
    chain = _field("chain", _chain_of, row["chain"], asset)
    return {
        "id": _field("deposit_id", _req, row["deposit_id"], 32),
        "customer_id": customer,
        "account_id": _field("account_id", known.account, row["account_id"], customer, asset),
        "chain": chain,
        "asset": asset,
        "tx_hash": _field("tx_hash", _hash, chain, row["tx_hash"]),
        "output_index": _field("output_index", _int, row["output_index"], required=False),
        "address": _field("address", _address, chain, row["address"]),
        "amount": _field("amount", units, row["amount"], asset),
        "credited_at": _field("credited_at", _req_time, row["credited_at"]),
    }


def _withdrawal(row: dict[str, Any], known: Known) -> dict[str, Any]:
    customer = _field("customer_id", known.customer, row["customer_id"])
    asset = _field("asset", _asset, row["asset"])
    chain = _field("chain", _chain_of, row["chain"], asset)
    return {
        "id": _field("withdrawal_id", _req, row["withdrawal_id"], 32),
        "customer_id": customer,
        "account_id": _field("account_id", known.account, row["account_id"], customer, asset),
        "chain": chain,
        "asset": asset,
        "tx_hash": _field("tx_hash", _hash, chain, row["tx_hash"], required=False),
        "output_index": _field("output_index", _int, row["output_index"], required=False),
        "address": _field("address", _address, chain, row["address"]),
        "amount": _field("amount", units, row["amount"], asset),
        "fee": _field("fee", units, row["fee"], asset),
        "requested_at": _field("requested_at", _req_time, row["requested_at"]),
        "sent_at": _field("sent_at", _time, row["sent_at"], required=False),
        "status": _field("status", _req, row["status"], 32),
    }


def _trade(row: dict[str, Any], known: Known) -> dict[str, Any]:
    side = _field("side", _req, row["side"], 8).lower()
    if side not in TRADE_SIDES:
        raise RowError(f"side: {side!r} is not buy or sell")
    asset = _field("asset", _asset, row["asset"])
    price = row["price_usd"]
    return {
        "id": _field("trade_id", _req, row["trade_id"], 32),
        "customer_id": _field("customer_id", known.customer, row["customer_id"]),
        "side": side,
        "asset": asset,
        "amount": _field("amount", units, row["amount"], asset),
        "price_usd": None if price is None or price == "" else str(price),
        "time": _field("time", _req_time, row["time"]),
    }


def _ledger(row: dict[str, Any], known: Known) -> dict[str, Any]:
    customer = _field("customer_id", known.customer, row["customer_id"])
    asset = _field("asset", _asset, row["asset"])
    kind = _field("kind", _req, row["kind"], 32)
    if kind not in LEDGER_KINDS:
        raise RowError(f"kind: {kind!r} is not a ledger entry kind")
    balance = _field("balance_after", units, row["balance_after"], asset)
    return {
        "id": _field("entry_id", _req, row["entry_id"], 32),
        "account_id": _field("account_id", known.account, row["account_id"], customer, asset),
        "customer_id": customer,
        "asset": asset,
        "time": _field("time", _req_time, row["time"]),
        "kind": kind,
        "amount": _field("amount", units, row["amount"], asset, signed=True),
        "balance_after": balance,
        "reference": _field("reference", _text, row["reference"], required=False, max_len=100),
    }


def _balance(row: dict[str, Any], known: Known) -> dict[str, Any]:
    customer = _field("customer_id", known.customer, row["customer_id"])
    asset = _field("asset", _asset, row["asset"])
    return {
        "account_id": _field("account_id", known.account, row["account_id"], customer, asset),
        "customer_id": customer,
        "asset": asset,
        "balance": _field("balance", units, row["balance"], asset),
        "as_of": _field("as_of", _req_time, row["as_of"]),
    }


def fiat_units(value: Any, currency: str) -> int:
    """A decimal fiat amount as an integer of the currency's minor unit, exactly."""
    text = _req(value, 40)
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise RowError(f"{text!r} is not a decimal amount") from exc
    if not amount.is_finite():
        raise RowError(f"{text} is not an amount")
    scaled = amount.scaleb(CURRENCIES[currency])
    if scaled != scaled.to_integral_value():
        raise RowError(f"{text} has more decimals than {currency} has ({CURRENCIES[currency]})")
    if scaled < 0:
        raise RowError(f"{text} is negative")
    return int(scaled)


def _currency(value: Any) -> str:
    text = _req(value, 3).upper()
    if text not in CURRENCIES:
        raise RowError(f"unknown currency {text!r}")
    return text


def _fiat_deposit(row: dict[str, Any], known: Known) -> dict[str, Any]:
    currency = _field("currency", _currency, row["currency"])
    country = _field("bank_country", _text, row["bank_country"], required=False, max_len=2)
    return {
        "id": _field("fiat_deposit_id", _req, row["fiat_deposit_id"], 32),
        "customer_id": _field("customer_id", known.customer, row["customer_id"]),
        "currency": currency,
        "amount": _field("amount", fiat_units, row["amount"], currency),
        "method": _field("method", _req, row["method"], 32).lower(),
        "bank_country": country.upper() if country else None,
        "payer_account": _field(
            "payer_account", _text, row["payer_account"], required=False, max_len=64
        ),
        "payer_matches_kyc": _field("payer_matches_kyc", _bool, row["payer_matches_kyc"]),
        "reference": _field("reference", _text, row["reference"], required=False, max_len=100),
        "received_at": _field("received_at", _req_time, row["received_at"]),
        "status": _field("status", _req, row["status"], 32),
    }


def _login(row: dict[str, Any], known: Known) -> dict[str, Any]:
    country = _field("ip_country", _text, row["ip_country"], required=False, max_len=2)
    return {
        "id": _field("session_id", _req, row["session_id"], 32),
        "customer_id": _field("customer_id", known.customer, row["customer_id"]),
        "time": _field("time", _req_time, row["time"]),
        "ip": _field("ip", _text, row["ip"], required=False, max_len=64),
        "ip_country": country.upper() if country else None,
        "device_id": _field("device_id", _text, row["device_id"], required=False, max_len=128),
        "user_agent": _field("user_agent", _text, row["user_agent"], required=False, max_len=500),
        "success": _field("success", _bool, row["success"]),
        "mfa": _field("mfa", _bool, row["mfa"]),
    }


def _field(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except RowError as exc:
        raise RowError(f"{name}: {exc}") from exc


@dataclass(frozen=True)
class Spec:
    model: type[Base]
    key: tuple[str, ...]
    parse: Callable[[dict[str, Any], Known], dict[str, Any]]


SPECS: dict[str, Spec] = {
    "customers": Spec(Customer, ("id",), _customer),
    "accounts": Spec(Account, ("id",), _account),
    "deposit_addresses": Spec(DepositAddress, ("chain", "address"), _deposit_address),
    "deposits": Spec(Deposit, ("id",), _deposit),
    "withdrawals": Spec(Withdrawal, ("id",), _withdrawal),
    "trades": Spec(Trade, ("id",), _trade),
    "fiat_deposits": Spec(FiatDeposit, ("id",), _fiat_deposit),
    "ledger": Spec(LedgerEntry, ("id",), _ledger),
    "balances": Spec(Balance, ("account_id",), _balance),
    "logins": Spec(Login, ("id",), _login),
}


def parse_file(src: SourceFile, known: Known, progress: Progress | None) -> list[dict[str, Any]]:
    spec = SPECS[src.table]
    out: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for where, raw in _rows(src):
        try:
            row = spec.parse(raw, known)
        except RowError as exc:
            raise InvalidInput(f"{where}: {exc}") from exc
        key = tuple(row[k] for k in spec.key)
        if key in seen:
            raise InvalidInput(f"{where}: {'/'.join(map(str, key))} appears twice")
        seen.add(key)
        out.append(row)
        if progress is not None and len(out) % BATCH == 0:
            progress(f"reading {src.name}", len(out), 0)
    return out

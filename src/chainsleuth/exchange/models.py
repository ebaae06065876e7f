"""The exchange's records as tables (``exchange_*``).

Rows keep the exchange's own ids as primary keys (``C123456789``, ``C123456789-BTC``,
``DB000000001``, ...): an export names them, a newer export updates them, and a law-enforcement
request quotes them. Amounts are integers in the asset's smallest unit (:class:`Amount`: wei
does not fit 64 bits). A customer's personal data is one encrypted blob
(``chainsleuth.exchange.kyc``); its searchable details are keyed blind indexes
(:class:`KycIndex`), and ``masked`` holds what anyone with ``exchange:read`` may see.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from chainsleuth.core.models import Base, TimestampMixin, utcnow


class Amount(TypeDecorator[int]):
    """An integer of any size: ``NUMERIC(78, 0)`` on PostgreSQL, decimal text on SQLite
    (whose integers stop at 2**63 and whose NUMERIC falls back to floats)."""

    impl = Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(80))
        return dialect.type_descriptor(Numeric(78, 0))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return str(int(value))
        return Decimal(int(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(value)


CUSTOMER_FK = "exchange_customers.id"
ACCOUNT_FK = "exchange_accounts.id"


class ExchangeImport(Base):
    """One import of an export that changed something."""

    __tablename__ = "exchange_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(1000))
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 over the files read
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)


class Customer(TimestampMixin, Base):
    __tablename__ = "exchange_customers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_type: Mapped[str] = mapped_column(String(16))
    #: kept in clear for routing by jurisdiction; everything personal is in ``kyc``
    residence_country: Mapped[str | None] = mapped_column(String(2), index=True)
    kyc_level: Mapped[int | None] = mapped_column(Integer)
    kyc_status: Mapped[str | None] = mapped_column(String(32))
    risk_rating: Mapped[str | None] = mapped_column(String(32))
    registered_at: Mapped[datetime | None] = mapped_column()
    #: Fernet token of the KYC record (JSON), under the key of ``kyc_key_version``
    kyc: Mapped[str] = mapped_column(Text)
    kyc_key_version: Mapped[int] = mapped_column(Integer)
    #: masked values (initials, e-mail domain, last digits): no secret, no decryption needed
    masked: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: keyed hash of the imported row: tells an unchanged record without decrypting it
    source_digest: Mapped[str] = mapped_column(String(64))


class KycIndex(Base):
    """A keyed blind index: HMAC-SHA256 of one normalised KYC detail of a customer."""

    __tablename__ = "exchange_kyc_index"
    __table_args__ = (Index("ix_exchange_kyc_index_field_digest", "field", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey(CUSTOMER_FK, ondelete="CASCADE"), index=True
    )
    field: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))


class Account(Base):
    __tablename__ = "exchange_accounts"

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey(CUSTOMER_FK), index=True)
    asset: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))


class DepositAddress(Base):
    __tablename__ = "exchange_deposit_addresses"

    chain: Mapped[str] = mapped_column(String(8), primary_key=True)
    address: Mapped[str] = mapped_column(String(100), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey(CUSTOMER_FK), index=True)
    first_height: Mapped[int | None] = mapped_column(BigInteger)


class Deposit(Base):
    __tablename__ = "exchange_deposits"
    #: a customer's records in time order (gathering, the customer page), without a sort
    __table_args__ = (
        Index("ix_exchange_deposits_customer_time", "customer_id", "credited_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey(CUSTOMER_FK), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey(ACCOUNT_FK), index=True)
    chain: Mapped[str] = mapped_column(String(8))
    asset: Mapped[str] = mapped_column(String(16))
    tx_hash: Mapped[str] = mapped_column(String(80), index=True)
    output_index: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(100), index=True)
    amount: Mapped[int] = mapped_column(Amount())
    credited_at: Mapped[datetime] = mapped_column()


class Withdrawal(Base):
    __tablename__ = "exchange_withdrawals"
    #: a customer's records in time order (gathering, the customer page), without a sort
    __table_args__ = (
        Index("ix_exchange_withdrawals_customer_time", "customer_id", "requested_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey(CUSTOMER_FK), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey(ACCOUNT_FK), index=True)
    chain: Mapped[str] = mapped_column(String(8))
    asset: Mapped[str] = mapped_column(String(16))
    tx_hash: Mapped[str | None] = mapped_column(String(80), index=True)
    output_index: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(100), index=True)
    amount: Mapped[int] = mapped_column(Amount())
    fee: Mapped[int] = mapped_column(Amount())
    requested_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(32))


class Trade(Base):
    __tablename__ = "exchange_trades"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey(CUSTOMER_FK), index=True)
    side: Mapped[str] = mapped_column(String(8))
    asset: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Amount())
    #: the price as the export gives it (decimal text, informative only)
    price_usd: Mapped[str | None] = mapped_column(String(40))
    time: Mapped[datetime] = mapped_column()


class FiatDeposit(Base):
    """Money a customer paid in by bank transfer or card (what funds the ``buy`` trades).

    ``amount`` is in the currency's minor unit (cents); ``payer_account`` is masked as the
    exchange's export shows it; ``payer_matches_kyc`` tells whether the payer's name matched
    the account holder (first-party funding)."""

    __tablename__ = "exchange_fiat_deposits"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey(CUSTOMER_FK), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(Amount())
    method: Mapped[str] = mapped_column(String(32))
    bank_country: Mapped[str | None] = mapped_column(String(2))
    payer_account: Mapped[str | None] = mapped_column(String(64), index=True)
    payer_matches_kyc: Mapped[bool] = mapped_column()
    reference: Mapped[str | None] = mapped_column(String(100), index=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(32))


class LedgerEntry(Base):
    __tablename__ = "exchange_ledger"
    #: a customer's records in time order (gathering, the customer page), without a sort
    __table_args__ = (Index("ix_exchange_ledger_customer_time", "customer_id", "time", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey(ACCOUNT_FK), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey(CUSTOMER_FK), index=True)
    asset: Mapped[str] = mapped_column(String(16))
    time: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(Amount())  # signed
    balance_after: Mapped[int] = mapped_column(Amount())
    reference: Mapped[str | None] = mapped_column(String(100), index=True)


class Balance(Base):
    __tablename__ = "exchange_balances"

    account_id: Mapped[str] = mapped_column(ForeignKey(ACCOUNT_FK), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey(CUSTOMER_FK), index=True)
    asset: Mapped[str] = mapped_column(String(16))
    balance: Mapped[int] = mapped_column(Amount())
    as_of: Mapped[datetime] = mapped_column()


class Login(Base):
    __tablename__ = "exchange_logins"
    #: a customer's records in time order (gathering, the customer page), without a sort
    __table_args__ = (Index("ix_exchange_logins_customer_time", "customer_id", "time", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey(CUSTOMER_FK), index=True)
    time: Mapped[datetime] = mapped_column(index=True)
    ip: Mapped[str | None] = mapped_column(String(64), index=True)
    ip_country: Mapped[str | None] = mapped_column(String(2))
    device_id: Mapped[str | None] = mapped_column(String(128), index=True)
    user_agent: Mapped[str | None] = mapped_column(String(500))
    success: Mapped[bool] = mapped_column()
    mfa: Mapped[bool] = mapped_column()


class CustomerLink(Base):
    """Two customers tied by something they share, with the evidence (derived at import)."""

    __tablename__ = "exchange_links"
    __table_args__ = (UniqueConstraint("customer_a", "customer_b", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_a: Mapped[str] = mapped_column(ForeignKey(CUSTOMER_FK), index=True)
    customer_b: Mapped[str] = mapped_column(ForeignKey(CUSTOMER_FK), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: what they share: a device id, an IP, ``chain:address``, or the KYC field's name
    value: Mapped[str] = mapped_column(String(200))
    first_seen: Mapped[datetime | None] = mapped_column()
    last_seen: Mapped[datetime | None] = mapped_column()
    occurrences: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)

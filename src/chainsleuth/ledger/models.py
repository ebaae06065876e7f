"""Tables of the double-entry ledger (``ledger_*``).

A :class:`LedgerAccount` is one bucket of one exchange account (available, held) or a system
account (the outside world, the trading desk, opening balances, an agency's seizure wallet),
named by a unique ``key``. A :class:`Journal` is one movement; its :class:`Posting` rows sum
to zero (one asset per journal). ``balance`` is the running sum of an account's postings,
kept on the row so that a movement locks and updates exactly the rows it touches.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.core.models import Base, utcnow
from chainsleuth.exchange.models import Amount


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ``acct:<exchange account>:<bucket>`` or ``<bucket>:<asset>[:<agency>:<wallet>]``
    key: Mapped[str] = mapped_column(String(240), unique=True)
    bucket: Mapped[str] = mapped_column(String(16))
    asset: Mapped[str] = mapped_column(String(16))
    exchange_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("exchange_accounts.id"), index=True
    )
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("exchange_customers.id"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    wallet_address: Mapped[str | None] = mapped_column(String(100))
    balance: Mapped[int] = mapped_column(Amount(), default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Journal(Base):
    __tablename__ = "ledger_journals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    asset: Mapped[str] = mapped_column(String(16))
    #: what the movement belongs to (``freeze:12``, a withdrawal id, ...)
    reference: Mapped[str | None] = mapped_column(String(100), index=True)
    memo: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Posting(Base):
    __tablename__ = "ledger_postings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    journal_id: Mapped[int] = mapped_column(ForeignKey("ledger_journals.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(Amount())  # signed: credit to the account is positive

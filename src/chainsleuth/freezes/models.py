"""Tables of freezes (``freezes``, ``freeze_holds``, ``freeze_actions``).

A :class:`Freeze` names what is held (a customer, one of their asset accounts, an amount),
its legal basis (exactly one: a law-enforcement request or a case decision) and its dates
(a review date or an expiry, at least one). A :class:`FreezeHold` is what the freeze holds
in one exchange account (the held bucket of the ledger may hold several freezes' funds).
A :class:`FreezeAction` is one four-eyes step (freeze, release, extension, seizure):
requested by one person, taking effect only when a second approves.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

from chainsleuth.core.models import Base, TimestampMixin, utcnow
from chainsleuth.exchange.models import Amount
from chainsleuth.ledger import service as ledger_service


class Freeze(TimestampMixin, Base):
    __tablename__ = "freezes"
    __table_args__ = (
        CheckConstraint("(request_id IS NULL) <> (case_id IS NULL)", name="one_legal_basis"),
        CheckConstraint("review_at IS NOT NULL OR expires_at IS NOT NULL", name="not_open_ended"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("exchange_customers.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    #: the asset account (scopes ``asset`` and ``amount``)
    exchange_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("exchange_accounts.id"), index=True
    )
    asset: Mapped[str | None] = mapped_column(String(16))
    #: the amount asked for (scope ``amount``), in the asset's smallest unit
    amount: Mapped[int | None] = mapped_column(Amount())
    status: Mapped[str] = mapped_column(String(16), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("le_requests.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    review_at: Mapped[datetime | None] = mapped_column(index=True)
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    activated_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()


class FreezeHold(Base):
    __tablename__ = "freeze_holds"
    __table_args__ = (UniqueConstraint("freeze_id", "exchange_account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freeze_id: Mapped[int] = mapped_column(ForeignKey("freezes.id"), index=True)
    exchange_account_id: Mapped[str] = mapped_column(ForeignKey("exchange_accounts.id"), index=True)
    asset: Mapped[str] = mapped_column(String(16))
    #: still held now
    held: Mapped[int] = mapped_column(Amount())
    #: ever held, released and seized (held == placed - released - seized)
    placed: Mapped[int] = mapped_column(Amount())
    released: Mapped[int] = mapped_column(Amount())
    seized: Mapped[int] = mapped_column(Amount())


class FreezeAction(Base):
    __tablename__ = "freeze_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    freeze_id: Mapped[int] = mapped_column(ForeignKey("freezes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_note: Mapped[str | None] = mapped_column(Text)
    #: an extension's new dates
    new_review_at: Mapped[datetime | None] = mapped_column()
    new_expires_at: Mapped[datetime | None] = mapped_column()
    #: a seizure: from which account, how much (None: everything held there), to whom
    exchange_account_id: Mapped[str | None] = mapped_column(ForeignKey("exchange_accounts.id"))
    amount: Mapped[int | None] = mapped_column(Amount())
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    wallet_address: Mapped[str | None] = mapped_column(String(100))


def _hold_arrivals(session: Session, account_id: str, amount: int, actor: str) -> None:
    from chainsleuth.freezes.effects import hold_arrival  # effects imports these models

    hold_arrival(session, account_id, amount, actor)


# registered with the tables, so that every ledger user that knows the tables holds arrivals
ledger_service.on_arrival(_hold_arrivals)

"""Risk in the operational database: policy versions and screenings.

``risk_policies``: one row per version of the risk policy (never changed once written; the
active one is flagged). ``risk_screenings``: one row per screened deposit or withdrawal,
with the decision, the policy version it used, the whole risk result and the client's
idempotency key (unique) with a digest of the request it came with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from chainsleuth.core.models import Base, utcnow
from chainsleuth.exchange.models import Amount


class RiskPolicy(Base):
    __tablename__ = "risk_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class Screening(Base):
    __tablename__ = "risk_screenings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_by: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    request_digest: Mapped[str] = mapped_column(String(64))
    chain: Mapped[str] = mapped_column(String(8))
    asset: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(100), index=True)
    tx_hash: Mapped[str | None] = mapped_column(String(80), index=True)
    amount: Mapped[int] = mapped_column(Amount())
    account_id: Mapped[str | None] = mapped_column(String(48), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    action: Mapped[str] = mapped_column(String(16), index=True)
    score: Mapped[int] = mapped_column(Integer)
    policy_version: Mapped[int] = mapped_column(Integer)
    alert_id: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)

"""Every domain's models, imported so that ``Base.metadata`` knows all tables (Alembic)."""

from chainsleuth.audit.models import AuditEvent, AuditHead
from chainsleuth.auth.models import ApiToken, User, WebSession
from chainsleuth.core.models import Base
from chainsleuth.exchange.models import (
    Account,
    Balance,
    Customer,
    CustomerLink,
    Deposit,
    DepositAddress,
    ExchangeImport,
    KycIndex,
    LedgerEntry,
    Login,
    Trade,
    Withdrawal,
)
from chainsleuth.labels.models import Label, LabelActor, LabelHistory, LabelImport, LabelSource
from chainsleuth.orgs.models import Agency, Organisation

__all__ = [
    "Account",
    "Agency",
    "ApiToken",
    "AuditEvent",
    "AuditHead",
    "Balance",
    "Base",
    "Customer",
    "CustomerLink",
    "Deposit",
    "DepositAddress",
    "ExchangeImport",
    "KycIndex",
    "Label",
    "LabelActor",
    "LabelHistory",
    "LabelImport",
    "LabelSource",
    "LedgerEntry",
    "Login",
    "Organisation",
    "Trade",
    "User",
    "WebSession",
    "Withdrawal",
]

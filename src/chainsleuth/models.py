"""Every domain's models, imported so that ``Base.metadata`` knows all tables (Alembic)."""

from chainsleuth.alerts.models import (
    Alert,
    AlertComment,
    WatchlistEntry,
    WatchlistHit,
    WatchScanState,
)
from chainsleuth.audit.models import AuditEvent, AuditHead
from chainsleuth.auth.models import ApiToken, User, WebSession
from chainsleuth.cases.models import (  # noqa: F401
    Case,
    CaseEvent,
    CaseEvidence,
    CaseLink,
    CaseNote,
    CaseParticipant,
    CaseSnapshot,
    CaseTask,
    CaseView,
)
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
from chainsleuth.freezes.models import Freeze, FreezeAction, FreezeHold  # noqa: F401
from chainsleuth.labels.models import Label, LabelActor, LabelHistory, LabelImport, LabelSource
from chainsleuth.ledger.models import Journal, LedgerAccount, Posting  # noqa: F401
from chainsleuth.officers.models import (  # noqa: F401
    MailMessage,
    Officer,
    OfficerToken,
    VerificationFailure,
)
from chainsleuth.orgs.models import Agency, AgencyContact, Organisation  # noqa: F401
from chainsleuth.packages.models import (  # noqa: F401
    Gathering,
    GatheringItem,
    Package,
    PackageDownload,
    PackageFile,
)
from chainsleuth.requests.models import (  # noqa: F401
    LeRequest,
    LeRequestApproval,
    LeRequestDocument,
    LeRequestMessage,
    LeRequestNotification,
    LeRequestSubject,
    LeRequestVerification,
)
from chainsleuth.risk.screening_models import RiskPolicy, Screening  # noqa: F401

__all__ = [
    "Account",
    "Alert",
    "AlertComment",
    "WatchScanState",
    "WatchlistEntry",
    "WatchlistHit",
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

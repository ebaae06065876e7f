"""Every domain's models, imported so that ``Base.metadata`` knows all tables (Alembic)."""

from chainsleuth.audit.models import AuditEvent, AuditHead
from chainsleuth.auth.models import ApiToken, User, WebSession
from chainsleuth.core.models import Base
from chainsleuth.orgs.models import Agency, Organisation

__all__ = [
    "Agency",
    "ApiToken",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Organisation",
    "User",
    "WebSession",
]

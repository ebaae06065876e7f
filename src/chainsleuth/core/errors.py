"""Domain errors. Each carries a message fit for a user and knows nothing of HTTP.

    ChainsleuthError
     +-- ConfigurationError      settings or environment that cannot work
     +-- DatabaseNotReady        database missing or not migrated to the latest revision
     +-- InvalidInput            the caller sent something we will not accept
     |    +-- PayloadTooLarge    a body over the configured limit
     +-- NotAuthenticated        no valid session or token (or it expired)
     |    +-- LoginFailed        wrong username/password or MFA code
     |    +-- AccountLocked      too many failed logins; try again later
     +-- MfaRequired             a password-only session asked for more
     +-- RateLimited             too many requests from one client; retry later
     +-- PermissionDenied        authenticated, but not allowed
     |    +-- CsrfFailed         a form or cookie-authenticated call without its CSRF token
     +-- NotFound                no such object
     |    +-- NotVisible         it exists, but belongs to another agency or organisation
     +-- Conflict                the object exists already or changed meanwhile
     +-- IntegrityViolation      stored data fails verification (audit chain, hashes)

The web layer maps them to status codes in one table (``chainsleuth.web.errors``);
the CLI prints the message and exits with code 2.
"""

from __future__ import annotations

from typing import Any


class ChainsleuthError(Exception):
    code = "error"

    def __init__(self, message: str, *, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: per-item problems (a subject file's bad rows, say), answered as the error's details
        self.details = details


class ConfigurationError(ChainsleuthError):
    code = "configuration_error"


class DatabaseNotReady(ChainsleuthError):
    code = "database_not_ready"


class InvalidInput(ChainsleuthError):
    code = "invalid_input"


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"


class NotAuthenticated(ChainsleuthError):
    code = "not_authenticated"


class LoginFailed(NotAuthenticated):
    code = "login_failed"


class AccountLocked(NotAuthenticated):
    code = "account_locked"


class MfaRequired(ChainsleuthError):
    code = "mfa_required"


class RateLimited(ChainsleuthError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDenied(ChainsleuthError):
    code = "permission_denied"


class CsrfFailed(PermissionDenied):
    code = "csrf_failed"


class NotFound(ChainsleuthError):
    code = "not_found"


class NotVisible(NotFound):
    """Reported to the user exactly like NotFound; audited as an access denial."""


class Conflict(ChainsleuthError):
    code = "conflict"


class IntegrityViolation(ChainsleuthError):
    code = "integrity_violation"

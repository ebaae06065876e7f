from enum import StrEnum


class OfficerStatus(StrEnum):
    """pending_verification -> pending_approval -> approved | rejected; approved -> suspended."""

    PENDING_VERIFICATION = "pending_verification"  # signed up, e-mail link not yet opened
    PENDING_APPROVAL = "pending_approval"  # e-mail verified, waiting for an administrator
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class TokenPurpose(StrEnum):
    SIGNUP = "signup"  # prove the official e-mail address at sign-up
    ACTIVATE = "activate"  # choose a password once approved
    REVERIFY = "reverify"  # periodic re-verification of the e-mail address


class FailureKind(StrEnum):
    """Why a sender's verification failed (counted in the confidence rating)."""

    CALLBACK = "callback"  # the agency's registered number did not confirm a request
    EMAIL = "email"  # an expired, reused or invalid verification link
    DOMAIN = "domain"  # the address is no longer on an official domain of the agency
    OTHER = "other"


class ConfidenceRating(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    UNVERIFIED = "unverified"


class MailStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"

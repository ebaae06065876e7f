from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    INVESTIGATOR = "investigator"
    LEGAL_REVIEWER = "legal_reviewer"
    COMPLIANCE_ANALYST = "compliance_analyst"
    LE_OFFICER = "le_officer"
    PARTNER = "partner"
    TRAINEE = "trainee"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_internal(self) -> bool:
        """Staff of the exchange itself: not confined to one agency or organisation."""
        return self in INTERNAL_ROLES


_LABELS = {
    Role.ADMIN: "Administrator",
    Role.INVESTIGATOR: "Investigator",
    Role.LEGAL_REVIEWER: "Legal reviewer",
    Role.COMPLIANCE_ANALYST: "Compliance analyst",
    Role.LE_OFFICER: "Law-enforcement officer",
    Role.PARTNER: "Partner analyst",
    Role.TRAINEE: "Trainee",
}

INTERNAL_ROLES = frozenset(
    {Role.ADMIN, Role.INVESTIGATOR, Role.LEGAL_REVIEWER, Role.COMPLIANCE_ANALYST}
)


class Permission(StrEnum):
    """What a route requires. API tokens carry a subset of their owner's permissions."""

    PROFILE_READ = "profile:read"
    USERS_READ = "users:read"
    USERS_MANAGE = "users:manage"
    ORGS_READ = "orgs:read"
    ORGS_MANAGE = "orgs:manage"
    AUDIT_READ = "audit:read"
    AUDIT_VERIFY = "audit:verify"
    CHAIN_READ = "chain:read"
    LABELS_READ = "labels:read"
    LABELS_WRITE = "labels:write"
    LABELS_IMPORT = "labels:import"
    EXCHANGE_READ = "exchange:read"
    KYC_REVEAL = "kyc:reveal"
    # risk (issue 6): the policy, screenings, alerts and the watch list
    RISK_READ = "risk:read"
    POLICY_WRITE = "policy:write"
    SCREENINGS_CREATE = "screenings:create"
    ALERTS_READ = "alerts:read"
    ALERTS_WORK = "alerts:work"
    WATCHLIST_MANAGE = "watchlist:manage"
    # law-enforcement requests (issue 7)
    AGENCIES_MANAGE = "agencies:manage"
    OFFICERS_APPROVE = "officers:approve"
    REQUESTS_SUBMIT = "requests:submit"  # an officer: own agency's requests only
    REQUESTS_WORK = "requests:work"  # staff: triage, gather, message
    REQUESTS_APPROVE = "requests:approve"  # legal review, second-channel verification
    REQUESTS_STATS = "requests:stats"
    # cases and freezes (issue 8)
    CASES_READ = "cases:read"
    CASES_WORK = "cases:work"
    FREEZES_READ = "freezes:read"
    FREEZES_REQUEST = "freezes:request"
    FREEZES_APPROVE = "freezes:approve"  # the second person: a legal reviewer


_EVERYONE = {Permission.PROFILE_READ, Permission.USERS_READ}
_AUDITORS = {Permission.AUDIT_READ, Permission.AUDIT_VERIFY}
_CHAIN = {Permission.CHAIN_READ}  # the chain explorer: staff, and trainees (sandbox)
# attribution: everyone may read, outside staff only TLP:CLEAR/GREEN and their own labels
# (chainsleuth.labels.service); investigators and analysts add labels; admins import sources
_LABEL_READERS = {Permission.LABELS_READ}
_LABELLERS = {Permission.LABELS_READ, Permission.LABELS_WRITE}
# the exchange's customer records (chainsleuth.exchange): staff read them with KYC masked;
# investigators and legal reviewers may reveal a KYC record (each reveal audited)
_EXCHANGE = {Permission.EXCHANGE_READ}
_KYC = {Permission.EXCHANGE_READ, Permission.KYC_REVEAL}

_RISK = {Permission.RISK_READ, Permission.ALERTS_READ}
_INVESTIGATE = {
    Permission.ALERTS_WORK,
    Permission.WATCHLIST_MANAGE,
    Permission.SCREENINGS_CREATE,
    Permission.REQUESTS_WORK,
    Permission.REQUESTS_STATS,
    Permission.CASES_READ,
    Permission.CASES_WORK,
    Permission.FREEZES_READ,
    Permission.FREEZES_REQUEST,
}
_LEGAL = {
    Permission.REQUESTS_WORK,
    Permission.REQUESTS_APPROVE,
    Permission.REQUESTS_STATS,
    Permission.CASES_READ,
    Permission.FREEZES_READ,
    Permission.FREEZES_APPROVE,
}
_COMPLIANCE = {
    Permission.POLICY_WRITE,
    Permission.SCREENINGS_CREATE,
    Permission.ALERTS_WORK,
    Permission.WATCHLIST_MANAGE,
    Permission.CASES_READ,
    Permission.FREEZES_READ,
    Permission.REQUESTS_STATS,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.INVESTIGATOR: frozenset(
        _EVERYONE | _CHAIN | _LABELLERS | _KYC | _RISK | _INVESTIGATE | {Permission.ORGS_READ}
    ),
    Role.LEGAL_REVIEWER: frozenset(
        _EVERYONE
        | _AUDITORS
        | _CHAIN
        | _LABEL_READERS
        | _KYC
        | _RISK
        | _LEGAL
        | {Permission.ORGS_READ}
    ),
    Role.COMPLIANCE_ANALYST: frozenset(
        _EVERYONE
        | _AUDITORS
        | _CHAIN
        | _LABELLERS
        | _EXCHANGE
        | _RISK
        | _COMPLIANCE
        | {Permission.ORGS_READ}
    ),
    Role.LE_OFFICER: frozenset(_EVERYONE | _LABEL_READERS | {Permission.REQUESTS_SUBMIT}),
    Role.PARTNER: frozenset(_EVERYONE | _LABEL_READERS),
    Role.TRAINEE: frozenset({Permission.PROFILE_READ} | _CHAIN | _LABEL_READERS),
}

from enum import StrEnum


class OrganisationKind(StrEnum):
    ANALYTICS_FIRM = "analytics_firm"
    EXCHANGE = "exchange"
    FIU = "fiu"
    OTHER = "other"


class JurisdictionLevel(StrEnum):
    """How far an agency's powers reach."""

    NATIONAL = "national"
    REGIONAL = "regional"  # a state, province or region
    LOCAL = "local"
    SUPRANATIONAL = "supranational"  # Europol, INTERPOL, ...


class AgencyStatus(StrEnum):
    """A suspended agency's officers cannot sign up, sign in or send requests."""

    ACTIVE = "active"
    SUSPENDED = "suspended"

from enum import StrEnum


class OrganisationKind(StrEnum):
    ANALYTICS_FIRM = "analytics_firm"
    EXCHANGE = "exchange"
    FIU = "fiu"
    OTHER = "other"

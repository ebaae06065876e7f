"""Machine values of attribution: categories, scopes, TLP markings, sources, confidence.

The category taxonomy follows GraphSense's concept taxonomy (itself derived from the
INTERPOL Darknet and Cryptocurrencies Working Group's) folded into the categories an
investigator screens on; ``TAGPACK_CONCEPTS`` maps every GraphSense concept onto it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    # services
    EXCHANGE = "exchange"
    OTC_BROKER = "otc_broker"
    WALLET_SERVICE = "wallet_service"
    PAYMENT_PROCESSOR = "payment_processor"
    ATM = "atm"
    MERCHANT = "merchant"
    MIXER = "mixer"
    COINJOIN = "coinjoin"
    DARKNET_MARKET = "darknet_market"
    GAMBLING = "gambling"
    MINER = "miner"
    BRIDGE = "bridge"
    DEFI = "defi"
    DEX = "dex"
    TOKEN = "token"
    INFRASTRUCTURE = "infrastructure"
    # abuse
    RANSOMWARE = "ransomware"
    SCAM = "scam"
    EXTORTION = "extortion"
    SANCTIONED = "sanctioned"
    STOLEN_FUNDS = "stolen_funds"
    TERRORIST_FINANCING = "terrorist_financing"
    CHILD_ABUSE = "child_abuse"
    MONEY_LAUNDERING = "money_laundering"
    MONEY_MULE = "money_mule"
    # who
    INDIVIDUAL = "individual"
    ORGANIZATION = "organization"
    VICTIM = "victim"
    OTHER = "other"

    @property
    def is_illicit(self) -> bool:
        return self in ILLICIT


ILLICIT = frozenset(
    {
        Category.DARKNET_MARKET,
        Category.RANSOMWARE,
        Category.SCAM,
        Category.EXTORTION,
        Category.SANCTIONED,
        Category.STOLEN_FUNDS,
        Category.TERRORIST_FINANCING,
        Category.CHILD_ABUSE,
        Category.MONEY_LAUNDERING,
        Category.MONEY_MULE,
    }
)

#: GraphSense concepts (``concepts.yaml``: entities and abuses) -> our category. A TagPack
#: names a concept in ``category`` or ``abuse``; our own category names are accepted too.
TAGPACK_CONCEPTS: dict[str, Category] = {
    # entities
    "entity": Category.OTHER,
    "organization": Category.ORGANIZATION,
    "user": Category.INDIVIDUAL,
    "perpetrator": Category.INDIVIDUAL,
    "victim": Category.VICTIM,
    "donation": Category.INDIVIDUAL,
    "service": Category.OTHER,
    "exchange": Category.EXCHANGE,
    "wallet_service": Category.WALLET_SERVICE,
    "escrow_wallet": Category.WALLET_SERVICE,
    "ico_wallet": Category.WALLET_SERVICE,
    "cold_wallet": Category.WALLET_SERVICE,
    "hot_wallet": Category.WALLET_SERVICE,
    "warm_wallet": Category.WALLET_SERVICE,
    "filesharing": Category.OTHER,
    "index": Category.OTHER,
    "market": Category.DARKNET_MARKET,
    "messaging_service": Category.OTHER,
    "mixing_service": Category.MIXER,
    "mixing": Category.MIXER,
    "coinjoin": Category.COINJOIN,
    "miner": Category.MINER,
    "mining_service": Category.MINER,
    "gambling": Category.GAMBLING,
    "search_engine": Category.OTHER,
    "shop": Category.MERCHANT,
    "faucet": Category.OTHER,
    "payment_processor": Category.PAYMENT_PROCESSOR,
    "atm": Category.ATM,
    "hosting": Category.INFRASTRUCTURE,
    "vpn": Category.INFRASTRUCTURE,
    "defi": Category.DEFI,
    "defi_lending": Category.DEFI,
    "defi_derivative": Category.DEFI,
    "defi_dex": Category.DEX,
    "defi_bridge": Category.BRIDGE,
    "smart_contract": Category.DEFI,
    "item": Category.OTHER,
    "collectible": Category.OTHER,
    # abuses
    "abuse": Category.OTHER,
    "scam": Category.SCAM,
    "phishing": Category.SCAM,
    "investment_fraud": Category.SCAM,
    "ponzi_scheme": Category.SCAM,
    "pyramid_scheme": Category.SCAM,
    "payment_card_fraud": Category.SCAM,
    "financial_crime": Category.MONEY_LAUNDERING,
    "money_laundering": Category.MONEY_LAUNDERING,
    "extortion": Category.EXTORTION,
    "sextortion": Category.EXTORTION,
    "ransomware": Category.RANSOMWARE,
    "service_hack": Category.STOLEN_FUNDS,
    "sanction": Category.SANCTIONED,
    "extremism": Category.TERRORIST_FINANCING,
    "terrorism": Category.TERRORIST_FINANCING,
    "sexual_abuse": Category.CHILD_ABUSE,
    "child_sexual_abuse": Category.CHILD_ABUSE,
    "dark_web": Category.DARKNET_MARKET,
    "violence": Category.OTHER,
    "torture": Category.OTHER,
    **{c.value: c for c in Category},
}


def parse_category(value: str) -> Category | None:
    """Our category for a category name or GraphSense concept; None when unknown."""
    return TAGPACK_CONCEPTS.get(value.strip().lower().replace("-", "_").replace(" ", "_"))


class Scope(StrEnum):
    """What a label is about: the address itself, or the entity (cluster) that holds it."""

    ADDRESS = "address"
    ENTITY = "entity"


class Tlp(StrEnum):
    """Traffic Light Protocol 2.0 markings, least to most restricted."""

    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"

    @classmethod
    def parse(cls, value: str) -> Tlp | None:
        text = value.strip().upper().removeprefix("TLP:")
        text = {"WHITE": "CLEAR", "AMBER_STRICT": "AMBER+STRICT"}.get(text, text)
        try:
            return cls(text)
        except ValueError:
            return None


class SourceKind(StrEnum):
    TAGPACK = "tagpack"
    ACTORPACK = "actorpack"
    OFAC = "ofac"
    CSV = "csv"
    MANUAL = "manual"


class ImportFormat(StrEnum):
    """What ``chainsleuth labels import KIND`` reads."""

    TAGPACK = "tagpack"
    ACTORPACK = "actorpack"
    OFAC_XML = "ofac-xml"
    OFAC_CSV = "ofac-csv"
    OFAC_LISTS = "ofac-lists"
    CSV = "csv"

    @property
    def kind(self) -> SourceKind:
        if self in (ImportFormat.OFAC_XML, ImportFormat.OFAC_CSV, ImportFormat.OFAC_LISTS):
            return SourceKind.OFAC
        return SourceKind(self.value)


class HistoryAction(StrEnum):
    ADD = "add"
    UPDATE = "update"
    RETIRE = "retire"
    REACTIVATE = "reactivate"


@dataclass(frozen=True)
class ConfidenceLevel:
    name: str
    score: int
    label: str


#: The TagPack confidence levels as GraphSense publishes them (tagpack-tool
#: ``db/confidence.csv``); ``/work/shared/data/tagpacks`` carries no list of its own.
CONFIDENCE_LEVELS: dict[str, ConfidenceLevel] = {
    c.name: c
    for c in (
        ConfidenceLevel("override", 100, "Manual cluster tag"),
        ConfidenceLevel("ownership", 100, "Proven address ownership"),
        ConfidenceLevel("manual_transaction", 90, "Trusted transaction"),
        ConfidenceLevel("service_api", 70, "Service API"),
        ConfidenceLevel("authority_data", 60, "Authority data"),
        ConfidenceLevel("trusted_provider", 50, "Trusted data providers"),
        ConfidenceLevel("service_data", 50, "Service data"),
        ConfidenceLevel("forensic", 50, "Forensic reports"),
        ConfidenceLevel("untrusted_transaction", 40, "Untrusted transaction"),
        ConfidenceLevel("web_crawl", 20, "Web crawls"),
        ConfidenceLevel("heuristic", 10, "Any source"),
        ConfidenceLevel("unknown", 5, "Unknown"),
    )
}
#: the level of a tag that names none
DEFAULT_CONFIDENCE = "unknown"

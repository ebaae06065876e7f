"""Machine values of the exchange's records."""

from __future__ import annotations

from enum import StrEnum


class CustomerType(StrEnum):
    INDIVIDUAL = "individual"
    BUSINESS = "business"


class LedgerKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    WITHDRAWAL_FEE = "withdrawal_fee"
    TRADE_BUY = "trade_buy"
    TRADE_SELL = "trade_sell"


class TradeSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class IndexField(StrEnum):
    """What a blind index of a KYC detail holds (an HMAC of its normalised value)."""

    NAME = "name"  # one row per name token
    DATE_OF_BIRTH = "dob"
    EMAIL = "email"
    PHONE = "phone"
    DOCUMENT = "document"


class LinkKind(StrEnum):
    """Why two customers are linked."""

    DEVICE = "device"  # logins from the same device id
    IP = "ip"  # logins from the same IP address within a time window
    ADDRESS = "address"  # the same on-chain address (withdrawal destination, deposit address)
    EMAIL = "email"  # the same e-mail address in the KYC records
    PHONE = "phone"
    DOCUMENT = "document"

    @property
    def label(self) -> str:
        return _LINK_LABELS[self]


_LINK_LABELS = {
    LinkKind.DEVICE: "shared device",
    LinkKind.IP: "shared IP address",
    LinkKind.ADDRESS: "shared on-chain address",
    LinkKind.EMAIL: "same e-mail address",
    LinkKind.PHONE: "same phone number",
    LinkKind.DOCUMENT: "same identity document",
}


class MatchField(StrEnum):
    """What a subject search matched a customer on."""

    CUSTOMER_ID = "customer_id"
    ACCOUNT_ID = "account_id"
    NAME = "name"
    DATE_OF_BIRTH = "date_of_birth"
    EMAIL = "email"
    PHONE = "phone"
    DOCUMENT = "document"
    DEPOSIT_ADDRESS = "deposit_address"
    WITHDRAWAL_ADDRESS = "withdrawal_address"
    DEPOSIT_TX = "deposit_tx"
    WITHDRAWAL_TX = "withdrawal_tx"
    LOGIN_IP = "login_ip"
    DEVICE = "device"

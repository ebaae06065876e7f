"""Machine values of the world generator: actor types, categories, address roles, steps."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ActorType(StrEnum):
    """What an actor is in the world (``truth/actors``: ``type``)."""

    USER = "user"
    MERCHANT = "merchant"
    MINER = "miner"
    EXCHANGE = "exchange"
    OTC = "otc"
    GAMBLING = "gambling"
    MIXER = "mixer"
    MARKET = "market"
    VENDOR = "vendor"
    RANSOMWARE = "ransomware"
    SCAM = "scam"
    HACKER = "hacker"
    SANCTIONED = "sanctioned"
    MULE = "mule"
    VICTIM = "victim"
    BRIDGE = "bridge"
    DEX = "dex"
    DEFI = "defi"
    TOKEN = "token"
    INFRA = "infrastructure"
    TERRORIST = "terrorist"


class Category(StrEnum):
    """Attribution category (GraphSense/INTERPOL-derived taxonomy, ``truth/actors``)."""

    INDIVIDUAL = "individual"
    MERCHANT = "merchant"
    MINER = "miner"
    EXCHANGE = "exchange"
    OTC = "otc_broker"
    GAMBLING = "gambling"
    MIXER = "mixer"
    COINJOIN = "coinjoin"
    DARKNET_MARKET = "darknet_market"
    RANSOMWARE = "ransomware"
    SCAM = "scam"
    STOLEN_FUNDS = "stolen_funds"
    SANCTIONED = "sanctioned"
    MONEY_MULE = "money_mule"
    BRIDGE = "bridge"
    DEFI = "defi"
    DEX = "dex"
    TOKEN = "token"
    TERRORIST_FINANCING = "terrorist_financing"


class WalletKind(IntEnum):
    """How the vectorised economy treats a wallet's coins (``truth/addresses``: ``wallet``)."""

    USER = 0
    MERCHANT = 1
    MINER = 2
    EX_DEPOSIT = 3  # an exchange's customer deposit addresses (swept to hot)
    EX_HOT = 4
    EX_COLD = 5
    SCRIPTED = 6  # spent only by scripted (crime / service) code
    CONTRACT = 7  # account chain: a contract


WALLET_NAMES = {
    WalletKind.USER: "user",
    WalletKind.MERCHANT: "merchant",
    WalletKind.MINER: "miner",
    WalletKind.EX_DEPOSIT: "deposit",
    WalletKind.EX_HOT: "hot",
    WalletKind.EX_COLD: "cold",
    WalletKind.SCRIPTED: "scripted",
    WalletKind.CONTRACT: "contract",
}


class Role(IntEnum):
    """An address's role for its actor (``truth/addresses``: ``role``)."""

    RECEIVE = 0
    CHANGE = 1
    DEPOSIT = 2
    HOT = 3
    COLD = 4
    COINBASE = 5
    PAYOUT = 6
    RANSOM = 7
    CONSOLIDATION = 8
    PEEL = 9
    SPLIT = 10
    MIX_IN = 11
    MIX_OUT = 12
    ESCROW = 13
    COLLECTION = 14
    EXPLOIT = 15
    CONTRACT = 16
    TREASURY = 17
    GAS = 18
    CASH_OUT = 19
    DORMANT = 20
    PASS_THROUGH = 21
    STRUCTURING = 22
    FEE = 23
    BRIDGE = 24
    OPERATOR = 25


ROLE_NAMES = {r: r.name.lower() for r in Role}


class Link(StrEnum):
    """How a scheme hop's funds come from its parent hops (``truth/scheme_hops``: ``link``)."""

    START = "start"  # where the victim's money enters (no parent)
    SPEND = "spend"  # UTXO: the tx spends an output of a parent hop's tx
    ACCOUNT = "account"  # account chain: the sender received from a parent hop's tx
    SWAP = "swap"  # account chain: DEX swap by an address that received from a parent hop
    BRIDGE = "bridge"  # cross-chain: release of a parent lock (same bridge record id)
    CUSTODIAL = "custodial"  # custodial mixer payout for a parent deposit (mixer's books)

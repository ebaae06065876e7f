"""Machine values of gatherings and response packages."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """A kind of gathered item: each is ticked (produced) or not (withheld) on its own."""

    KYC = "kyc"
    ACCOUNTS = "accounts"
    BALANCES = "balances"
    LEDGER = "ledger"
    DEPOSITS = "deposits"
    WITHDRAWALS = "withdrawals"
    LOGINS = "logins"
    LINKED_ACCOUNTS = "linked_accounts"
    COUNTERPARTIES = "counterparties"
    EXPOSURE = "exposure"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def on_chain(self) -> bool:
        return self in (Category.COUNTERPARTIES, Category.EXPOSURE)


_LABELS = {
    Category.KYC: "KYC record",
    Category.ACCOUNTS: "Accounts",
    Category.BALANCES: "Balances at a date",
    Category.LEDGER: "Ledger entries",
    Category.DEPOSITS: "Deposits",
    Category.WITHDRAWALS: "Withdrawals",
    Category.LOGINS: "Logins (IP, device)",
    Category.LINKED_ACCOUNTS: "Linked accounts",
    Category.COUNTERPARTIES: "On-chain counterparties",
    Category.EXPOSURE: "On-chain exposure",
}


class GatheringStatus(StrEnum):
    GATHERED = "gathered"  # items found; the reviewer ticks what the legal basis allows
    APPROVED = "approved"  # finalised: the package was built from the ticked items
    SUPERSEDED = "superseded"  # a newer gathering of the same request replaced it

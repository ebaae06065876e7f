"""Where criminal coins leave the chain's anonymity: exchanges (ours via mules), OTC desks.

A cash-out is a payment to a deposit address of an exchange (whose books then know the
customer) or to an OTC broker. The hop that makes it carries ``cash_out``: the kind, the
receiving actor, the customer (for exchanges) and the address.
"""

from __future__ import annotations

from typing import Any

from chainsleuth.world.crime import ChainHandle
from chainsleuth.world.crime.plans import OURS
from chainsleuth.world.enums import Role
from chainsleuth.world.plan import P2WPKH

THRESHOLD_USD = 10_000.0  # reporting threshold that structuring stays under


def record_structuring(h: ChainHandle, scheme: str, deposits: list[Any]) -> None:
    """Record ``deposits`` (each paying a mule's account first) as one structuring
    instance of ``scheme``: a sum split into deposits just under the threshold."""
    h.rec.typology(
        "structuring",
        deposits,
        [t.outs[0].addr for t in deposits],
        scheme=scheme,
        note=f"deposits just under USD {THRESHOLD_USD:,.0f} to mules' accounts",
    )


def btc_deposit_address(h: ChainHandle, exchange: int, customer: int) -> int:
    """The customer's (reused) deposit address at ``exchange`` on the UTXO chain."""
    cache: dict[tuple[int, int], int] = h.services.setdefault("deposit_btc", {})
    key = (exchange, customer)
    if key not in cache:
        cache[key] = h.btc.deposit_address(exchange, customer)
    return cache[key]


def otc_address(h: ChainHandle) -> int:
    """A fresh address of the OTC broker (UTXO chain)."""
    wallet = h.services.get("otc_wallet")
    if wallet is None:
        wallet = h.btc.wallet(h.plan.services["otc"], P2WPKH)
        h.services["otc_wallet"] = wallet
    return h.btc.address(wallet, Role.DEPOSIT)


def cash_out_info(
    h: ChainHandle, kind: str, actor: int, customer: int | None, address: int
) -> dict[str, Any]:
    info: dict[str, Any] = {"kind": kind, "actor": actor, "address_id": address}
    if kind == "exchange":
        info["exchange"] = h.plan.actors.get(actor).name
        info["customer_actor"] = customer
        info["ours"] = actor == h.plan.exchanges[OURS].actor
    else:
        info["name"] = h.plan.actors.get(actor).name
    return info


def btc_target(h: ChainHandle, exchange: int | None, customer: int) -> tuple[int, dict[str, Any]]:
    """(address, cash_out info) for an exchange deposit (``exchange``) or the OTC desk (None)."""
    if exchange is None:
        addr = otc_address(h)
        return addr, cash_out_info(h, "otc", h.plan.services["otc"], None, addr)
    addr = btc_deposit_address(h, exchange, customer)
    return addr, cash_out_info(h, "exchange", h.plan.exchanges[exchange].actor, customer, addr)

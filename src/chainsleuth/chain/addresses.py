"""Addresses and hashes, validated and canonicalised once, at the boundary.

Bitcoin: Base58Check (P2PKH version 0x00, P2SH 0x05) and segwit Bech32 (witness v0) /
Bech32m (v1+, BIP-350), stored in their canonical text (Bech32 lower-case). Ethereum:
``0x`` and 40 hex digits; a mixed-case address must carry a valid EIP-55 checksum; stored
lower-case, shown checksummed.
"""

from __future__ import annotations

import re
from functools import lru_cache

import base58
import bech32m
from eth_hash.auto import keccak

from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.enums import ChainKind, ScriptType
from chainsleuth.core.errors import InvalidInput

P2PKH_VERSION = 0x00
P2SH_VERSION = 0x05
SEGWIT_HRP = "bc"

_ETH_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
#: canonical and display forms kept for this many addresses: a screening canonicalises its
#: address and its counterparties' several times (the request, the labels, the reasons), and
#: Bech32 decoding and Keccak hashing are Python work (refusals are not kept)
ADDRESS_CACHE = 1 << 16


class AddressError(InvalidInput):
    code = "invalid_address"


def btc_address_type(address: str) -> ScriptType:
    """Validate a Bitcoin address and tell what it pays to; raises AddressError."""
    text = address.strip()
    if not text:
        raise AddressError("empty address")
    if text[:3].lower() == SEGWIT_HRP + "1":
        if text != text.lower() and text != text.upper():
            raise AddressError(f"{address!r} mixes upper and lower case")
        try:
            decoded = bech32m.decode(SEGWIT_HRP, text.lower())
        except bech32m.DecodeError as exc:
            raise AddressError(f"{address!r} is not a valid Bech32/Bech32m segwit address") from exc
        version, program = decoded.witver, decoded.witprog
        if version == 0:
            return ScriptType.P2WPKH if len(program) == 20 else ScriptType.P2WSH
        if version == 1 and len(program) == 32:
            return ScriptType.P2TR
        return ScriptType.WITNESS_UNKNOWN
    try:
        payload = base58.b58decode_check(text)
    except ValueError as exc:
        raise AddressError(f"{address!r} is not a valid Base58Check address") from exc
    if len(payload) != 21:
        raise AddressError(f"{address!r} has a payload of the wrong length")
    if payload[0] == P2PKH_VERSION:
        return ScriptType.P2PKH
    if payload[0] == P2SH_VERSION:
        return ScriptType.P2SH
    raise AddressError(f"{address!r} is not a Bitcoin mainnet address")


def canonical_btc(address: str) -> str:
    btc_address_type(address)
    text = address.strip()
    return text.lower() if text[:3].lower() == SEGWIT_HRP + "1" else text


def eip55(address: str) -> str:
    """The EIP-55 mixed-case checksum form of an Ethereum address."""
    body = address[2:].lower()
    digest = keccak(body.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if int(d, 16) >= 8 else c for c, d in zip(body, digest[:40], strict=True)
    )


def canonical_eth(address: str) -> str:
    text = address.strip()
    if not _ETH_ADDRESS.match(text):
        raise AddressError(f"{address!r} is not an Ethereum address (0x and 40 hex digits)")
    body = text[2:]
    if body != body.lower() and body != body.upper() and eip55(text) != text:
        raise AddressError(f"{address!r} fails its EIP-55 checksum")
    return "0x" + body.lower()


@lru_cache(maxsize=ADDRESS_CACHE)
def canonical_address(chain_id: str, address: str) -> str:
    """The stored form of an address on a chain; raises AddressError when it is not valid."""
    chain = get_chain(chain_id)
    if chain.kind is ChainKind.UTXO:
        return canonical_btc(address)
    return canonical_eth(address)


@lru_cache(maxsize=ADDRESS_CACHE)
def display_address(chain_id: str, address: str) -> str:
    """How an address is shown: checksummed on Ethereum, as stored elsewhere."""
    return eip55(address) if get_chain(chain_id).kind is ChainKind.ACCOUNT else address


def canonical_hash(chain_id: str, value: str) -> str:
    """A transaction or block hash: lower-case hex; with ``0x`` on account chains."""
    chain = get_chain(chain_id)
    text = value.strip()
    body = text[2:] if text[:2].lower() == "0x" else text
    if not _HEX64.match(body):
        raise InvalidInput(f"{value!r} is not a transaction or block hash (64 hex digits)")
    return ("0x" + body.lower()) if chain.kind is ChainKind.ACCOUNT else body.lower()


def looks_like_address(chain_id: str, text: str) -> bool:
    try:
        canonical_address(chain_id, text)
    except InvalidInput:
        return False
    return True

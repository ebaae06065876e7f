"""Addresses and hashes at the boundary: real test vectors and real addresses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainsleuth.chain.addresses import (
    AddressError,
    btc_address_type,
    canonical_address,
    canonical_hash,
    display_address,
    eip55,
)
from chainsleuth.chain.enums import ScriptType
from chainsleuth.core.errors import InvalidInput

DATA = Path("/work/shared/data")
ETL = DATA / "etl-fixtures/bitcoin-etl/tests/resources/test_export_blocks_job/bitcoin"
OFAC = DATA / "ofac"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not present")

# BIP-173 and BIP-350 mainnet vectors: (address, canonical form, what it pays to)
VALID_SEGWIT = [
    (
        "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ScriptType.P2WPKH,
    ),
    (
        "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
        "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
        ScriptType.P2WSH,
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        ScriptType.WITNESS_UNKNOWN,
    ),
    ("BC1SW50QGDZ25J", "bc1sw50qgdz25j", ScriptType.WITNESS_UNKNOWN),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        ScriptType.P2TR,
    ),
]

INVALID_SEGWIT = [
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",  # bech32, not bech32m
    "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",  # same, v16
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",  # bech32m for v0
    "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",  # bad checksum char
    "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",  # witness version 17
    "bc1pw5dgrnzv",  # 1-byte program
    "bc1zw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",  # 41 bytes
    "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",  # v0 program of 16 bytes
    "bc1gmk9yu",  # empty data
    "bc1qW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",  # mixed case
    "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",  # testnet
]

# EIP-55's own examples
EIP55 = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize(("text", "canonical", "script"), VALID_SEGWIT)
def test_bip173_bip350_valid(text: str, canonical: str, script: ScriptType) -> None:
    assert canonical_address("btc", text) == canonical
    assert btc_address_type(text) is script


@pytest.mark.parametrize("text", INVALID_SEGWIT)
def test_bip173_bip350_invalid(text: str) -> None:
    with pytest.raises(AddressError):
        canonical_address("btc", text)


def test_base58check() -> None:
    assert btc_address_type("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa") is ScriptType.P2PKH
    assert btc_address_type("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy") is ScriptType.P2SH
    for bad in ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", ""):
        with pytest.raises(AddressError):
            canonical_address("btc", bad)


@pytest.mark.parametrize("address", EIP55)
def test_eip55(address: str) -> None:
    lower = "0x" + address[2:].lower()
    assert canonical_address("eth", address) == lower
    if address[2:] not in (address[2:].lower(), address[2:].upper()):
        assert eip55(lower) == address
        assert display_address("eth", lower) == address
        i = next(i for i, c in enumerate(address) if i >= 2 and c.isalpha())
        wrong = address[:i] + address[i].swapcase() + address[i + 1 :]
        with pytest.raises(AddressError, match="EIP-55"):
            canonical_address("eth", wrong)


def test_hashes_and_chains() -> None:
    h = "AB" * 32
    assert canonical_hash("btc", h) == "ab" * 32
    assert canonical_hash("eth", h) == "0x" + "ab" * 32
    assert canonical_hash("eth", "0x" + h) == "0x" + "ab" * 32
    for bad in ("ab" * 31, "zz" * 32, "0x"):
        with pytest.raises(InvalidInput):
            canonical_hash("btc", bad)
    with pytest.raises(InvalidInput, match="unknown chain"):
        canonical_address("ltc", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")


@needs_data
def test_bitcoin_etl_fixture_addresses_validate() -> None:
    seen = 0
    for path in ETL.glob("*/expected_transactions.json"):
        for line in path.read_text().splitlines():
            tx = json.loads(line)
            for part in tx["outputs"] + tx["inputs"]:
                for address in part.get("addresses") or []:
                    assert canonical_address("btc", address)
                    seen += 1
    assert seen >= 10


@needs_data
def test_ofac_sanctioned_addresses_validate() -> None:
    xbt = json.loads((OFAC / "sanctioned_addresses_XBT.json").read_text())
    rejected = []
    for address in xbt:
        try:
            canonical_address("btc", address)
        except AddressError:
            rejected.append(address)
    # the list files one TRON address under XBT: refusing it is right
    assert rejected == ["TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq"]
    eth = json.loads((OFAC / "sanctioned_addresses_ETH.json").read_text())
    assert len({canonical_address("eth", a) for a in eth}) == len(eth)

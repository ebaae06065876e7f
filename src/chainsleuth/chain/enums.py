from __future__ import annotations

from enum import StrEnum


class ChainKind(StrEnum):
    UTXO = "utxo"
    ACCOUNT = "account"


class ScriptType(StrEnum):
    """What an output pays to (UTXO chains); account-chain addresses are EOA or contract."""

    P2PKH = "p2pkh"
    P2SH = "p2sh"
    P2WPKH = "p2wpkh"
    P2WSH = "p2wsh"
    P2TR = "p2tr"
    WITNESS_UNKNOWN = "witness_unknown"
    P2PK = "p2pk"
    MULTISIG = "multisig"
    NULLDATA = "nulldata"  # OP_RETURN: no address
    NONSTANDARD = "nonstandard"

"""The per-currency lists of OFAC-sanctioned addresses (``sanctioned_addresses_<CUR>.json``,
as 0xB10C/ofac-sanctioned-digital-currency-addresses publishes them): a JSON array of
address strings per currency. One label per address; an address on several lists (ETH,
USDT, USDC) is one label naming every list."""

from __future__ import annotations

import json
import re
from pathlib import PurePath

from chainsleuth.core.errors import InvalidInput
from chainsleuth.labels.enums import CONFIDENCE_LEVELS, Category, ImportFormat, Tlp
from chainsleuth.labels.importers.common import (
    LabelDraft,
    Parsed,
    address_or_none,
    chain_for,
    decode_text,
)

FILE = re.compile(r"^sanctioned_addresses_([A-Za-z0-9]+)\.json$")
DEFAULT_NAME = "ofac-lists"


def currency_of(file_name: str) -> str:
    match = FILE.match(PurePath(file_name).name)
    if match is None:
        raise InvalidInput(
            f"{file_name}: cannot tell the currency (expected sanctioned_addresses_<CUR>.json)"
        )
    return match.group(1).upper()


def parse_ofac_lists(
    files: list[tuple[str, bytes]], *, skip_invalid: bool = False, name: str | None = None
) -> Parsed:
    """``files``: (file name, content) of one or more lists."""
    if not files:
        raise InvalidInput("no sanctioned_addresses_<CUR>.json files found")
    currencies = sorted(currency_of(f) for f, _ in files)
    default = DEFAULT_NAME if len(files) > 1 else f"{DEFAULT_NAME}:{currencies[0]}"
    parsed = Parsed(
        format=ImportFormat.OFAC_LISTS,
        default_name=name or default,
        default_tlp=Tlp.CLEAR,
        title="OFAC-sanctioned digital currency addresses (" + ", ".join(currencies) + ")",
        uri="https://github.com/0xB10C/ofac-sanctioned-digital-currency-addresses",
    )
    level = CONFIDENCE_LEVELS["authority_data"]
    drafts: dict[str, LabelDraft] = {}
    for file_name, data in sorted(files):
        currency = currency_of(file_name)
        try:
            items = json.loads(decode_text(data, file_name))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{file_name} is not valid JSON: {exc}") from exc
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise InvalidInput(f"{file_name} is not a list of addresses (a JSON array of strings)")
        for item in items:
            chain = chain_for(currency, item)
            if chain is None:
                parsed.skip(f"currency {currency}", f"{file_name}: {item} is not on a stored chain")
                continue
            address = address_or_none(chain, item)
            if address is None:
                parsed.skip("invalid_address", f"{file_name}: {item!r} is not a valid address")
                continue
            key = f"{chain}:{address}"
            if key in drafts:
                listed = drafts[key].details["currencies"]
                if currency not in listed:
                    listed.append(currency)
                continue
            drafts[key] = LabelDraft(
                key=key,
                chain=chain,
                address=address,
                category=Category.SANCTIONED,
                label="OFAC SDN digital currency address",
                confidence=level.score,
                confidence_name=level.name,
                source_uri="https://home.treasury.gov/policy-issues/financial-sanctions/"
                "specially-designated-nationals-and-blocked-persons-list-sdn-human-readable-lists",
                details={"currencies": [currency]},
            )
    parsed.labels = list(drafts.values())
    return parsed

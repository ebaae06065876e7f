"""OFAC's ``sdn.csv``: addresses in the remarks field, as ``Digital Currency Address - XBT
<address>;`` (and ``alt. Digital Currency Address - ...``).

The file has no header: ``ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign,
Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks``; ``-0-`` means empty, and the
last line may be a DOS end-of-file mark (Ctrl-Z). The CSV truncates long remarks, so the
last address of a long entry can be cut off: such fragments are counted as invalid.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import PurePath

from chainsleuth.core.errors import InvalidInput
from chainsleuth.labels.enums import CONFIDENCE_LEVELS, Category, ImportFormat, Tlp
from chainsleuth.labels.importers.common import (
    ActorDraft,
    LabelDraft,
    Parsed,
    address_or_none,
    chain_for,
    decode_text,
)
from chainsleuth.labels.importers.ofac_xml import DETAILS_URL

COLUMNS = 12
REMARK = re.compile(r"Digital Currency Address - ([A-Za-z0-9]+)\s*([^;]*)")
DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
EMPTY = "-0-"
DEFAULT_NAME = "ofac-sdn-csv"


def _field(value: str) -> str:
    text = value.strip()
    return "" if text == EMPTY else text


def parse_ofac_csv(data: bytes, *, file_name: str, skip_invalid: bool = False) -> Parsed:
    text = decode_text(data, file_name).rstrip("\x1a\r\n ")
    dated = DATE.search(PurePath(file_name).name)
    parsed = Parsed(
        format=ImportFormat.OFAC_CSV,
        default_name=DEFAULT_NAME,
        default_tlp=Tlp.CLEAR,
        title="OFAC Specially Designated Nationals (sdn.csv)",
        uri="https://www.treasury.gov/ofac/downloads/sdn.csv",
        version=dated.group(1) if dated else None,
    )
    level = CONFIDENCE_LEVELS["authority_data"]
    seen: set[str] = set()
    actors: dict[str, ActorDraft] = {}
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InvalidInput(f"{file_name} is not a CSV file: {exc}") from exc
    for n, row in enumerate(rows, start=1):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != COLUMNS or not row[0].strip().isdigit():
            raise InvalidInput(
                f"{file_name}: line {n} is not an SDN record (12 columns, the first a number): "
                "is this OFAC's sdn.csv?"
            )
        ent_num, name, program, remarks = (
            row[0].strip(),
            _field(row[1]),
            _field(row[3]),
            _field(row[11]),
        )
        programs = [p.strip(" []") for p in program.split("] [") if p.strip(" []")]
        for currency, raw in REMARK.findall(remarks):
            currency = currency.upper()
            token = raw.strip().rstrip(".").strip()
            chain = chain_for(currency, token)
            if chain is None:
                parsed.skip(f"currency {currency}", f"entry {ent_num}: {currency} not stored")
                continue
            address = address_or_none(chain, token)
            if address is None:
                parsed.skip(
                    "invalid_address",
                    f"entry {ent_num}: {token!r} is not a valid {currency} address",
                )
                continue
            key = f"{chain}:{address}:{ent_num}"
            if key in seen:
                parsed.skip("duplicate", f"entry {ent_num}: {address} twice")
                continue
            seen.add(key)
            actor = f"ofac-sdn:{ent_num}"
            actors.setdefault(
                actor,
                ActorDraft(
                    ext_id=actor,
                    name=name,
                    categories=["sanction"],
                    uri=DETAILS_URL.format(ent_num),
                    context={"programs": programs, "type": _field(row[2]) or None},
                ),
            )
            parsed.labels.append(
                LabelDraft(
                    key=key,
                    chain=chain,
                    address=address,
                    category=Category.SANCTIONED,
                    label=name,
                    actor=actor,
                    confidence=level.score,
                    confidence_name=level.name,
                    source_uri=DETAILS_URL.format(ent_num),
                    details={"currency": currency, "sdn_id": ent_num, "programs": programs},
                )
            )
    parsed.actors = list(actors.values())
    return parsed

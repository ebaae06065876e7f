"""Labels from a CSV file with a header row (see docs/labels.md for the columns).

Required: ``chain``, ``address``, ``category``. Optional: ``label``, ``actor`` (an ActorPack
id), ``confidence`` (a TagPack level name or 0-100), ``tlp``, ``scope`` (``address`` or
``entity``), ``source_note``, ``source_uri``, ``first_seen``, ``last_seen``; any other column
is kept in the label's details.
"""

from __future__ import annotations

import csv
import io
from pathlib import PurePath
from typing import Any

from chainsleuth.chain.chains import CHAINS
from chainsleuth.core.errors import InvalidInput
from chainsleuth.labels.enums import ImportFormat, Scope, Tlp, parse_category
from chainsleuth.labels.importers.common import (
    LabelDraft,
    Parsed,
    address_or_none,
    as_datetime,
    confidence_of,
    decode_text,
)

REQUIRED = ("chain", "address", "category")
KNOWN = (
    *REQUIRED,
    "label",
    "actor",
    "confidence",
    "tlp",
    "scope",
    "source_note",
    "source_uri",
    "first_seen",
    "last_seen",
)


def parse_csv(data: bytes, *, file_name: str, skip_invalid: bool = False) -> Parsed:
    text = decode_text(data, file_name)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise InvalidInput(f"{file_name} is not a CSV file: {exc}") from exc
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidInput(
            f"{file_name} lacks the column(s) {', '.join(missing)} "
            f"(the header must name at least {', '.join(REQUIRED)})"
        )
    reader.fieldnames = header
    stem = PurePath(file_name).name.removesuffix(".csv")
    parsed = Parsed(format=ImportFormat.CSV, default_name=f"csv:{stem}", default_tlp=Tlp.AMBER)
    seen: set[str] = set()
    try:
        for n, row in enumerate(reader, start=2):
            draft = _row(parsed, row, f"{file_name}: line {n}", skip_invalid=skip_invalid)
            if draft is None:
                continue
            if draft.key in seen:
                parsed.skip("duplicate", f"{file_name}: line {n} repeats a label")
                continue
            seen.add(draft.key)
            parsed.labels.append(draft)
    except csv.Error as exc:
        raise InvalidInput(f"{file_name} is not a valid CSV file: {exc}") from exc
    return parsed


def _value(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    return value.strip() if isinstance(value, str) else ""


def _row(
    parsed: Parsed, row: dict[str, Any], where: str, *, skip_invalid: bool
) -> LabelDraft | None:
    if None in row:
        raise InvalidInput(f"{where} has more fields than the header")
    if not any(_value(row, c) for c in row):
        return None
    chain_text = _value(row, "chain").lower()

    def bad(reason: str, message: str) -> None:
        if not skip_invalid:
            raise InvalidInput(message)
        parsed.skip(reason, message)

    if chain_text not in CHAINS:
        bad("unknown_chain", f"{where}: unknown chain {chain_text!r} (use {', '.join(CHAINS)})")
        return None
    address = address_or_none(chain_text, _value(row, "address"))
    if address is None:
        bad("invalid_address", f"{where}: {_value(row, 'address')!r} is not a {chain_text} address")
        return None
    category = parse_category(_value(row, "category"))
    if category is None:
        bad("unknown_category", f"{where}: unknown category {_value(row, 'category')!r}")
        return None
    tlp = None
    if _value(row, "tlp"):
        tlp = Tlp.parse(_value(row, "tlp"))
        if tlp is None:
            raise InvalidInput(f"{where}: unknown TLP {_value(row, 'tlp')!r}")
    scope_text = _value(row, "scope").lower() or Scope.ADDRESS.value
    if scope_text not in {s.value for s in Scope}:
        raise InvalidInput(f"{where}: scope must be address or entity, not {scope_text!r}")
    scope = Scope(scope_text)
    score, level = confidence_of(_value(row, "confidence") or None, where)
    actor = _value(row, "actor") or None
    label = _value(row, "label") or actor or category.value
    details = {k: v.strip() for k, v in row.items() if k not in KNOWN and isinstance(v, str) and v}
    if _value(row, "source_note"):
        details["source_note"] = _value(row, "source_note")
    return LabelDraft(
        key=f"{chain_text}:{address}:{scope}:{category}:{actor or ''}",
        chain=chain_text,
        address=address,
        category=category,
        label=label,
        scope=scope,
        actor=actor,
        confidence=score,
        confidence_name=level,
        tlp=tlp,
        source_uri=_value(row, "source_uri") or None,
        first_seen=as_datetime(_value(row, "first_seen"), where),
        last_seen=as_datetime(_value(row, "last_seen"), where),
        details=details,
    )

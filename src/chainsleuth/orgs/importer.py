"""Reading an agency registry from CSV: the world generator's ``agencies/agencies.csv``.

Columns: ``agency_id`` (kept as the external id), ``name``, ``country``, ``email_domain`` or
``email_domains`` (several separated by spaces or ``;``), ``kind``; optional
``jurisdiction_level`` and ``callback_phone``. Without a jurisdiction level, an agency of
kind ``international`` is supranational and every other one national.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from pydantic import ValidationError

from chainsleuth.core.errors import InvalidInput
from chainsleuth.orgs.enums import JurisdictionLevel
from chainsleuth.orgs.schemas import AgencyCreate

REQUIRED = ("name", "country")
MAX_ROWS = 100_000


def agencies_csv(path: Path) -> Path:
    """The CSV file: ``path`` itself, or ``agencies.csv`` in it or in its ``agencies/``."""
    if path.is_file():
        return path
    for candidate in (path / "agencies.csv", path / "agencies" / "agencies.csv"):
        if candidate.is_file():
            return candidate
    raise InvalidInput(f"no agencies.csv in {path}")


def read_agencies(path: Path) -> list[AgencyCreate]:
    """Every row as a validated AgencyCreate; the first bad row stops it with its line."""
    file = agencies_csv(path)
    try:
        with file.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = set(reader.fieldnames or ())
            missing = [c for c in REQUIRED if c not in columns]
            if "email_domain" not in columns and "email_domains" not in columns:
                missing.append("email_domain")
            if missing:
                raise InvalidInput(f"{file.name}: missing column(s) {', '.join(missing)}")
            rows: list[AgencyCreate] = []
            for line, raw in enumerate(reader, start=2):
                if len(rows) >= MAX_ROWS:
                    raise InvalidInput(f"{file.name}: more than {MAX_ROWS} rows")
                rows.append(_row(file.name, line, raw))
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{file.name} is not UTF-8 text") from exc
    except csv.Error as exc:
        raise InvalidInput(f"{file.name}: not a valid CSV file ({exc})") from exc
    names = [r.name for r in rows]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidInput(f"{file.name}: the agency {dupes[0]!r} appears twice")
    return rows


def _row(filename: str, line: int, raw: dict[str, str | None]) -> AgencyCreate:
    def get(key: str) -> str:
        return (raw.get(key) or "").strip()

    domains = re.split(r"[\s;,]+", get("email_domains") or get("email_domain"))
    kind = get("kind") or None
    level = get("jurisdiction_level") or (
        JurisdictionLevel.SUPRANATIONAL if kind == "international" else JurisdictionLevel.NATIONAL
    )
    fields: dict[str, object] = {
        "name": get("name"),
        "country": get("country"),
        "email_domains": [d for d in domains if d],
        "jurisdiction_level": level,
        "kind": kind,
        "external_id": get("agency_id") or None,
    }
    if get("callback_phone"):
        fields["callback_phone"] = get("callback_phone")
    try:
        return AgencyCreate.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "row"
        raise InvalidInput(f"{filename} line {line}: {field}: {err['msg']}") from exc

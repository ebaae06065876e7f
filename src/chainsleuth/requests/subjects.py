"""Subjects of a request: parsed from text (one per line) or a CSV/XLSX file, canonicalised.

A line is ``kind: value`` (``email: a@b.org``, ``btc: bc1...``, ``eth-tx: 0x...``,
``name: Jane Doe, 1980-02-03``) or a bare value whose kind is recognised (an e-mail, a phone
number, an account or customer id, an address or a transaction hash). A file has a header
row with ``kind`` (or ``type``) and ``value`` and optionally ``chain``, ``date_of_birth``,
``from`` and ``until``. Every row is checked; one bad row refuses the whole list, naming
each bad row (``SubjectsInvalid``, HTTP 422).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from chainsleuth.chain.addresses import canonical_address, canonical_hash
from chainsleuth.core.errors import InvalidInput
from chainsleuth.requests.enums import SubjectKind

MAX_SUBJECTS = 1000
MAX_VALUE = 300

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{5,24}$")
_ACCOUNT = re.compile(r"^C\d{9}-[A-Z0-9]{2,10}$")
_CUSTOMER = re.compile(r"^C\d{9}$")
_ETH_ADDR = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEX64 = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_NAME_DOB = re.compile(r"^(?P<name>[^,;]+)[,;]\s*(?P<dob>\d{4}-\d{2}-\d{2})$")

#: prefixes of a text line and names of the ``kind`` column (with the world's own)
_ALIASES: dict[str, tuple[SubjectKind, str | None]] = {
    "account": (SubjectKind.ACCOUNT_ID, None),
    "account_id": (SubjectKind.ACCOUNT_ID, None),
    "customer": (SubjectKind.CUSTOMER_ID, None),
    "customer_id": (SubjectKind.CUSTOMER_ID, None),
    "email": (SubjectKind.EMAIL, None),
    "e-mail": (SubjectKind.EMAIL, None),
    "phone": (SubjectKind.PHONE, None),
    "name": (SubjectKind.NAME_DOB, None),
    "name_dob": (SubjectKind.NAME_DOB, None),
    "address": (SubjectKind.ADDRESS, None),
    "btc": (SubjectKind.ADDRESS, "btc"),
    "eth": (SubjectKind.ADDRESS, "eth"),
    "tx": (SubjectKind.TX_HASH, None),
    "tx_hash": (SubjectKind.TX_HASH, None),
    "transaction": (SubjectKind.TX_HASH, None),
    "btc-tx": (SubjectKind.TX_HASH, "btc"),
    "eth-tx": (SubjectKind.TX_HASH, "eth"),
}
_CHAINS = ("btc", "eth")


@dataclass(frozen=True)
class Subject:
    kind: SubjectKind
    value: str
    chain: str | None = None
    date_of_birth: str | None = None
    time_from: datetime | None = None
    time_until: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}|{self.chain or ''}|{self.value}|{self.date_of_birth or ''}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "value": self.value,
            "chain": self.chain,
            "date_of_birth": self.date_of_birth,
        }


class SubjectsInvalid(InvalidInput):
    """Some subject rows are malformed; ``rows`` names each (row number, value, reason)."""

    code = "invalid_subjects"

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        shown = "; ".join(f"row {r['row']}: {r['reason']}" for r in rows[:5])
        more = f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
        super().__init__(f"{len(rows)} malformed subject row(s): {shown}{more}")
        self.rows = rows


def digest(subjects: list[Subject]) -> str:
    """The same set of subjects gives the same digest, whatever their order."""
    keys = sorted({s.key for s in subjects})
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def _guess(value: str) -> tuple[SubjectKind, str | None]:
    if _EMAIL.match(value):
        return SubjectKind.EMAIL, None
    if _ACCOUNT.match(value.upper()):
        return SubjectKind.ACCOUNT_ID, None
    if _CUSTOMER.match(value.upper()):
        return SubjectKind.CUSTOMER_ID, None
    if _ETH_ADDR.match(value):
        return SubjectKind.ADDRESS, "eth"
    if _HEX64.match(value):
        return SubjectKind.TX_HASH, "eth" if value[:2].lower() == "0x" else "btc"
    if _NAME_DOB.match(value):
        return SubjectKind.NAME_DOB, None
    if _PHONE.match(value) and sum(c.isdigit() for c in value) >= 6:
        return SubjectKind.PHONE, None
    if value[:1] in "13bB" and 25 <= len(value) <= 90 and value.isalnum():
        return SubjectKind.ADDRESS, "btc"
    raise InvalidInput(f"cannot tell what {value[:60]!r} is: write 'kind: value'")


def _chain_for(value: str, chain: str | None) -> str:
    if chain:
        if chain not in _CHAINS:
            raise InvalidInput(f"unknown chain {chain!r} (btc or eth)")
        return chain
    return "eth" if value[:2].lower() == "0x" else "btc"


def _dob(text: str) -> str:
    try:
        born = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not a date of birth (YYYY-MM-DD)") from exc
    if born > date.today() or born.year < 1900:
        raise InvalidInput(f"{text!r} is not a plausible date of birth")
    return born.isoformat()


def canonical(
    kind: SubjectKind,
    value: str,
    *,
    chain: str | None = None,
    date_of_birth: str | None = None,
    time_from: datetime | None = None,
    time_until: datetime | None = None,
) -> Subject:
    """One subject in its stored form; raises InvalidInput with the reason."""
    text = value.strip()
    if not text:
        raise InvalidInput("empty value")
    if len(text) > MAX_VALUE:
        raise InvalidInput(f"value longer than {MAX_VALUE} characters")
    chain = chain.strip().lower() if chain else None
    dob: str | None = None
    if kind is SubjectKind.EMAIL:
        if not _EMAIL.match(text):
            raise InvalidInput(f"{text!r} is not an e-mail address")
        text, chain = text.lower(), None
    elif kind is SubjectKind.PHONE:
        if not _PHONE.match(text) or sum(c.isdigit() for c in text) < 6:
            raise InvalidInput(f"{text!r} is not a phone number")
        text = ("+" if text.startswith("+") else "") + "".join(c for c in text if c.isdigit())
        chain = None
    elif kind is SubjectKind.ACCOUNT_ID:
        if not _ACCOUNT.match(text.upper()):
            raise InvalidInput(f"{text!r} is not an account id (C and nine digits, -ASSET)")
        text, chain = text.upper(), None
    elif kind is SubjectKind.CUSTOMER_ID:
        if not _CUSTOMER.match(text.upper()):
            raise InvalidInput(f"{text!r} is not a customer id (C and nine digits)")
        text, chain = text.upper(), None
    elif kind is SubjectKind.NAME_DOB:
        if date_of_birth:
            name, dob = text, _dob(date_of_birth)
        else:
            match = _NAME_DOB.match(text)
            if not match:
                raise InvalidInput(
                    f"{text!r}: give a name and a date of birth ('Name, YYYY-MM-DD')"
                )
            name, dob = match.group("name"), _dob(match.group("dob"))
        text, chain = " ".join(name.split()), None
        if len(text) < 2:
            raise InvalidInput("the name is too short")
    elif kind is SubjectKind.ADDRESS:
        chain = _chain_for(text, chain)
        text = canonical_address(chain, text)
    elif kind is SubjectKind.TX_HASH:
        chain = _chain_for(text, chain)
        text = canonical_hash(chain, text)
    if time_from and time_until and time_from > time_until:
        raise InvalidInput("the time range ends before it starts")
    return Subject(kind, text, chain, dob, time_from, time_until)


def _row(
    raw_kind: str | None,
    value: str,
    *,
    chain: str | None,
    dob: str | None,
    time_from: datetime | None,
    time_until: datetime | None,
) -> Subject:
    if raw_kind:
        alias = _ALIASES.get(raw_kind.strip().lower())
        if alias is None:
            raise InvalidInput(f"unknown subject kind {raw_kind.strip()[:40]!r}")
        kind, implied = alias
        if kind is SubjectKind.TX_HASH and not (chain or implied):
            implied = "eth" if value.strip()[:2].lower() == "0x" else "btc"
    else:
        kind, implied = _guess(value.strip())
    return canonical(
        kind,
        value,
        chain=chain or implied,
        date_of_birth=dob,
        time_from=time_from,
        time_until=time_until,
    )


def _collect(
    rows: list[tuple[int, str | None, str, str | None, str | None, Any, Any]],
    *,
    time_from: datetime | None,
    time_until: datetime | None,
) -> list[Subject]:
    subjects: list[Subject] = []
    bad: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, kind, value, chain, dob, row_from, row_until in rows:
        try:
            subject = _row(
                kind,
                value,
                chain=chain,
                dob=dob,
                time_from=_time(row_from) or time_from,
                time_until=_time(row_until) or time_until,
            )
        except InvalidInput as exc:
            bad.append({"row": number, "value": value[:100], "reason": exc.message})
            continue
        if subject.key not in seen:
            seen.add(subject.key)
            subjects.append(subject)
    if bad:
        raise SubjectsInvalid(bad)
    if len(subjects) > MAX_SUBJECTS:
        raise InvalidInput(f"at most {MAX_SUBJECTS} subjects per request")
    return subjects


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InvalidInput(f"{value!r} is not a date or time (ISO 8601)") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_text(
    text: str, *, time_from: datetime | None = None, time_until: datetime | None = None
) -> list[Subject]:
    """Subjects from text, one per line (blank lines and ``#`` comments skipped)."""
    rows: list[tuple[int, str | None, str, str | None, str | None, Any, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        kind: str | None = None
        head, sep, rest = stripped.partition(":")
        if sep and head.strip().lower() in _ALIASES:
            kind, stripped = head.strip(), rest.strip()
        rows.append((number, kind, stripped, None, None, None, None))
    return _collect(rows, time_from=time_from, time_until=time_until)


_COLUMNS = {
    "kind": "kind",
    "type": "kind",
    "value": "value",
    "chain": "chain",
    "date_of_birth": "dob",
    "dob": "dob",
    "from": "from",
    "time_from": "from",
    "until": "until",
    "time_until": "until",
}


def _table(
    records: list[tuple[int, list[Any]]],
    *,
    what: str,
    time_from: datetime | None,
    time_until: datetime | None,
) -> list[Subject]:
    if not records:
        raise InvalidInput(f"the {what} file is empty")
    header_no, header = records[0]
    names = [_COLUMNS.get(str(h or "").strip().lower()) for h in header]
    if "value" not in names:
        raise SubjectsInvalid(
            [{"row": header_no, "value": "", "reason": "the header row has no 'value' column"}]
        )
    rows: list[tuple[int, str | None, str, str | None, str | None, Any, Any]] = []
    for number, cells in records[1:]:
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        got = {n: cells[i] for i, n in enumerate(names) if n and i < len(cells)}

        def text(key: str, got: dict[str, Any] = got) -> str | None:
            value = got.get(key)
            if value is None or str(value).strip() == "":
                return None
            if isinstance(value, datetime | date):
                return value.isoformat()[:10]
            return str(value).strip()

        rows.append(
            (
                number,
                text("kind"),
                text("value") or "",
                text("chain"),
                text("dob"),
                got.get("from"),
                got.get("until"),
            )
        )
    return _collect(rows, time_from=time_from, time_until=time_until)


def parse_csv(
    data: bytes, *, time_from: datetime | None = None, time_until: datetime | None = None
) -> list[Subject]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the CSV file is not UTF-8 text") from exc
    if "\x00" in text:
        raise InvalidInput("the CSV file is not text")
    try:
        reader = csv.reader(io.StringIO(text))
        records = [(i, row) for i, row in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise InvalidInput(f"the CSV file cannot be read: {exc}") from exc
    return _table(records, what="CSV", time_from=time_from, time_until=time_until)


def parse_xlsx(
    data: bytes, *, time_from: datetime | None = None, time_until: datetime | None = None
) -> list[Subject]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidInput("the XLSX file cannot be read: it is not an Excel workbook") from exc
    try:
        sheet = book.worksheets[0]
        records: list[tuple[int, list[Any]]] = []
        for i, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if any(c is not None for c in row):
                records.append((i, list(row)))
            if len(records) > MAX_SUBJECTS + 1:
                raise InvalidInput(f"at most {MAX_SUBJECTS} subjects per request")
    finally:
        book.close()
    return _table(records, what="XLSX", time_from=time_from, time_until=time_until)


def parse_file(
    filename: str,
    data: bytes,
    *,
    time_from: datetime | None = None,
    time_until: datetime | None = None,
) -> list[Subject]:
    """Subjects from an uploaded CSV or XLSX (told apart by content, then by name)."""
    name = filename.lower()
    if data[:4] == b"PK\x03\x04" or name.endswith(".xlsx"):
        return parse_xlsx(data, time_from=time_from, time_until=time_until)
    if name.endswith((".csv", ".txt")) or not name:
        return parse_csv(data, time_from=time_from, time_until=time_until)
    raise InvalidInput("the subjects file must be a CSV or an XLSX workbook")

"""The rules an alert's content follows: known values, canonical subjects, reasons, the
deduplication key and how a repeat's details merge into the alert's."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from chainsleuth.alerts.enums import AlertSource, AlertStatus, Disposition, Severity, SubjectType
from chainsleuth.audit.service import canonical_json
from chainsleuth.chain.addresses import canonical_address, canonical_hash
from chainsleuth.core.errors import InvalidInput
from chainsleuth.core.models import MAX_ROW_ID

MAX_REASONS = 50
MAX_REASON_LENGTH = 1000
MAX_NOTE_LENGTH = 10_000
MAX_DETAILS_BYTES = 64 * 1024
#: entries of a list in an alert's details kept over its repeats
MAX_LISTED = 100


def _choice(enum: Any, value: str, what: str) -> Any:
    try:
        return enum(value.strip().lower())
    except (ValueError, AttributeError):
        known = ", ".join(m.value for m in enum)
        raise InvalidInput(f"unknown {what} {value!r}: use one of {known}") from None


def parse_severity(value: str) -> Severity:
    result: Severity = _choice(Severity, value, "severity")
    return result


def parse_status(value: str) -> AlertStatus:
    result: AlertStatus = _choice(AlertStatus, value, "status")
    return result


def parse_disposition(value: str) -> Disposition:
    result: Disposition = _choice(Disposition, value, "disposition")
    return result


def parse_source(value: str) -> AlertSource:
    result: AlertSource = _choice(AlertSource, value, "source")
    return result


def canonical_subject(subject_type: SubjectType, subject: str, chain: str | None) -> str:
    """Addresses and transfers (tx hashes) canonical for their chain; other ids trimmed."""
    text = subject.strip()
    if not text:
        raise InvalidInput("an alert needs a subject")
    if len(text) > 200:
        raise InvalidInput("the subject is longer than 200 characters")
    if chain is None:
        if subject_type in (SubjectType.ADDRESS, SubjectType.TRANSFER, SubjectType.ENTITY):
            raise InvalidInput(f"an alert on an {subject_type.value} needs its chain")
        return text
    if subject_type is SubjectType.ADDRESS:
        return canonical_address(chain, text)
    if subject_type is SubjectType.TRANSFER:
        return canonical_hash(chain, text)
    if subject_type is SubjectType.ENTITY:
        if not text.isdigit() or int(text) > MAX_ROW_ID:
            raise InvalidInput(f"{subject!r} is not an entity id")
        return str(int(text))
    return text


def _clean_reasons(reasons: Sequence[str]) -> list[str]:
    cleaned = []
    for reason in reasons:
        if not isinstance(reason, str):
            raise InvalidInput("each reason must be text")
        text = " ".join(reason.split())
        if text and text not in cleaned:
            cleaned.append(text)
    if not cleaned:
        raise InvalidInput("an alert needs at least one reason")
    if len(cleaned) > MAX_REASONS:
        raise InvalidInput(f"an alert has at most {MAX_REASONS} reasons")
    if any(len(r) > MAX_REASON_LENGTH for r in cleaned):
        raise InvalidInput(f"a reason is longer than {MAX_REASON_LENGTH} characters")
    return cleaned


def dedup_key(
    *, subject_type: str, subject: str, chain: str | None, source: str, reasons: Sequence[str]
) -> str:
    """What makes two alerts the same: subject, chain, source and the set of reasons."""
    content = canonical_json([subject_type, subject, chain, source, sorted(set(reasons))])
    return hashlib.sha256(content.encode()).hexdigest()


def merge_details(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A repeat's details over the alert's: lists accumulate (the last ``MAX_LISTED``
    entries kept), everything else takes the newer value."""
    merged = dict(old)
    for key, value in new.items():
        before = merged.get(key)
        if isinstance(value, list) and isinstance(before, list):
            merged[key] = (before + [v for v in value if v not in before])[-MAX_LISTED:]
        else:
            merged[key] = value
    return merged

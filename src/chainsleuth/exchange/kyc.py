"""KYC personal data at rest: encryption, keyed blind indexes, masking.

* The record is one JSON object encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a
  key derived from the secret key (HKDF, purpose ``exchange-kyc:v<N>``). The row keeps the
  key version, so that a new version can be introduced and rows re-encrypted over time.
* Exact-match search works without decrypting: each searchable detail is normalised and
  stored as HMAC-SHA256 under another derived key (purpose ``exchange-kyc-index:v1``). The
  digests reveal nothing without the secret key and cannot be brute-forced offline.
* ``masked`` values (initials, the e-mail's domain, the last digits of a phone) are what
  every reader with ``exchange:read`` sees; the full record needs ``kyc:reveal`` and each
  reveal is audited (``chainsleuth.exchange.service.reveal_kyc``).

Normalisation (the same for stored values and queries): e-mail trimmed and lower-cased;
phone: the last 8 digits once an extension (``x123``), a ``(0)`` trunk marker and every
non-digit are dropped (robust to how the country code and trunk prefix are written); names
split into tokens, accents dropped, case-folded (each token one index row, a query matches
when all its tokens do); dates of birth ISO; document numbers upper-case alphanumerics.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chainsleuth.core.config import Settings
from chainsleuth.core.crypto import FieldCipher
from chainsleuth.core.errors import IntegrityViolation
from chainsleuth.exchange.enums import IndexField

#: the key version new records are encrypted with
KEY_VERSION = 1
INDEX_PURPOSE = "exchange-kyc-index:v1"
PHONE_DIGITS = 8
MIN_PHONE_DIGITS = 6
MASK = "•••"

#: the fields of the encrypted record, in display order
KYC_FIELDS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "nationality",
    "country_of_residence",
    "address_line",
    "city",
    "postal_code",
    "email",
    "phone",
    "occupation",
    "document_type",
    "document_number",
    "document_country",
    "document_expiry",
)

_TOKEN = re.compile(r"\w+", re.UNICODE)
_EXTENSION = re.compile(r"\s*(?:x|ext\.?|#)\s*\d+\s*$", re.IGNORECASE)


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_tokens(*parts: str | None) -> list[str]:
    """Normalised tokens of a name, without duplicates, in order."""
    out: list[str] = []
    for part in parts:
        for tok in _TOKEN.findall(_strip_accents(part or "").casefold()):
            tok = tok.replace("_", "")
            if tok and tok not in out:
                out.append(tok)
    return out


def norm_email(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    return text if "@" in text else None


def norm_phone(value: str | None) -> str | None:
    text = _EXTENSION.sub("", (value or "").strip()).replace("(0)", "")
    digits = re.sub(r"\D", "", text)
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    return digits[-PHONE_DIGITS:]


def norm_document(value: str | None) -> str | None:
    text = re.sub(r"[^0-9A-Za-z]", "", value or "").upper()
    return text or None


def norm_date(value: date | str | None) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        return None


def index_values(record: dict[str, Any]) -> list[tuple[IndexField, str]]:
    """The normalised searchable details of a KYC record."""
    out: list[tuple[IndexField, str]] = [
        (IndexField.NAME, t) for t in name_tokens(record.get("first_name"), record.get("last_name"))
    ]
    for field, value in (
        (IndexField.DATE_OF_BIRTH, norm_date(record.get("date_of_birth"))),
        (IndexField.EMAIL, norm_email(record.get("email"))),
        (IndexField.PHONE, norm_phone(record.get("phone"))),
        (IndexField.DOCUMENT, norm_document(record.get("document_number"))),
    ):
        if value:
            out.append((field, value))
    return out


def _mask_word(word: str) -> str:
    return word[:1] + MASK if word else ""


def mask(record: dict[str, Any]) -> dict[str, str | None]:
    """What a reader without ``kyc:reveal`` sees."""
    first, last = record.get("first_name") or "", record.get("last_name") or ""
    name = " ".join(_mask_word(w) for w in f"{first} {last}".split())
    email = record.get("email") or ""
    local, _, domain = email.partition("@")
    phone = re.sub(r"\D", "", record.get("phone") or "")
    doc = record.get("document_number") or ""
    return {
        "name": name or None,
        "email": f"{_mask_word(local)}@{domain}" if domain else None,
        "phone": f"{MASK}{phone[-2:]}" if phone else None,
        "date_of_birth": "••••-••-••" if record.get("date_of_birth") else None,
        "document": f"{record.get('document_type') or 'document'} {MASK}{doc[-2:]}"
        if doc
        else None,
        "address": MASK if record.get("address_line") else None,
    }


class KycKeys:
    """The keys of the KYC records, derived once from the secret key."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._ciphers: dict[int, FieldCipher] = {}
        self._index_key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=f"chainsleuth:{INDEX_PURPOSE}".encode(),
        ).derive(secret)

    @classmethod
    def from_settings(cls, settings: Settings) -> KycKeys:
        return cls(settings.secret)

    def cipher(self, version: int) -> FieldCipher:
        if version not in self._ciphers:
            self._ciphers[version] = FieldCipher(self._secret, f"exchange-kyc:v{version}")
        return self._ciphers[version]

    def encrypt(self, record: dict[str, Any]) -> tuple[str, int]:
        text = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return self.cipher(KEY_VERSION).encrypt(text), KEY_VERSION

    def decrypt(self, token: str, version: int) -> dict[str, Any]:
        record = json.loads(self.cipher(version).decrypt(token))
        if not isinstance(record, dict):  # pragma: no cover - we only ever write objects
            raise IntegrityViolation("an encrypted KYC record is not an object")
        return record

    def digest(self, field: IndexField | str, value: str) -> str:
        return hmac.new(self._index_key, f"{field}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def digests(self, record: dict[str, Any]) -> list[tuple[str, str]]:
        return [(str(f), self.digest(f, v)) for f, v in index_values(record)]

    def row_digest(self, values: Iterable[Any]) -> str:
        """A keyed hash of an imported row (tells an unchanged record without decrypting)."""
        text = json.dumps(list(values), default=str, ensure_ascii=False)
        return self.digest("row", text)

"""What every importer produces, and the helpers they share (currencies, addresses, dates)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from chainsleuth.chain.addresses import canonical_address
from chainsleuth.core.errors import InvalidInput
from chainsleuth.labels.enums import (
    CONFIDENCE_LEVELS,
    DEFAULT_CONFIDENCE,
    Category,
    ImportFormat,
    Scope,
    Tlp,
)

#: how many example messages an import keeps per reason
MAX_MESSAGES = 5
#: ERC-20 tokens whose 0x addresses are Ethereum addresses
ERC20 = frozenset({"USDT", "USDC", "WETH", "DAI", "BUSD", "TUSD", "PAX", "USDP"})


@dataclass
class LabelDraft:
    """One label as a file states it, canonicalised, before it meets the database."""

    key: str
    chain: str
    address: str
    category: Category
    label: str
    scope: Scope = Scope.ADDRESS
    actor: str | None = None  # an ActorPack id
    confidence: int = CONFIDENCE_LEVELS[DEFAULT_CONFIDENCE].score
    confidence_name: str | None = DEFAULT_CONFIDENCE
    tlp: Tlp | None = None  # None: the import's default
    source_uri: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ActorDraft:
    ext_id: str
    name: str
    categories: list[str] = field(default_factory=list)
    jurisdictions: list[str] = field(default_factory=list)
    uri: str | None = None
    aliases: list[str] = field(default_factory=list)
    context: dict[str, Any] | None = None


@dataclass
class Parsed:
    """A parsed file: its own description, its drafts, and what was skipped (by reason)."""

    format: ImportFormat
    default_name: str
    default_tlp: Tlp
    title: str | None = None
    uri: str | None = None
    version: str | None = None
    labels: list[LabelDraft] = field(default_factory=list)
    actors: list[ActorDraft] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    messages: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, reason: str, message: str) -> None:
        self.skipped[reason] += 1
        kept = self.messages.setdefault(reason, [])
        if len(kept) < MAX_MESSAGES:
            kept.append(message)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def chain_for(currency: str, address: str, network: str | None = None) -> str | None:
    """The chain of an address named with a currency code (and a network); None: unsupported.

    XBT/BTC -> btc, ETH -> eth, ERC-20 tokens (USDT, USDC, ...) with a ``0x`` address -> eth;
    USDT on Tron or Omni, and every other currency, are not chains chainsleuth stores."""
    cur = currency.strip().upper()
    net = (network or "").strip().upper()
    if net:
        if net in ("BTC", "XBT") and cur in ("BTC", "XBT"):
            return "btc"
        if net == "ETH":
            return "eth"
        return None
    if cur in ("BTC", "XBT"):
        return "btc"
    if cur == "ETH":
        return "eth"
    if cur in ERC20 and address.strip().lower().startswith("0x"):
        return "eth"
    return None


def address_or_none(chain: str, text: str) -> str | None:
    try:
        return canonical_address(chain, text)
    except InvalidInput:
        return None


def decode_text(data: bytes, what: str) -> str:
    """UTF-8 (with or without BOM), else Windows-1252 as OFAC's older files are."""
    if b"\x00" in data[:4096]:
        raise InvalidInput(f"{what} is a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="strict")


def as_datetime(value: Any, what: str) -> datetime | None:
    """A date or timestamp from a file, as UTC midnight / UTC; InvalidInput when unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{what}: {text!r} is not a date (use YYYY-MM-DD)") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def confidence_of(value: Any, what: str) -> tuple[int, str | None]:
    """A TagPack confidence level name, or a number 0-100, as (score, name)."""
    if value is None or value == "":
        level = CONFIDENCE_LEVELS[DEFAULT_CONFIDENCE]
        return level.score, level.name
    text = str(value).strip()
    if text.lower() in CONFIDENCE_LEVELS:
        level = CONFIDENCE_LEVELS[text.lower()]
        return level.score, level.name
    try:
        number = int(text)
    except ValueError:
        known = ", ".join(CONFIDENCE_LEVELS)
        raise InvalidInput(
            f"{what}: unknown confidence {text!r} (a number 0-100 or one of {known})"
        ) from None
    if not 0 <= number <= 100:
        raise InvalidInput(f"{what}: confidence {number} is not between 0 and 100")
    names = [c.name for c in CONFIDENCE_LEVELS.values() if c.score == number]
    return number, (names[0] if len(names) == 1 else None)


def jsonable(value: Any) -> Any:
    """A value from YAML (dates included) as plain JSON types."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)

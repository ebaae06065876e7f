"""Machine values of the entities domain: the heuristics and their codes in stored evidence."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from chainsleuth.core.errors import InvalidInput


class Heuristic(StrEnum):
    """A reason to merge two addresses into one entity."""

    MULTI_INPUT = "multi-input"  # inputs of one transaction have one owner
    CHANGE_FRESH = "change-fresh"  # one-time change: the only never-seen output
    CHANGE_SCRIPT = "change-script"  # the only output of the inputs' script type
    CHANGE_ROUND = "change-round"  # the only non-round output beside round payments
    CHANGE_REUSE = "change-reuse"  # an output back to an input address: change known
    DEPOSIT = "eth-deposit"  # senders to one exchange deposit address (Victor 2020)
    DEPOSIT_SWEEP = "eth-deposit-sweep"  # a deposit address and the hot wallet it feeds


class Code(IntEnum):
    """``heuristic`` column of the stored evidence (int8)."""

    MULTI_INPUT = 1
    CHANGE_FRESH = 2
    CHANGE_SCRIPT = 3
    CHANGE_ROUND = 4
    CHANGE_REUSE = 5
    DEPOSIT = 6
    DEPOSIT_SWEEP = 7


CODE: dict[Heuristic, Code] = {h: Code[h.name] for h in Heuristic}
BY_CODE: dict[int, Heuristic] = {int(c): h for h, c in CODE.items()}

#: how far a link made by each heuristic is trusted (0..1), shown beside the evidence
CONFIDENCE: dict[Heuristic, float] = {
    Heuristic.MULTI_INPUT: 0.95,
    Heuristic.CHANGE_FRESH: 0.6,
    Heuristic.CHANGE_SCRIPT: 0.7,
    Heuristic.CHANGE_ROUND: 0.5,
    Heuristic.CHANGE_REUSE: 0.8,
    Heuristic.DEPOSIT: 0.8,
    Heuristic.DEPOSIT_SWEEP: 0.85,
}

CHANGE = (
    Heuristic.CHANGE_FRESH,
    Heuristic.CHANGE_SCRIPT,
    Heuristic.CHANGE_ROUND,
    Heuristic.CHANGE_REUSE,
)
UTXO_HEURISTICS = (Heuristic.MULTI_INPUT, *CHANGE)
ACCOUNT_HEURISTICS = (Heuristic.DEPOSIT, Heuristic.DEPOSIT_SWEEP)

#: what ``chainsleuth entities build`` runs when not told otherwise
DEFAULT: dict[str, tuple[Heuristic, ...]] = {
    "utxo": (Heuristic.MULTI_INPUT,),
    "account": (Heuristic.DEPOSIT, Heuristic.DEPOSIT_SWEEP),
}


def parse_heuristics(text: str | None, kind: str) -> tuple[Heuristic, ...]:
    """``"multi-input,change-fresh"`` -> the heuristics of that kind of chain, in order.

    ``None`` or ``"default"`` gives the default set; names of the other kind of chain are
    ignored (so one list serves ``--chain all``); an unknown name is bad input."""
    if text is None or text.strip().lower() in ("", "default"):
        return DEFAULT[kind]
    wanted: list[Heuristic] = []
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name == "change":
            wanted.extend(CHANGE)
            continue
        try:
            wanted.append(Heuristic(name))
        except ValueError:
            known = ", ".join(h.value for h in Heuristic)
            raise InvalidInput(
                f"unknown heuristic {raw.strip()!r}: use some of {known} (or 'change')"
            ) from None
    allowed = UTXO_HEURISTICS if kind == "utxo" else ACCOUNT_HEURISTICS
    chosen = tuple(h for h in allowed if h in wanted)
    return chosen

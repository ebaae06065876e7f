"""OFAC's ``SDN_ADVANCED.XML``: the digital-currency addresses of every sanctioned party.

Parsed with defusedxml and no DTD allowed at all: no external entities, no entity
expansion (billion laughs), no network. Each ``DistinctParty``'s ``Feature`` whose type is
"Digital Currency Address - <CUR>" holds one or more addresses (OFAC puts two in one field
now and then, with padding, and sometimes a note instead of an address). An address listed
under two parties gets one label per party. Currencies chainsleuth does not store are
counted and skipped.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml  # type: ignore[import-untyped]
import defusedxml.ElementTree as safe_et  # type: ignore[import-untyped]

from chainsleuth.core.errors import InvalidInput
from chainsleuth.labels.enums import CONFIDENCE_LEVELS, Category, ImportFormat, Tlp
from chainsleuth.labels.importers.common import (
    ActorDraft,
    LabelDraft,
    Parsed,
    address_or_none,
    chain_for,
)

FEATURE = re.compile(r"^\s*Digital Currency Address\s*-\s*([A-Za-z0-9]+)\s*$")
SEPARATORS = re.compile(r"[\s,;]+")
LATIN_SCRIPT = "215"
DETAILS_URL = "https://sanctionssearch.ofac.treas.gov/Details.aspx?id={}"
DEFAULT_NAME = "ofac-sdn"


def parse_xml_safely(data: bytes, what: str) -> Element:
    """The document's root; InvalidInput for broken XML and for any DTD or entity."""
    try:
        root: Element = safe_et.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise InvalidInput(
            f"{what} declares a DTD or entities, which are refused (possible XXE or entity "
            f"expansion attack): {type(exc).__name__}"
        ) from exc
    except ParseError as exc:
        raise InvalidInput(f"{what} is not well-formed XML: {exc}") from exc
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(node: Element, name: str) -> list[Element]:
    return [c for c in node if _local(c.tag) == name]


def _descendants(node: Element, name: str) -> list[Element]:
    return [c for c in node.iter() if _local(c.tag) == name]


def _first(node: Element, name: str) -> Element | None:
    return next((c for c in node.iter() if _local(c.tag) == name), None)


def _names(profile: Element) -> tuple[str, list[str]]:
    """The party's primary Latin-script name and its other names (aliases, other scripts)."""
    primary: str | None = None
    others: list[str] = []
    for identity in _descendants(profile, "Identity"):
        for alias in _children(identity, "Alias"):
            is_primary = alias.get("Primary") == "true"
            for doc_name in _children(alias, "DocumentedName"):
                parts = [
                    (v.text or "").strip()
                    for v in _descendants(doc_name, "NamePartValue")
                    if (v.text or "").strip()
                ]
                if not parts:
                    continue
                latin = all(
                    v.get("ScriptID", LATIN_SCRIPT) == LATIN_SCRIPT
                    for v in _descendants(doc_name, "NamePartValue")
                )
                text = " ".join(parts)
                if primary is None and is_primary and latin:
                    primary = text
                elif text not in others:
                    others.append(text)
    if primary is None:
        primary = others.pop(0) if others else "unnamed party"
    return primary, [o for o in others if o != primary]


def _programs(root: Element) -> dict[str, list[str]]:
    """Profile id -> sanctions programmes (the measures' comments, e.g. CYBER2)."""
    out: dict[str, list[str]] = {}
    for entry in _descendants(root, "SanctionsEntry"):
        profile = entry.get("ProfileID")
        if profile is None:
            continue
        programs = out.setdefault(profile, [])
        for measure in _children(entry, "SanctionsMeasure"):
            comment = _first(measure, "Comment")
            text = (comment.text or "").strip() if comment is not None else ""
            if text and text not in programs:
                programs.append(text)
    return out


def _date_of_issue(root: Element) -> str | None:
    node = next((c for c in root if _local(c.tag) == "DateOfIssue"), None)
    if node is None:
        return None
    parts = []
    for key in ("Year", "Month", "Day"):
        found = _first(node, key)
        text = (found.text or "").strip() if found is not None else ""
        if not text.isdigit():
            return None
        parts.append(int(text))
    y, m, d = parts
    return f"{y:04d}-{m:02d}-{d:02d}"


def parse_ofac_xml(data: bytes, *, file_name: str, skip_invalid: bool = False) -> Parsed:
    root = parse_xml_safely(data, file_name)
    if _local(root.tag) != "Sanctions" or _first(root, "DistinctParties") is None:
        raise InvalidInput(f"{file_name} is not an OFAC SDN_ADVANCED file (no Sanctions list)")
    currencies: dict[str, str] = {}
    for ft in _descendants(root, "FeatureType"):
        match = FEATURE.match(ft.text or "")
        if match and ft.get("ID"):
            currencies[str(ft.get("ID"))] = match.group(1).upper()
    version = _date_of_issue(root)
    parsed = Parsed(
        format=ImportFormat.OFAC_XML,
        default_name=DEFAULT_NAME,
        default_tlp=Tlp.CLEAR,
        title="OFAC Specially Designated Nationals (SDN_ADVANCED)",
        uri="https://sanctionslistservice.ofac.treas.gov/",
        version=version,
    )
    programs = _programs(root)
    level = CONFIDENCE_LEVELS["authority_data"]
    seen: set[str] = set()
    for party in _descendants(root, "DistinctParty"):
        fixed_ref = party.get("FixedRef") or "?"
        for profile in _children(party, "Profile"):
            name, aliases = _names(profile)
            profile_programs = programs.get(profile.get("ID") or "", [])
            actor_id = f"ofac-sdn:{fixed_ref}"
            labelled = False
            for feature in _children(profile, "Feature"):
                currency = currencies.get(feature.get("FeatureTypeID") or "")
                if currency is None:
                    continue
                for detail in _descendants(feature, "VersionDetail"):
                    drafts = _addresses(parsed, detail.text or "", currency, fixed_ref)
                    for chain, address in drafts:
                        key = f"{chain}:{address}:{fixed_ref}"
                        if key in seen:
                            parsed.skip("duplicate", f"party {fixed_ref}: {address} twice")
                            continue
                        seen.add(key)
                        labelled = True
                        parsed.labels.append(
                            LabelDraft(
                                key=key,
                                chain=chain,
                                address=address,
                                category=Category.SANCTIONED,
                                label=name,
                                actor=actor_id,
                                confidence=level.score,
                                confidence_name=level.name,
                                source_uri=DETAILS_URL.format(fixed_ref),
                                details=_details(currency, fixed_ref, profile_programs, aliases),
                            )
                        )
            if labelled:
                parsed.actors.append(
                    ActorDraft(
                        ext_id=actor_id,
                        name=name,
                        categories=["sanction"],
                        uri=DETAILS_URL.format(fixed_ref),
                        aliases=aliases,
                        context={"programs": profile_programs},
                    )
                )
    return parsed


def _details(currency: str, ref: str, programs: list[str], aliases: list[str]) -> dict[str, Any]:
    return {"currency": currency, "sdn_id": ref, "programs": programs, "aliases": aliases}


def _addresses(parsed: Parsed, text: str, currency: str, ref: str) -> list[tuple[str, str]]:
    """The addresses in one field: split on commas, semicolons and blanks; a note that holds
    no address at all is skipped once."""
    tokens = [t for t in SEPARATORS.split(text.strip()) if t]
    if not tokens:
        return []
    out: list[tuple[str, str]] = []
    bad: list[str] = []
    unsupported = 0
    for token in tokens:
        chain = chain_for(currency, token)
        if chain is None:
            unsupported += 1
            continue
        address = address_or_none(chain, token)
        if address is None:
            bad.append(token)
        else:
            out.append((chain, address))
    if unsupported:
        parsed.skip(f"currency {currency}", f"party {ref}: {currency} is not a chain we store")
    if bad and not out and len(tokens) > 1:
        parsed.skip("not_an_address", f"party {ref}: {text.strip()!r} is not an address")
    else:
        for token in bad:
            parsed.skip("invalid_address", f"party {ref}: {token!r} is not a valid address")
    return out

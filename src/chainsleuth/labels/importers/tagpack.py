"""GraphSense TagPacks and ActorPacks, read unchanged (YAML, safe loader).

A TagPack is a header and a list of ``tags``; every header field except ``tags`` is
inherited by each tag, which may override it. A tag names an ``address`` with its
``currency`` (and, in newer packs, ``network``), a ``label``, a ``category`` and/or an
``abuse`` (GraphSense concepts), a ``confidence`` level, an ``actor`` (an ActorPack id) and
``is_cluster_definer`` (the tag describes the whole cluster: an entity-scoped label here).
Tags on currencies chainsleuth does not store are counted and skipped; transaction tags
too. An ActorPack is a header and a list of ``actors``.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import yaml

from chainsleuth.core.errors import InvalidInput
from chainsleuth.labels.enums import Category, ImportFormat, Scope, Tlp, parse_category
from chainsleuth.labels.importers.common import (
    ActorDraft,
    LabelDraft,
    Parsed,
    address_or_none,
    as_datetime,
    chain_for,
    confidence_of,
    decode_text,
    jsonable,
)

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(data: bytes, name: str) -> Any:
    text = decode_text(data, name)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(f"{name} is not valid YAML{where}: {problem}") from exc


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _stem(name: str) -> str:
    stem = PurePath(name).name
    for suffix in (".yaml", ".yml"):
        stem = stem.removesuffix(suffix)
    return stem.removesuffix(".tagpack").removesuffix(".actorpack")


def parse_tagpack(data: bytes, *, file_name: str, skip_invalid: bool = False) -> Parsed:
    doc = _load(data, file_name)
    if isinstance(doc, dict) and "actors" in doc and "tags" not in doc:
        raise InvalidInput(f"{file_name} is an ActorPack: import it as `actorpack`")
    if not isinstance(doc, dict) or not isinstance(doc.get("tags"), list):
        raise InvalidInput(f"{file_name} is not a TagPack: it has no list of tags")
    header = {k: v for k, v in doc.items() if k != "tags"}
    for required in ("title", "creator"):
        if not _text(header.get(required)):
            raise InvalidInput(f"{file_name} is not a valid TagPack: its header has no {required}")
    public = header.get("is_public", True) is not False
    parsed = Parsed(
        format=ImportFormat.TAGPACK,
        default_name=f"tagpack:{_stem(file_name)}",
        default_tlp=Tlp.CLEAR if public else Tlp.AMBER,
        title=_text(header.get("title")),
        uri=_text(header.get("source")),
        version=_text(header.get("lastmod")),
    )
    seen: dict[str, LabelDraft] = {}
    for n, tag in enumerate(doc["tags"], start=1):
        where = f"{file_name}: tag {n}"
        if not isinstance(tag, dict):
            raise InvalidInput(f"{where} is not a mapping")
        merged = {**header, **tag}
        draft = _tag(parsed, merged, where, skip_invalid=skip_invalid)
        if draft is None:
            continue
        if draft.key in seen:
            first = seen[draft.key]
            also = first.details.setdefault("also_labelled", [])
            if draft.label != first.label and draft.label not in also:
                also.append(draft.label)
            parsed.skip("duplicate", f"{where}: {draft.address} is tagged twice")
            continue
        seen[draft.key] = draft
        parsed.labels.append(draft)
    return parsed


def _tag(
    parsed: Parsed, tag: dict[str, Any], where: str, *, skip_invalid: bool
) -> LabelDraft | None:
    address_text = _text(tag.get("address"))
    if address_text is None:
        if _text(tag.get("tx_hash")):
            parsed.skip("transaction_tag", f"{where}: a transaction tag (not stored)")
            return None
        raise InvalidInput(f"{where} has no address")
    currency = _text(tag.get("currency")) or _text(tag.get("network"))
    if currency is None:
        raise InvalidInput(f"{where} has no currency")
    chain = chain_for(currency, address_text, _text(tag.get("network")))
    if chain is None:
        parsed.skip(f"currency {currency.upper()}", f"{where}: {currency} is not a chain we store")
        return None
    address = address_or_none(chain, address_text)
    if address is None:
        message = f"{where}: {address_text!r} is not a valid {currency.upper()} address"
        if not skip_invalid:
            raise InvalidInput(message + " (--skip-invalid imports the rest)")
        parsed.skip("invalid_address", message)
        return None
    label = _text(tag.get("label"))
    if label is None:
        raise InvalidInput(f"{where} has no label")
    concept = _text(tag.get("abuse")) or _text(tag.get("category"))
    category = Category.OTHER if concept is None else parse_category(concept)
    if category is None:
        message = f"{where}: unknown category {concept!r}"
        if not skip_invalid:
            raise InvalidInput(message + " (not a GraphSense concept)")
        parsed.skip("unknown_category", message)
        return None
    score, level = confidence_of(tag.get("confidence"), where)
    actor = _text(tag.get("actor"))
    details: dict[str, Any] = {"currency": currency.upper()}
    for field in ("category", "abuse", "creator"):
        value = _text(tag.get(field))
        if value is not None:
            details["tagpack_category" if field == "category" else field] = value
    if tag.get("context") is not None:
        details["context"] = jsonable(tag["context"])
    definer = tag.get("is_cluster_definer") is True
    details["is_cluster_definer"] = definer
    lastmod = as_datetime(tag.get("lastmod"), where)
    return LabelDraft(
        key=f"{chain}:{address}:{category}:{actor or ''}",
        chain=chain,
        address=address,
        category=category,
        label=label,
        scope=Scope.ENTITY if definer else Scope.ADDRESS,
        actor=actor,
        confidence=score,
        confidence_name=level,
        source_uri=_text(tag.get("source")),
        last_seen=lastmod,
        details=details,
    )


def parse_actorpack(data: bytes, *, file_name: str, skip_invalid: bool = False) -> Parsed:
    doc = _load(data, file_name)
    if isinstance(doc, dict) and "tags" in doc and "actors" not in doc:
        raise InvalidInput(f"{file_name} is a TagPack: import it as `tagpack`")
    if not isinstance(doc, dict) or not isinstance(doc.get("actors"), list):
        raise InvalidInput(f"{file_name} is not an ActorPack: it has no list of actors")
    parsed = Parsed(
        format=ImportFormat.ACTORPACK,
        default_name=f"actorpack:{_stem(file_name)}",
        default_tlp=Tlp.CLEAR,
        title=_text(doc.get("title")),
        uri=_text(doc.get("source")),
        version=_text(doc.get("lastmod")),
    )
    seen: set[str] = set()
    for n, entry in enumerate(doc["actors"], start=1):
        where = f"{file_name}: actor {n}"
        if not isinstance(entry, dict):
            raise InvalidInput(f"{where} is not a mapping")
        ext_id, name = _text(entry.get("id")), _text(entry.get("label"))
        if ext_id is None or name is None:
            raise InvalidInput(f"{where} needs an id and a label")
        if ext_id in seen:
            parsed.skip("duplicate", f"{where}: actor {ext_id!r} is listed twice")
            continue
        seen.add(ext_id)
        context = entry.get("context")
        parsed.actors.append(
            ActorDraft(
                ext_id=ext_id,
                name=name,
                categories=[str(c) for c in entry.get("categories") or []],
                jurisdictions=[str(j) for j in entry.get("jurisdictions") or []],
                uri=_text(entry.get("uri")),
                aliases=[str(a) for a in entry.get("aliases") or []],
                context=jsonable(context) if isinstance(context, dict) else None,
            )
        )
    return parsed

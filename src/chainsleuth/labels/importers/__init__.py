"""Parsers of attribution files. Each turns a file's bytes into a ``Parsed`` (drafts of
labels and actors, with what it skipped and why) and knows nothing of the database;
``chainsleuth.labels.service.import_parsed`` writes them in one transaction."""

from __future__ import annotations

from chainsleuth.core.errors import InvalidInput
from chainsleuth.labels.enums import ImportFormat
from chainsleuth.labels.importers.common import Parsed


def parse(
    fmt: ImportFormat, parts: list[tuple[str, bytes]], *, skip_invalid: bool = False
) -> Parsed:
    """Parse one file (or, for ``ofac-lists``, one or more) of the given format."""
    from chainsleuth.labels.importers.csv import parse_csv
    from chainsleuth.labels.importers.ofac_csv import parse_ofac_csv
    from chainsleuth.labels.importers.ofac_lists import parse_ofac_lists
    from chainsleuth.labels.importers.ofac_xml import parse_ofac_xml
    from chainsleuth.labels.importers.tagpack import parse_actorpack, parse_tagpack

    if fmt is ImportFormat.OFAC_LISTS:
        return parse_ofac_lists(parts, skip_invalid=skip_invalid)
    if len(parts) != 1:
        raise InvalidInput(f"a {fmt} import reads one file")
    name, data = parts[0]
    if not data.strip():
        raise InvalidInput(f"{name} is empty")
    parser = {
        ImportFormat.TAGPACK: parse_tagpack,
        ImportFormat.ACTORPACK: parse_actorpack,
        ImportFormat.OFAC_XML: parse_ofac_xml,
        ImportFormat.OFAC_CSV: parse_ofac_csv,
        ImportFormat.CSV: parse_csv,
    }[fmt]
    return parser(data, file_name=name, skip_invalid=skip_invalid)

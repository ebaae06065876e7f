"""``world.json``: what a world folder holds, and the checks that it is whole.

The manifest names the format and its version, the seed and parameters, per chain the block
ranges in order with their files and row counts, and the SHA-256 and size of every other
file in the folder. A folder is valid when the manifest is of this format version and every
file it lists is present with its size and checksum.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from chainsleuth.core.errors import IntegrityViolation, InvalidInput

FORMAT = "chainsleuth-world"
FORMAT_VERSION = 1
MANIFEST = "world.json"


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    (root / MANIFEST).write_text(text, encoding="utf-8")


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest of a world folder; InvalidInput when it is missing, unreadable or foreign."""
    path = root / MANIFEST
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a folder")
    if not path.is_file():
        raise InvalidInput(f"{root} is not a world folder: {MANIFEST} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path} cannot be read: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidInput(f"{path} is not a {FORMAT} manifest")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise InvalidInput(
            f"{root} is a world of format version {version}; this chainsleuth reads version "
            f"{FORMAT_VERSION} (generate it again with this version)"
        )
    for key in ("chains", "files", "seed"):
        if key not in data:
            raise InvalidInput(f"{path} lacks {key!r}")
    return data


def _check_file(root: Path, rel: str, entry: dict[str, Any], *, digest: bool) -> str | None:
    path = root / rel
    if not path.is_file():
        return f"{rel} is missing"
    size = path.stat().st_size
    if size != entry.get("bytes"):
        return f"{rel} has {size} bytes, the manifest says {entry.get('bytes')} (truncated?)"
    if not digest:
        return None
    with path.open("rb") as fh:
        return checksum_problem(rel, entry, hashlib.file_digest(fh, "sha256").hexdigest())


def checksum_problem(rel: str, entry: dict[str, Any], sha256: str) -> str | None:
    """The problem with a file whose SHA-256 is ``sha256``, or None when it is the listed one."""
    if sha256 != entry.get("sha256"):
        return f"{rel} fails its SHA-256 checksum (corrupt)"
    return None


def verify_bytes(root: Path, manifest: dict[str, Any], rel: str, data: bytes) -> None:
    """Check the bytes read of a listed file against its size and SHA-256 (for a reader that
    checks each file as it reads it, once); IntegrityViolation otherwise."""
    entry = manifest["files"].get(rel)
    if entry is None:
        raise IntegrityViolation(f"world {root}: {rel} has no checksum in the manifest")
    if len(data) != entry.get("bytes"):
        problem: str | None = (
            f"{rel} has {len(data)} bytes, the manifest says {entry.get('bytes')} (truncated?)"
        )
    else:
        problem = checksum_problem(rel, entry, hashlib.sha256(data).hexdigest())
    if problem is not None:
        raise IntegrityViolation(f"world {root}: {problem}")


def verify_files(
    root: Path,
    manifest: dict[str, Any],
    on_file: Callable[[str, int], None] | None = None,
    *,
    size_only: Collection[str] = (),
) -> None:
    """Check every listed file's presence, size and SHA-256; IntegrityViolation on the first
    problem (in path order). Files are hashed on two threads (hashlib releases the GIL).

    The files named in ``size_only`` are checked for presence and size only: their reader
    checks their SHA-256 on the bytes it reads (``verify_bytes``), so they are read once."""
    files: dict[str, dict[str, Any]] = manifest["files"]
    names = sorted(files)
    for rel in names:
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise IntegrityViolation(f"the manifest names a file outside the world: {rel!r}")
    with ThreadPoolExecutor(max_workers=2) as pool:
        skip = set(size_only)
        results = pool.map(
            lambda rel: _check_file(root, rel, files[rel], digest=rel not in skip), names
        )
        for rel, problem in zip(names, results, strict=True):
            if problem is not None:
                raise IntegrityViolation(f"world {root}: {problem}")
            if on_file is not None:
                on_file(rel, int(files[rel].get("bytes", 0)))

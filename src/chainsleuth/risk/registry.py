"""Model versions on disk: ``<data dir>/models/<version>/`` holds ``model.txt`` (LightGBM),
``calibration.json`` and ``metrics.json``; ``<data dir>/models/active.json`` names the
active version. Every write is atomic (a temporary file or folder, then a rename), so a
reader never sees half a version; the CLI acts as an operator, the API lets only an
administrator change the active version.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from chainsleuth.core.errors import InvalidInput, NotFound

ACTIVE = "active.json"
_VERSION = re.compile(r"^v\d{4,}$")


def models_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "models"


def versions(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _VERSION.match(p.name))


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_version(root: Path, files: dict[str, str], metrics: dict[str, Any]) -> str:
    """Store a new version (file name -> text) with its metrics; returns its name."""
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".new-"))
    try:
        for name, text in files.items():
            (staging / name).write_text(text)
        while True:
            existing = versions(root)
            number = int(existing[-1][1:]) + 1 if existing else 1
            version = f"v{number:04d}"
            metrics = {**metrics, "version": version}
            (staging / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
            try:
                staging.rename(root / version)  # fails if another writer took the name
                return version
            except OSError:
                if not (root / version).exists():
                    raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def check_version(root: Path, version: str) -> Path:
    if not _VERSION.match(version or ""):
        raise InvalidInput(f"{version!r} is no model version (they look like v0001)")
    path = root / version
    if not (path / "model.txt").is_file():
        raise NotFound(f"there is no model version {version}: see `chainsleuth model list`")
    return path


def metrics(root: Path, version: str) -> dict[str, Any]:
    path = check_version(root, version)
    data: dict[str, Any] = json.loads((path / "metrics.json").read_text())
    return data


def active(root: Path) -> str | None:
    path = root / ACTIVE
    if not path.is_file():
        return None
    version = json.loads(path.read_text()).get("version")
    return str(version) if version else None


def activate(root: Path, version: str, *, by: str) -> None:
    check_version(root, version)
    _write_json(root / ACTIVE, {"version": version, "by": by})


def resolve(root: Path, version: str | None) -> str:
    """The version asked for, or the active one, or the newest."""
    if version:
        check_version(root, version)
        return version
    chosen = active(root)
    if chosen is None:
        found = versions(root)
        if not found:
            raise NotFound("no model has been trained: run `chainsleuth model train` first")
        chosen = found[-1]
    return chosen

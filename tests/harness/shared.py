"""Session builds made once per test run, shared by every pytest-xdist worker.

``build_once(tmp_path_factory, "world", build)`` calls ``build(directory)`` the first time
any worker asks for ``"world"`` and returns the same directory to every later caller, in
this process or another worker of the same run (the workers' base temporary directories
share a parent; without xdist the run's own base directory is used). An exclusive
``flock`` on ``<name>.lock`` makes the others wait while one builds; a ``.done`` marker,
written last, tells a finished build from one that was interrupted (which is redone).

What is built this way is read-only for the tests. The directory is built in place and
never moved, because a chain store's views name its Parquet files by absolute path.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

DONE = ".done"


def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory every worker of this run sees: the base temp dir, or its parent."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    shared = root / "shared"
    shared.mkdir(parents=True, exist_ok=True)
    return shared


def build_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """``<shared root>/<name>``, built by ``build`` unless some worker already built it."""
    shared = shared_root(tmp_path_factory)
    target = shared / name
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (target / DONE).exists():
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir()
                build(target)
                (target / DONE).touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def copy_store(source: Path, target: Path) -> Path:
    """A private copy of the chain store at ``source``, at ``target`` (which must not exist).

    Copying files is much cheaper than loading a world again. Opening the copy for writing
    once rebuilds its views over its own Parquet files (they named the source's).
    """
    from chainsleuth.chain.store import ChainStore

    shutil.copytree(source, target)
    ChainStore(target).close()
    return target

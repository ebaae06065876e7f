"""The freezes' arrival hook cannot be bypassed by a program that uses the ledger alone."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import sys
from chainsleuth.ledger import service
assert "chainsleuth.freezes.models" not in sys.modules, "imported too early"
hooks = service.arrival_hooks()
print(",".join(f"{h.__module__}.{h.__name__}" for h in hooks))
"""


def test_a_ledger_only_program_still_holds_arrivals_under_a_freeze() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, timeout=60
    )
    assert "chainsleuth.freezes.models._hold_arrivals" in out.stdout.split(",")[0].strip()

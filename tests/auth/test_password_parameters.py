"""The product hashes passwords with argon2id at the library's recommended cost (the test
suite swaps in cheap parameters: this checks the real ones, in a process of its own)."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
from argon2 import PasswordHasher
from chainsleuth.auth import passwords
encoded = passwords.hash_password("correct horse battery staple")
default = PasswordHasher()
print(encoded)
print(f"m={default.memory_cost},t={default.time_cost},p={default.parallelism}")
print(passwords.verify_password(encoded, "correct horse battery staple"))
print(passwords.verify_password(encoded, "wrong horse battery staple"))
print(passwords.verify_password(None, "correct horse battery staple"))
"""


def test_the_product_hashes_with_argon2id_at_the_recommended_cost() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    encoded, params, good, wrong, unknown = out
    assert encoded.startswith("$argon2id$v=19$" + params + "$")
    assert params == "m=65536,t=3,p=4"  # RFC 9106's second recommended option
    assert (good, wrong, unknown) == ("True", "False", "False")

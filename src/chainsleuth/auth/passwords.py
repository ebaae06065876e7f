"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chainsleuth.core.errors import InvalidInput

MIN_LENGTH = 12
_hasher = PasswordHasher()
#: verified against for unknown users, so that timing does not tell which names exist
_DUMMY_HASH = _hasher.hash("chainsleuth-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def check_policy(password: str, *, username: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_LENGTH} characters")
    if username and username.lower() in password.lower():
        raise InvalidInput("the password must not contain the username")
    if len(set(password)) < 5:
        raise InvalidInput("the password is too simple")

"""Secrets at rest: random tokens, their hashes, and field encryption keyed by the secret key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chainsleuth.core.errors import IntegrityViolation


def new_token(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """SHA-256 of a high-entropy token: what we store instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class FieldCipher:
    """Authenticated encryption (Fernet) of small fields, one derived key per purpose."""

    def __init__(self, secret: bytes, purpose: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=f"chainsleuth:{purpose}".encode()
        ).derive(secret)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise IntegrityViolation(
                "an encrypted field cannot be read with the current secret key"
            ) from exc

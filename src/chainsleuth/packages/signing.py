"""The platform's signing key (Ed25519) and the verification of a package.

The private key is read from ``CHAINSLEUTH_SIGNING_KEY_FILE`` (PEM, PKCS#8, unencrypted)
when set; otherwise it is generated on first use as ``<data dir>/signing/ed25519.pem`` with
mode 0600 (written beside and linked into place, so that racing starts agree on one key).
There is no built-in key. A key file that others may read is refused outside development.

A package ZIP holds ``manifest.json`` (each file's name, size and SHA-256) and
``manifest.sig`` (the Ed25519 signature of the manifest's exact bytes, base64). Verifying
needs only the public key published at ``/.well-known/chainsleuth-signing-key``:

* the signature must verify over ``manifest.json``;
* every file the manifest names must be in the ZIP with that size and SHA-256;
* the ZIP may hold nothing else (``manifest.sig`` and ``signing-key.pem`` excepted).

The fingerprint of a key is the SHA-256 of its raw 32 public bytes, in hex.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chainsleuth.core.config import Environment, Settings
from chainsleuth.core.errors import ConfigurationError, InvalidInput

KEY_DIR = "signing"
KEY_FILE = "ed25519.pem"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "signing-key.pem"
#: the files a package holds besides those its manifest names
UNLISTED = frozenset({MANIFEST, SIGNATURE, PUBLIC_KEY})
MAX_ZIP_MEMBERS = 10_000


def key_path(settings: Settings) -> Path:
    if settings.signing_key_file:
        return Path(settings.signing_key_file)
    return settings.data_dir / KEY_DIR / KEY_FILE


def _generate(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{KEY_FILE}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def load_private_key(settings: Settings) -> Ed25519PrivateKey:
    """The platform's private key; generated on first use unless a key file is configured."""
    path = key_path(settings)
    configured = settings.signing_key_file is not None
    if not path.exists():
        if configured:
            raise ConfigurationError(f"CHAINSLEUTH_SIGNING_KEY_FILE: no file at {path}")
        _generate(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077 and settings.env is not Environment.DEVELOPMENT:
        raise ConfigurationError(
            f"the signing key {path} may be read by others (mode {mode:o}): chmod 600 it"
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"the signing key {path} is not an unencrypted PEM key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"the signing key {path} is not an Ed25519 key")
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """A public key from PEM (what the well-known URL serves) or its raw 32 bytes."""
    try:
        if len(data) == 32:
            return Ed25519PublicKey.from_public_bytes(data)
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise InvalidInput("the public key is not a PEM Ed25519 public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput("the public key is not an Ed25519 key")
    return key


def sign(key: Ed25519PrivateKey, manifest: bytes) -> str:
    return base64.b64encode(key.sign(manifest)).decode()


@dataclass
class Verification:
    """What verifying a package found: ``ok`` only when nothing is wrong."""

    reference: str | None = None
    fingerprint: str | None = None
    files: int = 0
    problems: list[str] = field(default_factory=list)
    #: said but not wrong (the key used came from the package itself)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _sha256_member(zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with zf.open(name) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_zip(path: Path, public_key: Ed25519PublicKey | None = None) -> Verification:
    """Verify a package ZIP offline, with the given public key (or, failing that, the key it
    carries: which proves integrity only, not origin; the result says so)."""
    result = Verification()
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InvalidInput(f"{path} is not a ZIP file") from exc
    with zf:
        names = zf.namelist()
        if len(names) > MAX_ZIP_MEMBERS:
            raise InvalidInput(f"{path} holds more than {MAX_ZIP_MEMBERS} files")
        if MANIFEST not in names or SIGNATURE not in names:
            raise InvalidInput(f"{path} holds no {MANIFEST} and {SIGNATURE}: not a package")
        manifest_bytes = zf.read(MANIFEST)
        if public_key is None:
            if PUBLIC_KEY not in names:
                raise InvalidInput("give the platform's public key (--key FILE)")
            public_key = load_public_key(zf.read(PUBLIC_KEY))
            result.warnings.append(
                "verified with the key inside the package: fetch the published key "
                "(/.well-known/chainsleuth-signing-key) and pass it with --key to prove origin"
            )
        result.fingerprint = fingerprint(public_key)
        try:
            public_key.verify(
                base64.b64decode(zf.read(SIGNATURE).strip(), validate=True), manifest_bytes
            )
        except (InvalidSignature, ValueError):
            result.problems.append("the signature does not match the manifest")
        try:
            manifest: dict[str, Any] = json.loads(manifest_bytes)
            listed = {f["name"]: f for f in manifest["files"]}
        except (ValueError, KeyError, TypeError):
            result.problems.append("the manifest cannot be read")
            return result
        result.reference = manifest.get("reference")
        result.files = len(listed)
        for name, entry in sorted(listed.items()):
            if name not in names:
                result.problems.append(f"{name} is missing")
                continue
            digest, size = _sha256_member(zf, name)
            if digest != entry.get("sha256") or size != entry.get("size"):
                result.problems.append(f"{name} does not match its SHA-256 in the manifest")
        for name in sorted(set(names) - set(listed) - UNLISTED):
            result.problems.append(f"{name} is not in the manifest")
    return result

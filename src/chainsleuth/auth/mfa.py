"""TOTP (RFC 6238) second factor: secrets, provisioning QR codes and replay-safe checks."""

from __future__ import annotations

import io
import time

import pyotp
import segno

ISSUER = "chainsleuth"
VALID_WINDOW = 1  # one 30 s step either side, for clock drift


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, username: str) -> str:
    return str(pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER))


def qr_svg(uri: str) -> str:
    """An inline SVG with a viewBox and no fixed size: the page's CSS sizes it whole."""
    buf = io.BytesIO()
    segno.make(uri, error="m").save(
        buf, kind="svg", scale=5, border=2, xmldecl=False, omitsize=True
    )
    return buf.getvalue().decode()


def matching_step(secret: str, code: str, *, at: float | None = None) -> int | None:
    """The time step a code belongs to, if it is valid now; None otherwise."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    step = int(now // totp.interval)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        if totp.verify(code, for_time=(step + offset) * totp.interval, valid_window=0):
            return step + offset
    return None


def current_code(secret: str, *, at: float | None = None) -> str:
    return str(pyotp.TOTP(secret).at(time.time() if at is None else at))

"""Hashes and addresses, generated in bulk: numpy arrays in, Arrow string arrays out.

Every identifier in a world is a pure function of a seed-derived salt and an integer key,
so that nothing has to be remembered: a transaction's hash is ``hash32(salt_tx, key)``, an
address's payload ``hash32(salt_addr, address_id)``. ``hash32`` is splitmix64 (a bijection
of 64-bit integers) over four lanes, so that distinct keys give distinct hashes.

The encodings are vectorised over rows: hex, Base58Check (long division by 58**5 on 32-bit
limbs), Bech32/Bech32m (BIP-173/350 polymod, one column at a time) and Ethereum ``0x`` hex.
Only the Base58Check checksum (double SHA-256) is computed per address, once, in C.
"""

from __future__ import annotations

import binascii
import hashlib
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

_sha256: Any = hashlib.sha256
try:  # CPython's own SHA-256: about twice as fast per call as OpenSSL's EVP for short input
    import _sha256 as _builtin_sha256  # type: ignore[import-not-found]

    _sha256 = _builtin_sha256.sha256
except ImportError:  # pragma: no cover - Python 3.12+ (_sha2) and other interpreters
    pass

U8 = NDArray[np.uint8]
U32 = NDArray[np.uint32]
U64 = NDArray[np.uint64]
I64 = NDArray[np.int64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_LANES = [np.uint64((lane * 0x9E3779B97F4A7C15) & 0xFFFF_FFFF_FFFF_FFFF) for lane in range(4)]


def splitmix64(x: U64) -> U64:
    """The splitmix64 finaliser, element-wise (a bijection of uint64)."""
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return np.asarray(z ^ (z >> _S31), dtype=np.uint64)


def hash32(salt: int, keys: NDArray[Any]) -> U8:
    """32 pseudo-random bytes per key, shape ``(n, 32)``; distinct keys give distinct rows."""
    k = np.asarray(keys).astype(np.uint64, copy=False).ravel()
    base = splitmix64(k ^ np.uint64(salt & 0xFFFF_FFFF_FFFF_FFFF))
    out = np.empty((k.size, 4), dtype=np.uint64)
    for lane, offset in enumerate(_LANES):
        out[:, lane] = splitmix64(base + offset)
    return out.view(np.uint8).reshape(k.size, 32)


# --- strings -------------------------------------------------------------------------------


def fixed_strings(chars: U8) -> pa.StringArray:
    """An Arrow string array from an ``(n, width)`` array of ASCII bytes."""
    n, width = chars.shape
    offsets = np.arange(0, n * width + 1, width, dtype=np.int32)
    data = np.ascontiguousarray(chars)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def ragged_strings(chars: U8, lengths: NDArray[Any]) -> pa.StringArray:
    """Strings right-aligned in an ``(n, width)`` array, each ``lengths[i]`` long."""
    n, width = chars.shape
    lengths = np.asarray(lengths, dtype=np.int32)
    keep = np.arange(width)[None, :] >= (width - lengths)[:, None]
    data = chars[keep]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def hex_chars(raw: U8, prefix: bytes = b"") -> U8:
    """Lower-case hex of each row of ``raw`` (``(n, k)`` bytes) as ``(n, len(prefix) + 2k)``."""
    n, k = raw.shape
    hexed = np.frombuffer(binascii.hexlify(np.ascontiguousarray(raw).data), dtype=np.uint8)
    if not prefix:
        return hexed.reshape(n, 2 * k)
    out = np.empty((n, len(prefix) + 2 * k), dtype=np.uint8)
    out[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    out[:, len(prefix) :] = hexed.reshape(n, 2 * k)
    return out


def hex_strings(raw: U8, prefix: bytes = b"") -> pa.StringArray:
    return fixed_strings(hex_chars(raw, prefix))


# --- Base58Check -----------------------------------------------------------------------------

B58_ALPHABET = np.frombuffer(
    b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", dtype=np.uint8
)
_B58_BLOCK = np.uint64(58**5)
_B58_DIGITS = 35  # 58**35 > 2**200: enough for 25 bytes
_U58 = np.uint32(58)


def b58_checksums(version: int, payload: U8) -> U32:
    """The Base58Check checksum (first 4 bytes of SHA-256d) of ``version + payload`` rows."""
    n, width = payload.shape
    msg = np.empty((n, width + 1), dtype=np.uint8)
    msg[:, 0] = version
    msg[:, 1:] = payload
    flat = msg.tobytes()
    step = width + 1
    sha = _sha256
    digests = b"".join(
        [sha(sha(flat[i : i + step]).digest()).digest()[:4] for i in range(0, n * step, step)]
    )
    return np.frombuffer(digests, dtype=">u4").astype(np.uint32)


def base58check_strings(version: int, payload: U8, checksums: U32) -> pa.StringArray:
    """Base58Check text of ``version + payload20 + checksum`` for each row."""
    n = payload.shape[0]
    if n == 0:
        return pa.array([], type=pa.string())
    full = np.zeros((n, 28), dtype=np.uint8)  # 3 bytes of padding + 25 bytes
    full[:, 3] = version
    full[:, 4:24] = payload
    full[:, 24:28] = checksums.astype(">u4").view(np.uint8).reshape(n, 4)
    limbs32 = full.view(">u4").astype(np.uint64)
    limbs = [np.ascontiguousarray(limbs32[:, i]) for i in range(7)]
    digits = np.empty((_B58_DIGITS, n), dtype=np.uint8)
    shift = np.uint64(32)
    cur = np.empty(n, dtype=np.uint64)
    tmp = np.empty(n, dtype=np.uint64)
    row = _B58_DIGITS
    for _ in range(7):
        rem = np.zeros(n, dtype=np.uint64)
        for limb in limbs:
            np.left_shift(rem, shift, out=cur)
            np.bitwise_or(cur, limb, out=cur)
            np.floor_divide(cur, _B58_BLOCK, out=limb)
            np.multiply(limb, _B58_BLOCK, out=tmp)
            np.subtract(cur, tmp, out=rem)
        small = rem.astype(np.uint32)
        quot = np.empty(n, dtype=np.uint32)
        for _ in range(5):
            row -= 1
            np.floor_divide(small, _U58, out=quot)
            digits[row] = small - quot * _U58
            small, quot = quot, small
    digits = np.ascontiguousarray(digits.T)
    nonzero = digits != 0
    first = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), _B58_DIGITS)
    zero_bytes = np.argmax(full[:, 3:] != 0, axis=1)  # leading zero bytes of the 25
    lengths = _B58_DIGITS - first + zero_bytes
    return ragged_strings(B58_ALPHABET[digits], lengths)


# --- Bech32 / Bech32m ------------------------------------------------------------------------

BECH32_CHARSET = np.frombuffer(b"qpzry9x8gf2tvdw0s3jn54khce6mua7l", dtype=np.uint8)
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_GEN_TABLE = np.array(
    [
        np.bitwise_xor.reduce([g for i, g in enumerate(_GEN) if (b >> i) & 1] or [0])
        for b in range(32)
    ],
    dtype=np.uint32,
)


def _gen_table2() -> NDArray[np.uint32]:
    """For each top-10-bit pattern, what two polymod steps XOR into the shifted state."""
    table = np.zeros(1024, dtype=np.uint32)
    for top in range(1024):
        chk = top << 20
        for _ in range(2):
            b = chk >> 25
            chk = (chk & 0x1FFFFFF) << 5
            for i in range(5):
                if (b >> i) & 1:
                    chk ^= _GEN[i]
        table[top] = chk & 0x3FFFFFFF
    return table


_GEN_TABLE2 = _gen_table2()
BECH32_CONST = 1
BECH32M_CONST = 0x2BC830A3


def _polymod_scalar(values: list[int]) -> int:
    chk = 1
    for v in values:
        b = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            if (b >> i) & 1:
                chk ^= _GEN[i]
    return chk


def _five_bit_groups(program: U8, groups: int) -> U8:
    """Regroup each row's bytes into ``groups`` 5-bit values (zero-padded), big-endian."""
    n, width = program.shape
    blocks = -(-width // 5)
    buf = np.zeros((n, blocks, 8), dtype=np.uint8)
    padded = np.zeros((n, blocks * 5), dtype=np.uint8)
    padded[:, :width] = program
    buf[:, :, 3:] = padded.reshape(n, blocks, 5)
    values = buf.view(">u8").reshape(n, blocks).astype(np.uint64)
    shifts = np.arange(35, -1, -5, dtype=np.uint64)
    five = ((values[:, :, None] >> shifts[None, None, :]) & np.uint64(31)).astype(np.uint8)
    return np.ascontiguousarray(five.reshape(n, blocks * 8)[:, :groups])


def segwit_strings(hrp: str, witver: int, program: U8) -> pa.StringArray:
    """Bech32 (v0) or Bech32m (v1+) segwit addresses for each program row."""
    n, width = program.shape
    if n == 0:
        return pa.array([], type=pa.string())
    groups = -(-width * 8 // 5)
    data5 = _five_bit_groups(program, groups)
    hrp_expand = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    start = _polymod_scalar([*hrp_expand, witver])
    chk = np.full(n, start, dtype=np.uint32)
    # two 5-bit symbols per step: the generator's effect of the top 10 bits, tabulated
    symbols = np.zeros((n, groups + 6), dtype=np.uint32)
    symbols[:, :groups] = data5
    first = 0
    if symbols.shape[1] % 2:
        chk = (
            ((chk & np.uint32(0x1FFFFFF)) << np.uint32(5))
            ^ symbols[:, 0]
            ^ _GEN_TABLE.take(chk >> np.uint32(25))
        )
        first = 1
    mask20, s20, s10, s5 = np.uint32(0xFFFFF), np.uint32(20), np.uint32(10), np.uint32(5)
    for j in range(first, symbols.shape[1], 2):
        pair = (symbols[:, j] << s5) | symbols[:, j + 1]
        chk = ((chk & mask20) << s10) ^ pair ^ _GEN_TABLE2.take(chk >> s20)
    chk ^= np.uint32(BECH32_CONST if witver == 0 else BECH32M_CONST)
    prefix = f"{hrp}1".encode()
    width_out = len(prefix) + 1 + groups + 6
    out = np.empty((n, width_out), dtype=np.uint8)
    out[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    out[:, len(prefix)] = BECH32_CHARSET[witver]
    out[:, len(prefix) + 1 : len(prefix) + 1 + groups] = BECH32_CHARSET[data5]
    for i in range(6):
        out[:, width_out - 6 + i] = BECH32_CHARSET[(chk >> np.uint32(5 * (5 - i))) & np.uint32(31)]
    return fixed_strings(out)


# --- decimals --------------------------------------------------------------------------------

DECIMAL = pa.decimal128(38, 0)
_LOW32 = np.uint64(0xFFFF_FFFF)


def decimal_array(units: NDArray[Any], factor: int = 1, scale: int = 0) -> pa.Array:
    """``decimal128(38, scale)`` with unscaled values ``units * factor`` (units >= 0,
    factor < 2**31): scale 0 gives integers, scale 8 turns satoshi into bitcoin."""
    v = np.ascontiguousarray(units, dtype=np.int64).view(np.uint64)
    n = v.size
    f = np.uint64(factor)
    if factor == 1 or n == 0 or int(v.max()) <= (2**64 - 1) // factor:
        # every product fits the low word (always for factor 1): no 32-bit limbs
        out = np.zeros((n, 2), dtype=np.uint64)
        np.multiply(v, f, out=out[:, 0])
    else:
        p_lo = (v & _LOW32) * f
        p_hi = (v >> np.uint64(32)) * f
        low = (p_hi << np.uint64(32)) + p_lo
        carry = (low < p_lo).astype(np.uint64)
        out = np.empty((n, 2), dtype=np.uint64)
        out[:, 0] = low
        out[:, 1] = (p_hi >> np.uint64(32)) + carry
    kind = DECIMAL if scale == 0 else pa.decimal128(38, scale)
    return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(out)])


def decimal_to_units(array: pa.Array, factor: int = 1) -> I64:
    """The inverse of ``decimal_array`` for values below ``2**63 * factor``."""
    if len(array) == 0:
        return np.zeros(0, dtype=np.int64)
    arr = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    raw = np.frombuffer(arr.buffers()[1], dtype=np.uint64)
    raw = raw[2 * arr.offset : 2 * (arr.offset + len(arr))].reshape(-1, 2)
    lo, hi = raw[:, 0], raw[:, 1]
    if factor == 1:
        return lo.view(np.int64).copy()
    # value = hi * 2**64 + lo; divide by factor using float-free long division on 32-bit limbs
    f = np.uint64(factor)
    parts = [hi >> np.uint64(32), hi & _LOW32, lo >> np.uint64(32), lo & _LOW32]
    rem = np.zeros(lo.size, dtype=np.uint64)
    quot = []
    for p in parts:
        cur = (rem << np.uint64(32)) | p
        q = cur // f
        rem = cur - q * f
        quot.append(q)
    value = (quot[2] << np.uint64(32)) | quot[3]
    return value.view(np.int64).copy()

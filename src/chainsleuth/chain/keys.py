"""Integer keys for addresses and hashes, computed vectorised (numpy) over Arrow arrays.

DuckDB joins and zone maps are fast on integers and slow on long strings, so the store
keys every address and transaction hash by two signed 64-bit integers ``(k1, k2)``:

* a **transaction hash** is already uniformly random: its first 16 bytes, read big-endian,
  are the key (``k1`` = bytes 0..7, ``k2`` = bytes 8..15);
* an **address** is keyed by a 128-bit hash of its text (two independently seeded lanes of
  a multiply-xorshift hash with the murmur3 finaliser over its zero-padded 8-byte words and
  its length). It is defined here, in code, so that it never changes with a library
  version; ``KEY_VERSION`` is stored in the database and checked when it opens.

128-bit keys make an accidental collision practically impossible (about n²/2¹²⁹ for n
keys). Lookups that start from user input compare the full text as well.
"""

from __future__ import annotations

import binascii
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.core.errors import InvalidInput

KEY_VERSION = "1"
HASH_BYTES = 32
MAX_ADDRESS_CHARS = 128

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_P1 = np.uint64(0x9E3779B97F4A7C15)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_SEED1 = np.uint64(0x243F6A8885A308D3)
_SEED2 = np.uint64(0x13198A2E03707344)
_S33 = np.uint64(33)
_S29 = np.uint64(29)
_S35 = np.uint64(35)
_CHUNK = 8192


def _fmix(x: np.ndarray, t: np.ndarray) -> None:
    """The murmur3 64-bit finaliser, in place (``t`` is scratch space of the same size)."""
    for multiplier in (_M1, _M2, None):
        np.right_shift(x, _S33, out=t)
        x ^= t
        if multiplier is not None:
            x *= multiplier


def _mix(h1: np.ndarray, h2: np.ndarray, word: np.ndarray, t: np.ndarray) -> None:
    """One 8-byte word into both lanes, in place."""
    np.multiply(word, _P2, out=t)
    h1 ^= t
    h1 *= _P1
    np.right_shift(h1, _S29, out=t)
    h1 ^= t
    np.multiply(word, _P1, out=t)
    h2 ^= t
    h2 *= _P2
    np.right_shift(h2, _S35, out=t)
    h2 ^= t


def _fixed_width_words(values: pa.Array, width: int) -> np.ndarray:
    """The strings zero-padded to ``width`` bytes, as an (n, width // 8) uint64 matrix."""
    padded = pc.ascii_rpad(values, width=width, padding="\0")
    if not isinstance(padded, pa.StringArray):  # pragma: no cover - Arrow returns a StringArray
        padded = pa.array(padded, pa.string())
    n = len(padded)
    offsets = np.frombuffer(
        padded.buffers()[1], dtype=np.int32, count=n + 1, offset=4 * padded.offset
    )
    start = int(offsets[0])
    data = np.frombuffer(padded.buffers()[2], dtype=np.uint8, count=n * width, offset=start)
    return data.view("<u8").reshape(n, width // 8)


def address_keys(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Two int64 arrays: the 128-bit key of each address (null counts as the empty text)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    values = pc.fill_null(values.cast(pa.string()), "")
    n = len(values)
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy()
    lengths = pc.binary_length(values).to_numpy(zero_copy_only=False).astype(np.uint64)
    longest = int(lengths.max())
    if longest > MAX_ADDRESS_CHARS:
        raise InvalidInput(f"an address of {longest} characters is too long to be one")
    width = max(8, (longest + 7) // 8 * 8)
    words = _fixed_width_words(values, width)
    k1 = np.empty(n, dtype=np.uint64)
    k2 = np.empty(n, dtype=np.uint64)
    tmp = np.empty(_CHUNK, dtype=np.uint64)
    for lo in range(0, n, _CHUNK):  # chunks that stay in the CPU cache
        block = np.ascontiguousarray(words[lo : lo + _CHUNK].T)
        m = block.shape[1]
        h1, h2, t = k1[lo : lo + m], k2[lo : lo + m], tmp[:m]
        np.multiply(lengths[lo : lo + m], _P1, out=h1)
        h1 ^= _SEED1
        np.multiply(lengths[lo : lo + m], _P2, out=h2)
        h2 ^= _SEED2
        chunk_lengths = lengths[lo : lo + m]
        for j, word in enumerate(block):
            # a row's hash covers its own words only, whatever the batch's longest address
            active = chunk_lengths > np.uint64(8 * j)
            if active.all():
                _mix(h1, h2, word, t)
            elif active.any():
                n1, n2 = h1.copy(), h2.copy()
                _mix(n1, n2, word, t)
                np.copyto(h1, n1, where=active)
                np.copyto(h2, n2, where=active)
        _fmix(h1, t)
        _fmix(h2, t)
    return k1.view(np.int64), k2.view(np.int64)


_MASK = (1 << 64) - 1
_IM1, _IM2, _IP1, _IP2 = int(_M1), int(_M2), int(_P1), int(_P2)
_ISEED1, _ISEED2 = int(_SEED1), int(_SEED2)


def _fmix_int(x: int) -> int:
    x ^= x >> 33
    x = (x * _IM1) & _MASK
    x ^= x >> 33
    x = (x * _IM2) & _MASK
    return x ^ (x >> 33)


def _signed(x: int) -> int:
    return x - (1 << 64) if x >> 63 else x


def address_key(address: str) -> tuple[int, int]:
    """``address_keys`` of one address, in plain integers (a lookup's key: no arrays to
    build for one text). The same function: a test checks the two agree."""
    data = address.encode()
    n = len(data)
    if n > MAX_ADDRESS_CHARS:
        raise InvalidInput(f"an address of {n} characters is too long to be one")
    p1, p2 = _IP1, _IP2
    h1 = ((n * p1) & _MASK) ^ _ISEED1
    h2 = ((n * p2) & _MASK) ^ _ISEED2
    for lo in range(0, n, 8):
        word = int.from_bytes(data[lo : lo + 8], "little")  # zero-padded, as the arrays are
        h1 = (h1 ^ ((word * p2) & _MASK)) * p1 & _MASK
        h1 ^= h1 >> 29
        h2 = (h2 ^ ((word * p1) & _MASK)) * p2 & _MASK
        h2 ^= h2 >> 35
    return _signed(_fmix_int(h1)), _signed(_fmix_int(h2))


def hash_bytes(values: pa.Array | pa.ChunkedArray, *, prefixed: bool) -> np.ndarray:
    """Canonical hex hashes (``0x``-prefixed on account chains) as an (n, 32) uint8 matrix.

    Raises InvalidInput when any value is not exactly 64 hex digits (and ``0x``).
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    values = values.cast(pa.string())
    n = len(values)
    if n == 0:
        return np.empty((0, HASH_BYTES), dtype=np.uint8)
    chars = 2 * HASH_BYTES + (2 if prefixed else 0)
    offsets = np.frombuffer(
        values.buffers()[1], dtype=np.int32, count=n + 1, offset=4 * values.offset
    )
    if values.null_count or not bool((np.diff(offsets) == chars).all()):
        raise InvalidInput(f"{_first_bad_hash(values, prefixed)!r} is not a transaction hash")
    start = int(offsets[0])
    text = np.frombuffer(values.buffers()[2], dtype=np.uint8, count=n * chars, offset=start)
    if prefixed:
        matrix = text.reshape(n, chars)
        if not bool(((matrix[:, 0] == ord("0")) & (matrix[:, 1] == ord("x"))).all()):
            raise InvalidInput(f"{_first_bad_hash(values, prefixed)!r} is not a transaction hash")
        text = np.ascontiguousarray(matrix[:, 2:])
    try:
        raw = binascii.unhexlify(text.tobytes())
    except binascii.Error as exc:
        bad = _first_bad_hash(values, prefixed)
        raise InvalidInput(f"{bad!r} is not a transaction hash") from exc
    return np.frombuffer(raw, dtype=np.uint8).reshape(n, HASH_BYTES)


def _first_bad_hash(values: pa.Array, prefixed: bool) -> str | None:
    pattern = re.compile(r"^0x[0-9a-fA-F]{64}$" if prefixed else r"^[0-9a-fA-F]{64}$")
    for value in values.to_pylist():
        if value is None or not pattern.match(value):
            return value  # type: ignore[no-any-return]
    return None  # pragma: no cover - only called when one is bad


def hash_keys(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (k1, k2) keys of hashes given as an (n, 32) uint8 matrix."""
    head = np.ascontiguousarray(raw[:, :16]).view(">u8").astype("<u8").view(np.int64)
    return np.ascontiguousarray(head[:, 0]), np.ascontiguousarray(head[:, 1])


def hash_raw(value: str, *, prefixed: bool) -> bytes:
    """``hash_bytes`` of one hash, as its 32 bytes (a lookup's: no arrays to build for one
    text). The same rule and the same error: a test checks the two agree."""
    chars = 2 * HASH_BYTES + (2 if prefixed else 0)
    text = value.encode("ascii", "replace")
    if len(text) != chars or (prefixed and not text.startswith(b"0x")):
        raise InvalidInput(f"{value!r} is not a transaction hash")
    try:
        return binascii.unhexlify(text[2:] if prefixed else text)
    except binascii.Error as exc:
        raise InvalidInput(f"{value!r} is not a transaction hash") from exc


def raw_key(raw: bytes) -> tuple[int, int]:
    """``hash_keys`` of one hash's 32 bytes, in plain integers."""
    return int.from_bytes(raw[:8], "big", signed=True), int.from_bytes(
        raw[8:16], "big", signed=True
    )


def hash_key(value: str, *, prefixed: bool) -> tuple[int, int]:
    """``hash_keys`` of one hash, in plain integers."""
    return raw_key(hash_raw(value, prefixed=prefixed))


def hex_of(raw: np.ndarray, *, prefixed: bool) -> list[str]:
    """Hashes given as an (n, 32) uint8 matrix, back to canonical hex text."""
    text = binascii.hexlify(np.ascontiguousarray(raw).tobytes()).decode("ascii")
    out = [text[i : i + 2 * HASH_BYTES] for i in range(0, len(text), 2 * HASH_BYTES)]
    return ["0x" + h for h in out] if prefixed else out

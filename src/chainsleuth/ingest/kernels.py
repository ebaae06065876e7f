"""Compiled (numba, ``cache=True``) passes over raw JSON-RPC answers: the fast path of
``bitcoin.add_core_raw`` (Bitcoin Core ``getblock`` answers).

One pass over the bytes of a whole batch of answers reads the fields the store keeps
straight into numpy arrays (numbers) and positions in the bytes (strings), with no Python
object per JSON value; the Arrow columns are then built from those arrays, the strings
from the bytes gathered at those positions (``gather``, one call for all of a batch).

The fast path is deliberately narrow: it takes well-formed answers in the shape nodes send
(ASCII strings without escapes, integers as JSON integers, amounts with at most 8
decimals, lower-case hashes and hex) and gives up on anything else by returning a
negative status. The caller then decodes the same bytes with msgspec and builds the
columns the general way, which handles every other input (or says what is wrong with
it): both ways give the same tables (``tests/ingest/test_ingest_kernels.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

# The helpers allocate nothing: compiled without numba's reference counting (``_nrt=False``)
# the arrays they are handed cost no atomic increments and decrements per call, which
# otherwise take more time than the helpers' own work.
_HELPER: dict[str, Any] = {"cache": True, "_nrt": False}
_helper = njit(**_HELPER)
_inline_helper = njit(inline="always", **_HELPER)

# status codes: >= 0 done; FULL: an output array is too small (the caller grows them and
# runs again); GIVE_UP: an input the fast path does not take (the general path will)
FULL = -1
GIVE_UP = -2

_Q, _BS, _COLON, _COMMA = 34, 92, 58, 44
_LBRACE, _RBRACE, _LBRACK, _RBRACK = 123, 125, 91, 93
#: bytes that may stand in a string read here (not a quote, a backslash, a control
#: character or a byte of a multi-byte character)
_PLAIN = np.zeros(256, dtype=np.bool_)
_PLAIN[32:128] = True
_PLAIN[_Q] = _PLAIN[_BS] = False


@_inline_helper
def _ws(b: np.ndarray, i: int, n: int) -> int:
    while i < n:
        c = b[i]
        if c == 32 or c == 10 or c == 13 or c == 9:
            i += 1
        else:
            break
    return i


@_helper
def _str_end(b: np.ndarray, i: int, n: int) -> int:
    """``b[i]`` is the opening quote: the position of the closing one, or -1 where the string
    has an escape, a control character or a non-ASCII byte (or is cut short). The bytes
    must end with a quote past ``n`` (``bitcoin._joined`` puts one there)."""
    i += 1
    while _PLAIN[b[i]]:  # stops at the latest at the quote after the last answer
        i += 1
    if i < n and b[i] == _Q:
        return i
    return -1


_L8 = 0x0101010101010101
_H8 = 0x8080808080808080 - 2**64  # as an int64
_QUOTES = 0x2222222222222222
_SLASHES = 0x5C5C5C5C5C5C5C5C


@_helper
def _str_end_w(b: np.ndarray, wd: np.ndarray, i: int, n: int) -> int:
    """``kernels._str_end``, eight bytes at a time where it can: ``wd`` is ``b`` as int64
    words, and a word without a quote, a backslash, a control or a non-ASCII byte is
    passed over at once (the usual bit tricks for a zero or a small byte in a word)."""
    i += 1
    while i & 7 and _PLAIN[b[i]]:
        i += 1
    if not i & 7:
        k = i >> 3
        while True:
            x = wd[k]
            y = x ^ _QUOTES
            z = x ^ _SLASHES
            bad = (x | ((x - 0x20 * _L8) & ~x) | ((y - _L8) & ~y) | ((z - _L8) & ~z)) & _H8
            if bad:
                break
            k += 1
        i = k << 3
        while _PLAIN[b[i]]:
            i += 1
    if i < n and b[i] == _Q:
        return i
    return -1


@_helper
def _skip_number(b: np.ndarray, i: int, n: int) -> int:
    """A JSON number from ``i``: the position after it, or -1."""
    if i < n and b[i] == 45:  # -
        i += 1
    if i >= n:
        return -1
    if b[i] == 48:  # 0
        i += 1
    elif 49 <= b[i] <= 57:
        while i < n and 48 <= b[i] <= 57:
            i += 1
    else:
        return -1
    if i < n and b[i] == 46:  # .
        i += 1
        j = i
        while i < n and 48 <= b[i] <= 57:
            i += 1
        if i == j:
            return -1
    if i < n and (b[i] == 101 or b[i] == 69):  # e E
        i += 1
        if i < n and (b[i] == 43 or b[i] == 45):
            i += 1
        j = i
        while i < n and 48 <= b[i] <= 57:
            i += 1
        if i == j:
            return -1
    return i


@_helper
def _literal(b: np.ndarray, i: int, n: int) -> int:
    """``true``, ``false`` or ``null`` at ``i``: the position after it, or -1."""
    c = b[i]
    if c == 116:  # true
        if i + 4 <= n and b[i + 1] == 114 and b[i + 2] == 117 and b[i + 3] == 101:
            return i + 4
    elif c == 102:  # false
        if (
            i + 5 <= n
            and b[i + 1] == 97
            and b[i + 2] == 108
            and b[i + 3] == 115
            and b[i + 4] == 101
        ):
            return i + 5
    elif c == 110:  # null
        if i + 4 <= n and b[i + 1] == 117 and b[i + 2] == 108 and b[i + 3] == 108:
            return i + 4
    return -1


@_helper
def _is_null(b: np.ndarray, i: int, n: int) -> bool:
    return i + 4 <= n and b[i] == 110 and b[i + 1] == 117 and b[i + 2] == 108 and b[i + 3] == 108


@_helper
def skip_value(b: np.ndarray, wd: np.ndarray, i: int, n: int) -> int:
    """Any JSON value from ``i`` (checked for its grammar, not read): the position after it,
    or -1. A state machine over the bytes; nesting kept as bits of one integer (1: an
    object), up to 60 levels."""
    stack = 0
    depth = 0
    state = 0  # 0 a value, 1 after a value, 2 a key, 3 a colon, 4 a key or "}", 5 a value or "]"
    while i < n:
        c = b[i]
        if c == 32 or c == 10 or c == 13 or c == 9:
            i += 1
            continue
        if state == 0 or state == 5:
            if state == 5 and c == _RBRACK:
                stack >>= 1
                depth -= 1
                i += 1
                if depth == 0:
                    return i
                state = 1
            elif c == _Q:
                i = _str_end_w(b, wd, i, n)
                if i < 0:
                    return -1
                i += 1
                if depth == 0:
                    return i
                state = 1
            elif c == _LBRACE or c == _LBRACK:
                if depth >= 60:
                    return -1
                stack = (stack << 1) | (1 if c == _LBRACE else 0)
                depth += 1
                i += 1
                state = 4 if c == _LBRACE else 5
            else:
                if c == 45 or 48 <= c <= 57:
                    i = _skip_number(b, i, n)
                else:
                    i = _literal(b, i, n)
                if i < 0:
                    return -1
                if depth == 0:
                    return i
                state = 1
        elif state == 1:
            in_object = (stack & 1) == 1
            if c == _COMMA:
                state = 2 if in_object else 0
                i += 1
            elif (c == _RBRACE and in_object) or (c == _RBRACK and not in_object):
                stack >>= 1
                depth -= 1
                i += 1
                if depth == 0:
                    return i
            else:
                return -1
        elif state == 2 or state == 4:
            if state == 4 and c == _RBRACE:
                stack >>= 1
                depth -= 1
                i += 1
                if depth == 0:
                    return i
                state = 1
            elif c == _Q:
                i = _str_end(b, i, n)
                if i < 0:
                    return -1
                i += 1
                state = 3
            else:
                return -1
        else:  # state 3
            if c != _COLON:
                return -1
            i += 1
            state = 0
    return -1


@_helper
def _skip(b: np.ndarray, wd: np.ndarray, i: int, n: int) -> int:
    """``skip_value``, with strings (the most of what is skipped) scanned here at once."""
    if b[i] == _Q:
        e = _str_end_w(b, wd, i, n)
        return e + 1 if e >= 0 else -1
    return int(skip_value(b, wd, i, n))


@_helper
def read_int(b: np.ndarray, i: int, n: int, out: np.ndarray) -> int:
    """A JSON integer (at most 18 digits) from ``i`` into ``out[0]``: the position after it,
    or -1 (a fraction, an exponent, too many digits: not taken)."""
    neg = False
    if i < n and b[i] == 45:
        neg = True
        i += 1
    j = i
    v = 0
    while i < n and 48 <= b[i] <= 57:
        v = v * 10 + (b[i] - 48)
        i += 1
    if i == j or i - j > 18 or (b[j] == 48 and i - j > 1):
        return -1
    if i < n and (b[i] == 46 or b[i] == 101 or b[i] == 69):
        return -1
    out[0] = -v if neg else v
    return i


@_helper
def read_satoshi(b: np.ndarray, i: int, n: int, out: np.ndarray) -> int:
    """A non-negative BTC amount (a JSON number: ``50.0``, ``0.0001``, ``1e-05``) as an exact
    number of satoshi into ``out[0]``: the position after it, or -1 where it is negative,
    above 21 million BTC or finer than a satoshi (the general path rounds or refuses)."""
    j = i
    mant = 0
    digits = 0  # significant digits in mant
    scale = 0  # mant * 10**-scale is the amount
    while i < n and 48 <= b[i] <= 57:
        if mant > 0 or b[i] != 48:
            digits += 1
        mant = mant * 10 + (b[i] - 48)
        i += 1
        if digits > 17:
            return -1
    if i == j or (b[j] == 48 and i - j > 1):
        return -1
    if i < n and b[i] == 46:
        i += 1
        k = i
        while i < n and 48 <= b[i] <= 57:
            if mant > 0 or b[i] != 48:
                digits += 1
            mant = mant * 10 + (b[i] - 48)
            scale += 1
            i += 1
            if digits > 17 or scale > 30:
                return -1
        if i == k:
            return -1
    if i < n and (b[i] == 101 or b[i] == 69):
        i += 1
        neg = False
        if i < n and (b[i] == 43 or b[i] == 45):
            neg = b[i] == 45
            i += 1
        k = i
        e = 0
        while i < n and 48 <= b[i] <= 57:
            e = e * 10 + (b[i] - 48)
            i += 1
            if e > 40:
                return -1
        if i == k:
            return -1
        scale += e if neg else -e
    # satoshi = mant * 10**(8 - scale), exactly
    shift = 8 - scale
    if mant == 0:
        out[0] = 0
        return i
    if shift < 0:
        p = 1
        for _ in range(-shift):
            p *= 10
            if p > mant:
                return -1
        if mant % p != 0:
            return -1
        sat = mant // p
    else:
        sat = mant
        for _ in range(shift):
            sat *= 10
            if sat > 2_100_000_000_000_000:
                return -1
    if sat > 2_100_000_000_000_000:
        return -1
    out[0] = sat
    return i


@_helper
def key_is(b: np.ndarray, s: int, e: int, key: np.ndarray) -> bool:
    """The string ``b[s:e]`` is ``key``."""
    if e - s != key.size:
        return False
    for k in range(key.size):
        if b[s + k] != key[k]:
            return False
    return True


@_helper
def is_hex(b: np.ndarray, s: int, e: int) -> bool:
    """``b[s:e]`` is lower-case hex digits."""
    for k in range(s, e):
        c = b[k]
        if not ((48 <= c <= 57) or (97 <= c <= 102)):
            return False
    return True


@njit(cache=True, nogil=True)
def gather(b: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arrow string buffers (int32 offsets, bytes) of the strings ``b[s:s+l]``."""
    m = starts.size
    offsets = np.empty(m + 1, dtype=np.int32)
    total = 0
    offsets[0] = 0
    for k in range(m):
        total += lengths[k]
        offsets[k + 1] = total
    data = np.empty(total, dtype=np.uint8)
    at = 0
    for k in range(m):
        s = starts[k]
        for q in range(lengths[k]):
            data[at + q] = b[s + q]
        at += lengths[k]
    return offsets, data


# --- Bitcoin Core getblock answers (verbosity 2 or 3) -------------------------------------


def _key(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8).copy()


_K_HASH, _K_HEIGHT, _K_TIME, _K_TX, _K_PREV = map(
    _key, ["hash", "height", "time", "tx", "previousblockhash"]
)
_K_TXID, _K_VIN, _K_VOUT, _K_LOCKTIME, _K_VERSION, _K_SIZE, _K_VSIZE, _K_FEE = map(
    _key, ["txid", "vin", "vout", "locktime", "version", "size", "vsize", "fee"]
)
_K_COINBASE, _K_PREVOUT, _K_N, _K_VALUE, _K_SPK = map(
    _key, ["coinbase", "prevout", "n", "value", "scriptPubKey"]
)
_K_TYPE, _K_ADDRESS, _K_ADDRESSES = map(_key, ["type", "address", "addresses"])


def _signature(key: bytes) -> int:
    """``_sig`` of a key, worked out here."""
    n = len(key)
    return (
        n
        | key[0] << 8
        | (key[1] if n > 1 else 0) << 16
        | (key[2] if n > 2 else 0) << 24
        | key[-1] << 32
    )


@_inline_helper
def _sig(b: np.ndarray, s: int, e: int) -> int:
    """A key's length, first three and last bytes as one integer: keys are told apart by it
    before one comparison confirms the match."""
    n = e - s
    if n <= 0:
        return 0
    v = np.int64(n) | (np.int64(b[s]) << 8) | (np.int64(b[e - 1]) << 32)
    if n > 1:
        v |= np.int64(b[s + 1]) << 16
    if n > 2:
        v |= np.int64(b[s + 2]) << 24
    return int(v)


_S_ADDRESS = _signature(bytes(_K_ADDRESS))
_S_ADDRESSES = _signature(bytes(_K_ADDRESSES))
_S_COINBASE = _signature(bytes(_K_COINBASE))
_S_FEE = _signature(bytes(_K_FEE))
_S_HASH = _signature(bytes(_K_HASH))
_S_HEIGHT = _signature(bytes(_K_HEIGHT))
_S_LOCKTIME = _signature(bytes(_K_LOCKTIME))
_S_N = _signature(bytes(_K_N))
_S_PREV = _signature(bytes(_K_PREV))
_S_PREVOUT = _signature(bytes(_K_PREVOUT))
_S_SIZE = _signature(bytes(_K_SIZE))
_S_SPK = _signature(bytes(_K_SPK))
_S_TIME = _signature(bytes(_K_TIME))
_S_TX = _signature(bytes(_K_TX))
_S_TXID = _signature(bytes(_K_TXID))
_S_TYPE = _signature(bytes(_K_TYPE))
_S_VALUE = _signature(bytes(_K_VALUE))
_S_VERSION = _signature(bytes(_K_VERSION))
_S_VIN = _signature(bytes(_K_VIN))
_S_VOUT = _signature(bytes(_K_VOUT))
_S_VSIZE = _signature(bytes(_K_VSIZE))
#: Bitcoin Core's script types, in the order of ``bitcoin.CORE_TYPES``; the first
#: ``CORE_ADDRESS_TYPES`` carry an address; an unknown type is the last (nonstandard)
CORE_TYPE_NAMES = (
    "pubkeyhash",
    "scripthash",
    "witness_v0_keyhash",
    "witness_v0_scripthash",
    "witness_v1_taproot",
    "witness_unknown",
    "anchor",
    "pubkey",
    "multisig",
    "nulldata",
    "nonstandard",
)
CORE_ADDRESS_TYPES = 7
_TYPE_BYTES = _key("".join(CORE_TYPE_NAMES))
_TYPE_OFFSETS = np.cumsum([0] + [len(t) for t in CORE_TYPE_NAMES]).astype(np.int64)
_NONSTANDARD = len(CORE_TYPE_NAMES) - 1
_BASE58 = np.zeros(128, dtype=np.bool_)
for _c in b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz":
    _BASE58[_c] = True
_BECH32 = np.zeros(128, dtype=np.bool_)
for _c in b"qpzry9x8gf2tvdw0s3jn54khce6mua7l":
    _BECH32[_c] = True
_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1


@_helper
def btc_address_ok(b: np.ndarray, s: int, e: int) -> bool:
    """``b[s:e]`` has the shape of a canonical mainnet address (Base58 ``1..``/``3..``,
    26-35 characters; lower-case Bech32 ``bc1..``, 11-90): ``bitcoin._ADDRESS_SHAPE``."""
    n = e - s
    if n >= 3 and b[s] == 98 and b[s + 1] == 99 and b[s + 2] == 49:  # bc1
        if n < 11 or n > 90:
            return False
        for k in range(s + 3, e):
            if not _BECH32[b[k]]:
                return False
        return True
    if n >= 3 and (b[s] | 32) == 98 and (b[s + 1] | 32) == 99 and b[s + 2] == 49:
        return False  # BC1..: the general path lower-cases it
    if n < 26 or n > 35 or not (b[s] == 49 or b[s] == 51):
        return False
    for k in range(s + 1, e):
        if not _BASE58[b[k]]:
            return False
    return True


@_helper
def _script(b: np.ndarray, wd: np.ndarray, i: int, n: int) -> tuple[int, int, int, int, int, int]:
    """A ``scriptPubKey`` object at ``i``: (position after it, type code, address start,
    address length or -1, first of ``addresses`` start, its length or -1); position -1:
    give up."""
    code = _NONSTANDARD
    a_s, a_l, l_s, l_l = 0, -1, 0, -1
    if b[i] != _LBRACE:
        return -1, 0, 0, -1, 0, -1
    i = _ws(b, i + 1, n)
    if i < n and b[i] == _RBRACE:
        return i + 1, code, a_s, a_l, l_s, l_l
    while True:
        if i >= n or b[i] != _Q:
            return -1, 0, 0, -1, 0, -1
        ke = _str_end(b, i, n)
        if ke < 0:
            return -1, 0, 0, -1, 0, -1
        ks = i + 1
        sig = _sig(b, ks, ke)
        i = _ws(b, ke + 1, n)
        if i >= n or b[i] != _COLON:
            return -1, 0, 0, -1, 0, -1
        i = _ws(b, i + 1, n)
        if i >= n:
            return -1, 0, 0, -1, 0, -1
        if sig == _S_TYPE and key_is(b, ks, ke, _K_TYPE):
            if _is_null(b, i, n):
                code = _NONSTANDARD
                i += 4
            else:
                if b[i] != _Q:
                    return -1, 0, 0, -1, 0, -1
                e = _str_end(b, i, n)
                if e < 0:
                    return -1, 0, 0, -1, 0, -1
                code = _NONSTANDARD
                for t in range(_TYPE_OFFSETS.size - 1):
                    if key_is(b, i + 1, e, _TYPE_BYTES[_TYPE_OFFSETS[t] : _TYPE_OFFSETS[t + 1]]):
                        code = t
                        break
                i = e + 1
        elif sig == _S_ADDRESS and key_is(b, ks, ke, _K_ADDRESS):
            if _is_null(b, i, n):
                a_l = -1
                i += 4
            else:
                if b[i] != _Q:
                    return -1, 0, 0, -1, 0, -1
                e = _str_end(b, i, n)
                if e < 0:
                    return -1, 0, 0, -1, 0, -1
                a_s, a_l = i + 1, e - i - 1
                i = e + 1
        elif sig == _S_ADDRESSES and key_is(b, ks, ke, _K_ADDRESSES):
            l_l = -1
            if _is_null(b, i, n):
                i += 4
            else:
                if b[i] != _LBRACK:
                    return -1, 0, 0, -1, 0, -1
                i = _ws(b, i + 1, n)
                if i < n and b[i] == _RBRACK:
                    i += 1
                else:
                    first = True
                    while True:
                        if i >= n or b[i] != _Q:
                            return -1, 0, 0, -1, 0, -1
                        e = _str_end(b, i, n)
                        if e < 0:
                            return -1, 0, 0, -1, 0, -1
                        if first:
                            l_s, l_l = i + 1, e - i - 1
                            first = False
                        i = _ws(b, e + 1, n)
                        if i < n and b[i] == _COMMA:
                            i = _ws(b, i + 1, n)
                            continue
                        if i < n and b[i] == _RBRACK:
                            i += 1
                            break
                        return -1, 0, 0, -1, 0, -1
        else:
            i = _skip(b, wd, i, n)
            if i < 0:
                return -1, 0, 0, -1, 0, -1
        i = _ws(b, i, n)
        if i < n and b[i] == _COMMA:
            i = _ws(b, i + 1, n)
            continue
        if i < n and b[i] == _RBRACE:
            return i + 1, code, a_s, a_l, l_s, l_l
        return -1, 0, 0, -1, 0, -1


@_helper
def _key_at(b: np.ndarray, i: int, n: int) -> tuple[int, int, int]:
    """A key and its colon at ``i``: (key start, key end, position of its value) or -1s."""
    if i >= n or b[i] != _Q:
        return -1, -1, -1
    ke = _str_end(b, i, n)
    if ke < 0:
        return -1, -1, -1
    j = _ws(b, ke + 1, n)
    if j >= n or b[j] != _COLON:
        return -1, -1, -1
    j = _ws(b, j + 1, n)
    if j >= n:
        return -1, -1, -1
    return i + 1, ke, j


@_helper
def _next(b: np.ndarray, i: int, n: int, close: int) -> tuple[int, bool]:
    """After a member or an element: (position of the next one, True) after a comma,
    (position after ``close``, False) at the end, (-1, False) otherwise."""
    i = _ws(b, i, n)
    if i < n and b[i] == _COMMA:
        return _ws(b, i + 1, n), True
    if i < n and b[i] == close:
        return i + 1, False
    return -1, False


@_helper
def _open(b: np.ndarray, i: int, n: int, opening: int, close: int) -> tuple[int, bool]:
    """An object or array opening at ``i``: (position of its first member, True), or
    (position after it, False) where it is empty; (-1, False) if it is not one."""
    if i >= n or b[i] != opening:
        return -1, False
    i = _ws(b, i + 1, n)
    if i < n and b[i] == close:
        return i + 1, False
    if i >= n:
        return -1, False
    return i, True


@njit(cache=True, nogil=True)
def core_blocks(  # noqa: C901, PLR0912, PLR0915 - one pass over the JSON grammar
    b: np.ndarray,
    wd: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    cap_tx: int,
    cap_out: int,
    cap_in: int,
) -> tuple[Any, ...]:
    """``getblock`` answers ``b[starts[k]:ends[k]]`` read into arrays (see
    ``bitcoin._core_raw_tables``); the first item is the status (``FULL``, ``GIVE_UP``, or
    the number of transactions)."""
    nb = starts.size
    # the columns, one row each (rows of 2-D arrays: one array to hand back per table)
    blk = np.zeros((5, nb), np.int64)
    blk_height, blk_time, blk_hash, blk_prev, blk_txs = blk[0], blk[1], blk[2], blk[3], blk[4]
    blk_prev[:] = -1  # start of the hash, or -1: none
    txc = np.empty((7, cap_tx), np.int64)
    tx_id, tx_id_len, tx_coinbase, tx_fee = txc[0], txc[1], txc[2], txc[3]
    tx_locktime, tx_version, tx_size = txc[4], txc[5], txc[6]
    outc = np.empty((6, cap_out), np.int64)
    out_tx, out_n, out_value, out_type, out_addr, out_addr_len = (
        outc[0],
        outc[1],
        outc[2],
        outc[3],
        outc[4],
        outc[5],
    )
    inc = np.empty((9, cap_in), np.int64)
    in_tx, in_n, in_prev, in_prev_len, in_prev_n = inc[0], inc[1], inc[2], inc[3], inc[4]
    in_value, in_has_value, in_addr, in_addr_len = inc[5], inc[6], inc[7], inc[8]
    num = np.zeros(1, np.int64)
    nt = 0
    no = 0
    ni = 0
    status = 0
    for k in range(nb):
        n = ends[k]
        i = _ws(b, starts[k], n)
        i, more = _open(b, i, n, _LBRACE, _RBRACE)
        if i < 0 or not more:
            status = GIVE_UP
            break
        got = 0  # bits: hash, height, time, tx
        first_tx = nt
        while more:
            ks, ke, i = _key_at(b, i, n)
            if i < 0:
                break
            sig = _sig(b, ks, ke)
            if sig == _S_HASH and key_is(b, ks, ke, _K_HASH):
                if b[i] != _Q:
                    i = -1
                    break
                e = _str_end(b, i, n)
                if e - i - 1 != 64 or not is_hex(b, i + 1, e):
                    i = -1
                    break
                blk_hash[k] = i + 1
                got |= 1
                i = e + 1
            elif sig == _S_HEIGHT and key_is(b, ks, ke, _K_HEIGHT):
                i = read_int(b, i, n, num)
                blk_height[k] = num[0]
                got |= 2
            elif sig == _S_TIME and key_is(b, ks, ke, _K_TIME):
                i = read_int(b, i, n, num)
                blk_time[k] = num[0]
                got |= 4
            elif sig == _S_PREV and key_is(b, ks, ke, _K_PREV):
                if _is_null(b, i, n):
                    blk_prev[k] = -1
                    i += 4
                else:
                    if b[i] != _Q:
                        i = -1
                        break
                    e = _str_end(b, i, n)
                    if e - i - 1 != 64 or not is_hex(b, i + 1, e):
                        i = -1
                        break
                    blk_prev[k] = i + 1
                    i = e + 1
            elif sig == _S_TX and key_is(b, ks, ke, _K_TX):
                if got & 8:
                    i = -1  # twice
                    break
                got |= 8
                i, items = _open(b, i, n, _LBRACK, _RBRACK)
                while i >= 0 and items:
                    # one transaction
                    if nt >= cap_tx:
                        status = FULL
                        break
                    t = nt
                    nt += 1
                    tx_size[t] = 0
                    tx_fee[t] = 0
                    tx_coinbase[t] = 0
                    vsize = -1
                    fee = -1
                    tgot = 0  # txid, vin, vout, locktime, version
                    first_in = ni
                    i, members = _open(b, i, n, _LBRACE, _RBRACE)
                    if i < 0 or not members:
                        i = -1
                        break
                    while members:
                        ks, ke, i = _key_at(b, i, n)
                        if i < 0:
                            break
                        sig = _sig(b, ks, ke)
                        if sig == _S_TXID and key_is(b, ks, ke, _K_TXID):
                            if b[i] != _Q:
                                i = -1
                                break
                            e = _str_end(b, i, n)
                            if e < 0:
                                i = -1
                                break
                            tx_id[t] = i + 1
                            tx_id_len[t] = e - i - 1
                            tgot |= 1
                            i = e + 1
                        elif sig == _S_LOCKTIME and key_is(b, ks, ke, _K_LOCKTIME):
                            i = read_int(b, i, n, num)
                            tx_locktime[t] = num[0]
                            tgot |= 8
                        elif sig == _S_VERSION and key_is(b, ks, ke, _K_VERSION):
                            i = read_int(b, i, n, num)
                            if num[0] < _I32_MIN or num[0] > _I32_MAX:
                                i = -1
                            tx_version[t] = num[0]
                            tgot |= 16
                        elif (sig == _S_SIZE and key_is(b, ks, ke, _K_SIZE)) or (
                            sig == _S_VSIZE and key_is(b, ks, ke, _K_VSIZE)
                        ):
                            is_v = ke - ks == 5
                            if is_v and _is_null(b, i, n):
                                vsize = -1
                                i += 4
                            else:
                                i = read_int(b, i, n, num)
                                if num[0] < _I32_MIN or num[0] > _I32_MAX:
                                    i = -1
                                if is_v:
                                    vsize = num[0]
                                else:
                                    tx_size[t] = num[0]
                        elif sig == _S_FEE and key_is(b, ks, ke, _K_FEE):
                            if _is_null(b, i, n):
                                fee = -1
                                i += 4
                            else:
                                i = read_satoshi(b, i, n, num)
                                fee = num[0]
                        elif sig == _S_VOUT and key_is(b, ks, ke, _K_VOUT):
                            if tgot & 4:
                                i = -1
                                break
                            tgot |= 4
                            i, outs = _open(b, i, n, _LBRACK, _RBRACK)
                            while i >= 0 and outs:
                                if no >= cap_out:
                                    status = FULL
                                    break
                                o = no
                                no += 1
                                out_tx[o] = t
                                out_addr[o] = 0
                                out_addr_len[o] = -1
                                ogot = 0  # n, value, scriptPubKey
                                a_s, a_l, l_s, l_l, code = 0, -1, 0, -1, _NONSTANDARD
                                i, om = _open(b, i, n, _LBRACE, _RBRACE)
                                if i < 0 or not om:
                                    i = -1
                                    break
                                while om:
                                    ks, ke, i = _key_at(b, i, n)
                                    if i < 0:
                                        break
                                    sig = _sig(b, ks, ke)
                                    if sig == _S_N and key_is(b, ks, ke, _K_N):
                                        i = read_int(b, i, n, num)
                                        if num[0] < _I32_MIN or num[0] > _I32_MAX:
                                            i = -1
                                        out_n[o] = num[0]
                                        ogot |= 1
                                    elif sig == _S_VALUE and key_is(b, ks, ke, _K_VALUE):
                                        i = read_satoshi(b, i, n, num)
                                        out_value[o] = num[0]
                                        ogot |= 2
                                    elif sig == _S_SPK and key_is(b, ks, ke, _K_SPK):
                                        i, code, a_s, a_l, l_s, l_l = _script(b, wd, i, n)
                                        ogot |= 4
                                    else:
                                        i = _skip(b, wd, i, n)
                                    if i < 0:
                                        break
                                    i, om = _next(b, i, n, _RBRACE)
                                    if i < 0:
                                        break
                                if i < 0 or ogot != 7:
                                    i = -1
                                    break
                                out_type[o] = code
                                if code < CORE_ADDRESS_TYPES:
                                    if a_l < 0:
                                        a_s, a_l = l_s, l_l
                                    if a_l < 0 or not btc_address_ok(b, a_s, a_s + a_l):
                                        i = -1
                                        break
                                    out_addr[o] = a_s
                                    out_addr_len[o] = a_l
                                i, outs = _next(b, i, n, _RBRACK)
                        elif sig == _S_VIN and key_is(b, ks, ke, _K_VIN):
                            if tgot & 2:
                                i = -1
                                break
                            tgot |= 2
                            i, ins = _open(b, i, n, _LBRACK, _RBRACK)
                            p = 0
                            while i >= 0 and ins:
                                if ni >= cap_in:
                                    status = FULL
                                    break
                                r = ni
                                ni += 1
                                in_tx[r] = t
                                in_n[r] = p
                                in_prev[r] = 0
                                in_prev_len[r] = -1
                                in_prev_n[r] = 0
                                in_value[r] = 0
                                in_has_value[r] = 0
                                in_addr[r] = 0
                                in_addr_len[r] = -1
                                has_vout = False
                                i, im = _open(b, i, n, _LBRACE, _RBRACE)
                                if i < 0:
                                    break
                                while im:
                                    ks, ke, i = _key_at(b, i, n)
                                    if i < 0:
                                        break
                                    sig = _sig(b, ks, ke)
                                    if _is_null(b, i, n):
                                        # a null is an absent field for all four read here
                                        is_read = (
                                            (sig == _S_COINBASE and key_is(b, ks, ke, _K_COINBASE))
                                            or (sig == _S_TXID and key_is(b, ks, ke, _K_TXID))
                                            or (sig == _S_VOUT and key_is(b, ks, ke, _K_VOUT))
                                            or (sig == _S_PREVOUT and key_is(b, ks, ke, _K_PREVOUT))
                                        )
                                        if is_read:
                                            if (
                                                sig == _S_COINBASE
                                                and key_is(b, ks, ke, _K_COINBASE)
                                            ) and p == 0:
                                                tx_coinbase[t] = 0
                                            elif sig == _S_TXID and key_is(b, ks, ke, _K_TXID):
                                                in_prev_len[r] = -1
                                            elif sig == _S_VOUT and key_is(b, ks, ke, _K_VOUT):
                                                has_vout = False
                                            elif sig == _S_PREVOUT and key_is(
                                                b, ks, ke, _K_PREVOUT
                                            ):
                                                in_has_value[r] = 0
                                                in_addr_len[r] = -1
                                        i += 4
                                    elif sig == _S_COINBASE and key_is(b, ks, ke, _K_COINBASE):
                                        if b[i] != _Q:
                                            i = -1
                                            break
                                        e = _str_end(b, i, n)
                                        if e < 0:
                                            i = -1
                                            break
                                        if p == 0:
                                            tx_coinbase[t] = 1
                                        i = e + 1
                                    elif sig == _S_TXID and key_is(b, ks, ke, _K_TXID):
                                        if b[i] != _Q:
                                            i = -1
                                            break
                                        e = _str_end(b, i, n)
                                        if e < 0:
                                            i = -1
                                            break
                                        in_prev[r] = i + 1
                                        in_prev_len[r] = e - i - 1
                                        i = e + 1
                                    elif sig == _S_VOUT and key_is(b, ks, ke, _K_VOUT):
                                        i = read_int(b, i, n, num)
                                        has_vout = True
                                        if num[0] < _I32_MIN or num[0] > _I32_MAX:
                                            i = -1
                                        in_prev_n[r] = num[0]
                                    elif sig == _S_PREVOUT and key_is(b, ks, ke, _K_PREVOUT):
                                        # {"value": .., "scriptPubKey": {..}}
                                        i, pm = _open(b, i, n, _LBRACE, _RBRACE)
                                        has_value = False
                                        code, a_s, a_l = _NONSTANDARD, 0, -1
                                        while i >= 0 and pm:
                                            ks, ke, i = _key_at(b, i, n)
                                            if i < 0:
                                                break
                                            sig = _sig(b, ks, ke)
                                            if sig == _S_VALUE and key_is(b, ks, ke, _K_VALUE):
                                                i = read_satoshi(b, i, n, num)
                                                in_value[r] = num[0]
                                                has_value = True
                                            elif sig == _S_SPK and key_is(b, ks, ke, _K_SPK):
                                                if _is_null(b, i, n):
                                                    code, a_l = _NONSTANDARD, -1
                                                    i += 4
                                                else:
                                                    i, code, a_s, a_l, _ls, _ll = _script(
                                                        b, wd, i, n
                                                    )
                                            else:
                                                i = _skip(b, wd, i, n)
                                            if i < 0:
                                                break
                                            i, pm = _next(b, i, n, _RBRACE)
                                        if i < 0 or not has_value:
                                            i = -1
                                            break
                                        in_has_value[r] = 1
                                        in_addr_len[r] = -1
                                        if code < CORE_ADDRESS_TYPES and a_l >= 0:
                                            if not btc_address_ok(b, a_s, a_s + a_l):
                                                i = -1
                                                break
                                            in_addr[r] = a_s
                                            in_addr_len[r] = a_l
                                    else:
                                        i = _skip(b, wd, i, n)
                                    if i < 0:
                                        break
                                    i, im = _next(b, i, n, _RBRACE)
                                    if i < 0:
                                        break
                                if i < 0:
                                    break
                                if not has_vout or in_prev_len[r] < 0:
                                    in_tx[r] = -1  # no txid or vout: refused unless coinbase
                                p += 1
                                i, ins = _next(b, i, n, _RBRACK)
                        else:
                            i = _skip(b, wd, i, n)
                        if i < 0 or status == FULL:
                            break
                        i, members = _next(b, i, n, _RBRACE)
                        if i < 0:
                            break
                    if status == FULL or i < 0 or tgot != 31:
                        i = -1
                        break
                    if vsize >= 0:
                        tx_size[t] = vsize
                    if tx_coinbase[t]:
                        ni = first_in  # a coinbase's inputs spend nothing
                    else:
                        for r in range(first_in, ni):
                            if in_tx[r] < 0:
                                i = -1  # an input without txid or vout
                                break
                        if i < 0:
                            break
                        if fee >= 0:
                            tx_fee[t] = fee
                    i, items = _next(b, i, n, _RBRACK)
                if i < 0 or status == FULL:
                    i = -1
                    break
            else:
                i = _skip(b, wd, i, n)
            if i < 0:
                break
            i, more = _next(b, i, n, _RBRACE)
            if i < 0:
                break
        if status == FULL:
            break
        if i < 0 or got != 15 or _ws(b, i, n) != n:
            status = GIVE_UP
            break
        blk_txs[k] = nt - first_tx
    if status == 0:
        status = nt
    return status, no, ni, blk, txc[:, :nt], outc[:, :no], inc[:, :ni]

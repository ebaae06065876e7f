"""Compiled (numba, ``cache=True``) pass over raw Ethereum JSON-RPC answers: the fast path of
``ethereum.add_eth_raw`` (``eth_getBlockByNumber(n, true)`` answers and each block's
receipts as one JSON array, as ``eth_getBlockReceipts`` answers).

As ``kernels.core_blocks`` for Bitcoin: one pass over the bytes of a whole batch reads the
fields the store keeps into numpy arrays (hex quantities as 128-bit words, the fee
multiplied out here) and positions of strings in the bytes; the Arrow columns are then
built from those arrays. The pass is narrow on purpose: lower-case hashes and addresses,
``"0x"`` quantities, ASCII strings without escapes, receipts naming their own transaction
and block, in the shape nodes send. On anything else it gives up (``GIVE_UP``) and the
caller decodes the same bytes with msgspec and builds the columns the general way
(``ethereum.add_eth_blocks``), which reads every other input or says what is wrong with
it: both ways give the same tables (``tests/ingest/test_ingest_eth_kernels.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from chainsleuth.ingest.kernels import (
    _HELPER,
    _LBRACE,
    _LBRACK,
    _Q,
    _RBRACE,
    _RBRACK,
    FULL,
    GIVE_UP,
    _is_null,
    _key,
    _key_at,
    _literal,
    _next,
    _open,
    _sig,
    _signature,
    _skip,
    _str_end,
    _str_end_w,
    _ws,
    key_is,
)

_helper = njit(**_HELPER)

_MAX_AMOUNT = 10**38 - 1
_MAX_HI = _MAX_AMOUNT >> 64
_MAX_LO_BITS = _MAX_AMOUNT & (2**64 - 1)
_MAX_LO = _MAX_LO_BITS - 2**64 if _MAX_LO_BITS >= 2**63 else _MAX_LO_BITS
_SIGN = -(2**63)
_M28 = (1 << 28) - 1
_I32_MAX = 2**31 - 1

(
    _K_NUMBER,
    _K_HASH,
    _K_TIMESTAMP,
    _K_PARENT,
    _K_MINER,
    _K_TRANSACTIONS,
    _K_FROM,
    _K_TO,
    _K_VALUE,
    _K_NONCE,
    _K_GASPRICE,
    _K_INPUT,
    _K_DATA,
    _K_GASUSED,
    _K_TXHASH,
    _K_BLOCKHASH,
    _K_EFFECTIVE,
    _K_STATUS,
    _K_CONTRACT,
    _K_LOGS,
    _K_ADDRESS,
    _K_TOPICS,
    _K_LOGINDEX,
    _K_REMOVED,
) = map(
    _key,
    [
        "number",
        "hash",
        "timestamp",
        "parentHash",
        "miner",
        "transactions",
        "from",
        "to",
        "value",
        "nonce",
        "gasPrice",
        "input",
        "data",
        "gasUsed",
        "transactionHash",
        "blockHash",
        "effectiveGasPrice",
        "status",
        "contractAddress",
        "logs",
        "address",
        "topics",
        "logIndex",
        "removed",
    ],
)
_S_NUMBER = _signature(bytes(_K_NUMBER))
_S_HASH = _signature(bytes(_K_HASH))
_S_TIMESTAMP = _signature(bytes(_K_TIMESTAMP))
_S_PARENT = _signature(bytes(_K_PARENT))
_S_MINER = _signature(bytes(_K_MINER))
_S_TRANSACTIONS = _signature(bytes(_K_TRANSACTIONS))
_S_FROM = _signature(bytes(_K_FROM))
_S_TO = _signature(bytes(_K_TO))
_S_VALUE = _signature(bytes(_K_VALUE))
_S_NONCE = _signature(bytes(_K_NONCE))
_S_GASPRICE = _signature(bytes(_K_GASPRICE))
_S_INPUT = _signature(bytes(_K_INPUT))
_S_DATA = _signature(bytes(_K_DATA))
_S_GASUSED = _signature(bytes(_K_GASUSED))
_S_TXHASH = _signature(bytes(_K_TXHASH))
_S_BLOCKHASH = _signature(bytes(_K_BLOCKHASH))
_S_EFFECTIVE = _signature(bytes(_K_EFFECTIVE))
_S_STATUS = _signature(bytes(_K_STATUS))
_S_CONTRACT = _signature(bytes(_K_CONTRACT))
_S_LOGS = _signature(bytes(_K_LOGS))
_S_ADDRESS = _signature(bytes(_K_ADDRESS))
_S_TOPICS = _signature(bytes(_K_TOPICS))
_S_LOGINDEX = _signature(bytes(_K_LOGINDEX))
_S_REMOVED = _signature(bytes(_K_REMOVED))
#: the ERC-20 Transfer event's signature, the first topic of its logs
TRANSFER = _key("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")


@_helper
def _digit(c: int) -> int:
    """A hex digit's value (either case), or -1."""
    if 48 <= c <= 57:
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


@_helper
def _hex128(b: np.ndarray, s: int, e: int, q: np.ndarray) -> bool:
    """``b[s:e]`` (hex digits, at least one) into ``q[0]`` (low word), ``q[1]`` (high word)
    and ``q[2]`` (significant digits); False where not hex or over 32 significant digits."""
    if e <= s:
        return False
    lo = 0
    hi = 0
    sig = 0
    for k in range(s, e):
        d = _digit(b[k])
        if d < 0:
            return False
        if sig == 0 and d == 0:
            continue
        sig += 1
        if sig > 32:
            return False
        hi = (hi << 4) | ((lo >> 60) & 15)
        lo = (lo << 4) | d
    q[0] = lo
    q[1] = hi
    q[2] = sig
    return True


@_helper
def _quantity(b: np.ndarray, i: int, n: int, q: np.ndarray) -> int:
    """A hex quantity string (``"0x"`` and 1 to 32 significant digits) at ``i`` into ``q``
    (``_hex128``): the position after it, or -1."""
    if i >= n or b[i] != _Q:
        return -1
    e = _str_end(b, i, n)
    if e < 0 or e - i < 4 or b[i + 1] != 48 or b[i + 2] != 120:
        return -1
    if not _hex128(b, i + 3, e, q):
        return -1
    return int(e) + 1


@_helper
def _over_max(lo: int, hi: int) -> bool:
    """The 128-bit value (lo, hi) is over 10**38 - 1."""
    if hi < 0 or hi > _MAX_HI:
        return True
    return hi == _MAX_HI and (lo ^ _SIGN) > (_MAX_LO ^ _SIGN)


@_helper
def _lower_hex(b: np.ndarray, s: int, e: int) -> bool:
    for k in range(s, e):
        c = b[k]
        if not ((48 <= c <= 57) or (97 <= c <= 102)):
            return False
    return True


@_helper
def _hex_string(b: np.ndarray, wd: np.ndarray, i: int, n: int, digits: int) -> int:
    """A string ``"0x"`` + ``digits`` lower-case hex digits at ``i``: the position after its
    closing quote, or -1."""
    if i >= n or b[i] != _Q:
        return -1
    e = _str_end_w(b, wd, i, n)
    if e != i + 3 + digits or b[i + 1] != 48 or b[i + 2] != 120:
        return -1
    if not _lower_hex(b, i + 3, e):
        return -1
    return int(e) + 1


@_helper
def _same(b: np.ndarray, s: int, t: int, length: int) -> bool:
    for k in range(length):
        if b[s + k] != b[t + k]:
            return False
    return True


@_helper
def _string(b: np.ndarray, wd: np.ndarray, i: int, n: int) -> int:
    """A string at ``i`` (no escapes): the position of its closing quote, or -1."""
    if i >= n or b[i] != _Q:
        return -1
    return int(_str_end_w(b, wd, i, n))


@_helper
def _fee(gas: int, lo: int, hi: int, out: np.ndarray) -> bool:
    """``gas`` (below 2**28) times the 128-bit (lo, hi) into ``out[0:2]``; False where the
    product is over 10**38 - 1. By 28-bit limbs, so that no partial product overflows."""
    p0 = lo & _M28
    p1 = (lo >> 28) & _M28
    p2 = ((lo >> 56) & 255) | ((hi & 0xFFFFF) << 8)
    p3 = (hi >> 20) & _M28
    p4 = (hi >> 48) & 0xFFFF
    r0 = p0 * gas
    c = r0 >> 28
    r0 &= _M28
    r1 = p1 * gas + c
    c = r1 >> 28
    r1 &= _M28
    r2 = p2 * gas + c
    c = r2 >> 28
    r2 &= _M28
    r3 = p3 * gas + c
    c = r3 >> 28
    r3 &= _M28
    r4 = p4 * gas + c
    if r4 >> 16:  # bits from 128 on
        return False
    flo = r0 | (r1 << 28) | (r2 << 56)
    fhi = (r2 >> 8) | (r3 << 20) | (r4 << 48)
    if _over_max(flo, fhi):
        return False
    out[0] = flo
    out[1] = fhi
    return True


# rows of the transaction array (``eth_blocks``' ``txc``)
_T_HASH, _T_FROM, _T_TO, _T_VLO, _T_VHI, _T_NONCE, _T_FLO, _T_FHI = range(8)
_T_STATUS, _T_METHOD, _T_CREATED, _T_GAS, _T_PLO, _T_PHI, _T_HASP = range(8, 15)
_TX_ROWS = 15


@njit(cache=True, nogil=True)
def eth_blocks(  # noqa: C901, PLR0912, PLR0915 - one pass over the JSON grammar
    b: np.ndarray,
    wd: np.ndarray,
    bs: np.ndarray,
    be: np.ndarray,
    rs: np.ndarray,
    re: np.ndarray,
    cap_tx: int,
    cap_tr: int,
) -> tuple[Any, ...]:
    """Blocks ``b[bs[k]:be[k]]`` and their receipts (one JSON array) ``b[rs[k]:re[k]]``
    read into arrays (see ``ethereum.eth_raw_tables``); the first item is the status
    (``FULL``, ``GIVE_UP``, or the number of transactions), then the number of transfers
    and of transfer logs left out (removed, or amounts over 38 digits)."""
    nb = bs.size
    blk = np.zeros((6, nb), np.int64)  # height, time, hash at, parent at, miner at, txs
    txc = np.empty((_TX_ROWS, cap_tx), np.int64)
    # transfers: transaction, log index, token at, from at, to at, amount (low, high)
    trc = np.empty((7, cap_tr), np.int64)
    q = np.zeros(3, np.int64)
    f = np.zeros(2, np.int64)
    tops = np.zeros(4, np.int64)  # a log's topics 1..3: where each starts (66 long)
    w = np.zeros(3, np.int64)  # where a transfer's three 64-digit words start
    nt = 0
    ntr = 0
    skipped = 0
    status = 0
    for k in range(nb):
        n = be[k]
        i = _ws(b, bs[k], n)
        i, more = _open(b, i, n, _LBRACE, _RBRACE)
        if i < 0 or not more:
            status = GIVE_UP
            break
        got = 0  # number, hash, timestamp, transactions, parentHash, miner
        first_tx = nt
        blk[3, k] = -1
        blk[4, k] = -1
        while more:
            ks, ke, i = _key_at(b, i, n)
            if i < 0:
                break
            sig = _sig(b, ks, ke)
            if sig == _S_NUMBER and key_is(b, ks, ke, _K_NUMBER):
                if got & 1:
                    i = -1
                    break
                got |= 1
                i = _quantity(b, i, n, q)
                if q[2] > 15:
                    i = -1
                blk[0, k] = q[0]
            elif sig == _S_HASH and key_is(b, ks, ke, _K_HASH):
                if got & 2:
                    i = -1
                    break
                got |= 2
                blk[2, k] = i + 1
                i = _hex_string(b, wd, i, n, 64)
            elif sig == _S_TIMESTAMP and key_is(b, ks, ke, _K_TIMESTAMP):
                if got & 4:
                    i = -1
                    break
                got |= 4
                i = _quantity(b, i, n, q)
                if q[2] > 15:
                    i = -1
                blk[1, k] = q[0]
            elif sig == _S_PARENT and key_is(b, ks, ke, _K_PARENT):
                if got & 16:
                    i = -1
                    break
                got |= 16
                if _is_null(b, i, n):
                    i += 4
                else:
                    blk[3, k] = i + 1
                    i = _hex_string(b, wd, i, n, 64)
            elif sig == _S_MINER and key_is(b, ks, ke, _K_MINER):
                if got & 32:
                    i = -1
                    break
                got |= 32
                if _is_null(b, i, n):
                    i += 4
                elif i + 1 < n and b[i] == _Q and b[i + 1] == _Q:
                    i += 2  # "": none
                else:
                    blk[4, k] = i + 1
                    i = _hex_string(b, wd, i, n, 40)
            elif sig == _S_TRANSACTIONS and key_is(b, ks, ke, _K_TRANSACTIONS):
                if got & 8:
                    i = -1
                    break
                got |= 8
                i, items = _open(b, i, n, _LBRACK, _RBRACK)
                while i >= 0 and items:
                    if nt >= cap_tx:
                        status = FULL
                        break
                    t = nt
                    nt += 1
                    tgot = 0  # hash, from, value, nonce, to, gasPrice, input, data
                    txc[_T_TO, t] = -1
                    txc[_T_HASP, t] = 0
                    in_at, in_len, data_at, data_len = -1, -1, -1, -1
                    i, members = _open(b, i, n, _LBRACE, _RBRACE)
                    if i < 0 or not members:
                        i = -1
                        break
                    while members:
                        ks, ke, i = _key_at(b, i, n)
                        if i < 0:
                            break
                        sig = _sig(b, ks, ke)
                        bit = 0
                        if sig == _S_HASH and key_is(b, ks, ke, _K_HASH):
                            bit = 1
                            txc[_T_HASH, t] = i + 1
                            i = _hex_string(b, wd, i, n, 64)
                        elif sig == _S_FROM and key_is(b, ks, ke, _K_FROM):
                            bit = 2
                            txc[_T_FROM, t] = i + 1
                            i = _hex_string(b, wd, i, n, 40)
                        elif sig == _S_VALUE and key_is(b, ks, ke, _K_VALUE):
                            bit = 4
                            i = _quantity(b, i, n, q)
                            if _over_max(q[0], q[1]):
                                i = -1
                            txc[_T_VLO, t] = q[0]
                            txc[_T_VHI, t] = q[1]
                        elif sig == _S_NONCE and key_is(b, ks, ke, _K_NONCE):
                            bit = 8
                            i = _quantity(b, i, n, q)
                            if q[2] > 15:
                                i = -1
                            txc[_T_NONCE, t] = q[0]
                        elif sig == _S_TO and key_is(b, ks, ke, _K_TO):
                            bit = 16
                            if _is_null(b, i, n):
                                i += 4
                            elif i + 1 < n and b[i] == _Q and b[i + 1] == _Q:
                                i += 2
                            else:
                                txc[_T_TO, t] = i + 1
                                i = _hex_string(b, wd, i, n, 40)
                        elif sig == _S_GASPRICE and key_is(b, ks, ke, _K_GASPRICE):
                            bit = 32
                            if _is_null(b, i, n):
                                i += 4
                            else:
                                i = _quantity(b, i, n, q)
                                txc[_T_PLO, t] = q[0]
                                txc[_T_PHI, t] = q[1]
                                txc[_T_HASP, t] = 1
                        elif (sig == _S_INPUT and key_is(b, ks, ke, _K_INPUT)) or (
                            sig == _S_DATA and key_is(b, ks, ke, _K_DATA)
                        ):
                            is_input = ke - ks == 5
                            bit = 64 if is_input else 128
                            if _is_null(b, i, n):
                                i += 4
                            else:
                                e = _string(b, wd, i, n)
                                if e < 0 or (is_input and e == i + 1):
                                    i = -1  # an empty input: the general path's
                                    break
                                if is_input:
                                    in_at, in_len = i + 1, e - i - 1
                                else:
                                    data_at, data_len = i + 1, e - i - 1
                                i = e + 1
                        else:
                            i = _skip(b, wd, i, n)
                        if i < 0 or tgot & bit:
                            i = -1
                            break
                        tgot |= bit
                        i, members = _next(b, i, n, _RBRACE)
                        if i < 0:
                            break
                    if i < 0 or tgot & 15 != 15:
                        i = -1
                        break
                    # the method: input (else data, else "0x") cut to 10, where there is a to
                    if in_len < 0 and data_len > 0:
                        in_at, in_len = data_at, data_len
                    txc[_T_METHOD, t] = in_at if txc[_T_TO, t] >= 0 and in_len >= 10 else -1
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
        if i < 0 or got & 15 != 15 or _ws(b, i, n) != n:
            status = GIVE_UP
            break
        blk[5, k] = nt - first_tx
        if blk[0, k] == 0:
            blk[3, k] = -1  # block 0 has no parent
        # the block's receipts: one JSON array, one for each transaction in turn
        n = re[k]
        i = _ws(b, rs[k], n)
        i, items = _open(b, i, n, _LBRACK, _RBRACK)
        t = first_tx
        while i >= 0 and items:
            if t >= nt:
                i = -1  # more receipts than transactions
                break
            rgot = 0  # gasUsed, transactionHash, blockHash, effectiveGasPrice, status,
            # contractAddress, logs
            gas = 0
            plo, phi, has_price = 0, 0, False
            txc[_T_STATUS, t] = 1  # before Byzantium: none, successful
            txc[_T_CREATED, t] = -1
            i, members = _open(b, i, n, _LBRACE, _RBRACE)
            if i < 0 or not members:
                i = -1
                break
            while members:
                ks, ke, i = _key_at(b, i, n)
                if i < 0:
                    break
                sig = _sig(b, ks, ke)
                bit = 0
                if sig == _S_GASUSED and key_is(b, ks, ke, _K_GASUSED):
                    bit = 1
                    i = _quantity(b, i, n, q)
                    if q[2] > 7:  # below 2**28 (for _fee)
                        i = -1
                    gas = q[0]
                elif sig == _S_TXHASH and key_is(b, ks, ke, _K_TXHASH):
                    bit = 2
                    if _is_null(b, i, n):
                        i += 4
                    else:
                        e = _string(b, wd, i, n)
                        if e != i + 67 or not _same(b, i + 1, txc[_T_HASH, t], 66):
                            i = -1  # not its transaction's (the general path says so)
                            break
                        i = e + 1
                elif sig == _S_BLOCKHASH and key_is(b, ks, ke, _K_BLOCKHASH):
                    bit = 4
                    if _is_null(b, i, n):
                        i += 4
                    else:
                        e = _string(b, wd, i, n)
                        if e != i + 67 or not _same(b, i + 1, blk[2, k], 66):
                            i = -1
                            break
                        i = e + 1
                elif sig == _S_EFFECTIVE and key_is(b, ks, ke, _K_EFFECTIVE):
                    bit = 8
                    if _is_null(b, i, n):
                        i += 4
                    else:
                        i = _quantity(b, i, n, q)
                        plo, phi, has_price = q[0], q[1], True
                elif sig == _S_STATUS and key_is(b, ks, ke, _K_STATUS):
                    bit = 16
                    if _is_null(b, i, n):
                        i += 4
                    else:
                        i = _quantity(b, i, n, q)
                        if q[2] > 1 or q[0] > 1:
                            i = -1
                        txc[_T_STATUS, t] = q[0]
                elif sig == _S_CONTRACT and key_is(b, ks, ke, _K_CONTRACT):
                    bit = 32
                    if _is_null(b, i, n):
                        i += 4
                    elif i + 1 < n and b[i] == _Q and b[i + 1] == _Q:
                        i += 2
                    else:
                        txc[_T_CREATED, t] = i + 1
                        i = _hex_string(b, wd, i, n, 40)
                elif sig == _S_LOGS and key_is(b, ks, ke, _K_LOGS):
                    bit = 64
                    if _is_null(b, i, n):
                        i += 4
                    else:
                        i, logs = _open(b, i, n, _LBRACK, _RBRACK)
                        while i >= 0 and logs:
                            # one log: its fields, then whether it is a transfer
                            lgot = 0  # address, topics, data, transactionHash, logIndex,
                            # removed
                            addr_at, addr_len = -1, -1
                            ntop = 0
                            top0 = -1
                            top_ok = True
                            d_at, d_len = -1, 0
                            index = -1
                            removed = False
                            i, lm = _open(b, i, n, _LBRACE, _RBRACE)
                            if i < 0 or not lm:
                                i = -1
                                break
                            while lm:
                                ks, ke, i = _key_at(b, i, n)
                                if i < 0:
                                    break
                                sig = _sig(b, ks, ke)
                                lbit = 0
                                if sig == _S_ADDRESS and key_is(b, ks, ke, _K_ADDRESS):
                                    lbit = 1
                                    e = _string(b, wd, i, n)
                                    if e < 0:
                                        i = -1
                                        break
                                    addr_at, addr_len = i + 1, e - i - 1
                                    i = e + 1
                                elif sig == _S_TOPICS and key_is(b, ks, ke, _K_TOPICS):
                                    lbit = 2
                                    if _is_null(b, i, n):
                                        i += 4
                                    else:
                                        i, more_t = _open(b, i, n, _LBRACK, _RBRACK)
                                        while i >= 0 and more_t:
                                            e = _string(b, wd, i, n)
                                            if e < 0:
                                                i = -1
                                                break
                                            if ntop == 0:
                                                top0 = i + 1 if e - i - 1 == 66 else -1
                                            elif ntop < 4:
                                                tops[ntop] = i + 1
                                                if e - i - 1 != 66:
                                                    top_ok = False
                                            ntop += 1
                                            i, more_t = _next(b, e + 1, n, _RBRACK)
                                elif sig == _S_DATA and key_is(b, ks, ke, _K_DATA):
                                    lbit = 4
                                    if _is_null(b, i, n):
                                        i += 4
                                    else:
                                        e = _string(b, wd, i, n)
                                        if e < 0:
                                            i = -1
                                            break
                                        d_at, d_len = i + 1, e - i - 1
                                        i = e + 1
                                elif sig == _S_TXHASH and key_is(b, ks, ke, _K_TXHASH):
                                    lbit = 8
                                    if _is_null(b, i, n):
                                        i += 4
                                    else:
                                        e = _string(b, wd, i, n)
                                        if e != i + 67 or not _same(b, i + 1, txc[_T_HASH, t], 66):
                                            i = -1
                                            break
                                        i = e + 1
                                elif sig == _S_LOGINDEX and key_is(b, ks, ke, _K_LOGINDEX):
                                    lbit = 16
                                    if _is_null(b, i, n):
                                        i += 4
                                    else:
                                        i = _quantity(b, i, n, q)
                                        if q[2] > 7:
                                            i = -1
                                        index = q[0]
                                elif sig == _S_REMOVED and key_is(b, ks, ke, _K_REMOVED):
                                    lbit = 32
                                    if _is_null(b, i, n):
                                        i += 4
                                    else:
                                        e = _literal(b, i, n)
                                        if e < 0 or b[i] == 110:
                                            i = -1
                                            break
                                        removed = b[i] == 116
                                        i = e
                                else:
                                    i = _skip(b, wd, i, n)
                                if i < 0 or lgot & lbit:
                                    i = -1
                                    break
                                lgot |= lbit
                                i, lm = _next(b, i, n, _RBRACE)
                                if i < 0:
                                    break
                            if i < 0 or not lgot & 1:
                                i = -1
                                break
                            if top0 >= 0 and _same_key(b, top0, TRANSFER):
                                if removed:
                                    skipped += 1
                                else:
                                    # words: topics 1.. (after "0x"), then data's 64-digit parts
                                    if d_at < 0 or d_len == 0:
                                        d_len = 2  # "0x"
                                    parts = 0
                                    whole = True
                                    if d_len > 2:
                                        parts = (d_len - 2 + 63) // 64
                                        whole = (d_len - 2) % 64 == 0
                                        if b[d_at] != 48 or b[d_at + 1] != 120:
                                            i = -1
                                            break
                                    if top_ok and whole and ntop - 1 + parts == 3:
                                        if index < 0:
                                            i = -1  # no logIndex: the general path says so
                                            break
                                        for j in range(3):
                                            if j < ntop - 1:
                                                w[j] = tops[j + 1] + 2
                                            else:
                                                w[j] = d_at + 2 + 64 * (j - ntop + 1)
                                        if not _hex128_or_big(b, w[2], w[2] + 64, q):
                                            i = -1
                                            break
                                        if q[2] > 32 or _over_max(q[0], q[1]):
                                            skipped += 1
                                        else:
                                            if (
                                                addr_len != 42
                                                or b[addr_at] != 48
                                                or b[addr_at + 1] != 120
                                                or not _lower_hex(b, addr_at + 2, addr_at + 42)
                                            ):
                                                i = -1
                                                break
                                            if ntr >= cap_tr:
                                                status = FULL
                                                i = -1
                                                break
                                            trc[0, ntr] = t
                                            trc[1, ntr] = index
                                            trc[2, ntr] = addr_at
                                            trc[3, ntr] = w[0] + 24
                                            trc[4, ntr] = w[1] + 24
                                            trc[5, ntr] = q[0]
                                            trc[6, ntr] = q[1]
                                            ntr += 1
                            i, logs = _next(b, i, n, _RBRACK)
                else:
                    i = _skip(b, wd, i, n)
                if i < 0 or rgot & bit:
                    i = -1
                    break
                rgot |= bit
                i, members = _next(b, i, n, _RBRACE)
                if i < 0:
                    break
            if i < 0 or not rgot & 1:
                i = -1
                break
            if not has_price and txc[_T_HASP, t]:
                plo, phi = txc[_T_PLO, t], txc[_T_PHI, t]
            if not _fee(gas, plo, phi, f):
                i = -1
                break
            txc[_T_FLO, t] = f[0]
            txc[_T_FHI, t] = f[1]
            txc[_T_GAS, t] = gas
            t += 1
            i, items = _next(b, i, n, _RBRACK)
        if status == FULL:
            break
        if i < 0 or t != nt or _ws(b, i, n) != n:
            status = GIVE_UP
            break
    if status == 0:
        status = nt
    return status, ntr, skipped, blk, txc[:, :nt], trc[:, :ntr]


@_helper
def _same_key(b: np.ndarray, s: int, key: np.ndarray) -> bool:
    for k in range(key.size):
        if b[s + k] != key[k]:
            return False
    return True


@_helper
def _hex128_or_big(b: np.ndarray, s: int, e: int, q: np.ndarray) -> bool:
    """``_hex128``, where more than 32 significant digits give ``q[2] = 33`` (over any
    amount kept) rather than False; False only where not hex."""
    for k in range(s, e):
        if _digit(b[k]) < 0:
            return False
    if not _hex128(b, s, e, q):
        q[2] = 33
    elif q[2] == 0:
        q[0] = 0
        q[1] = 0
    return True


@njit(cache=True, nogil=True)
def gather_0x(
    b: np.ndarray, starts: np.ndarray, lengths: np.ndarray, prefixed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``kernels.gather`` where rows with ``prefixed`` set get ``"0x"`` before their bytes."""
    m = starts.size
    offsets = np.empty(m + 1, dtype=np.int32)
    total = 0
    offsets[0] = 0
    for k in range(m):
        total += lengths[k] + 2 * prefixed[k]
        offsets[k + 1] = total
    data = np.empty(total, dtype=np.uint8)
    at = 0
    for k in range(m):
        if prefixed[k]:
            data[at] = 48
            data[at + 1] = 120
            at += 2
        s = starts[k]
        for j in range(lengths[k]):
            data[at + j] = b[s + j]
        at += lengths[k]
    return offsets, data


@_helper
def _put(b: np.ndarray, s: int, length: int, out: np.ndarray, at: int, prefix: bool) -> int:
    if prefix:
        out[at] = 48
        out[at + 1] = 120
        at += 2
    for j in range(length):
        out[at + j] = b[s + j]
    return at + length


@njit(cache=True, nogil=True)
def eth_strings(
    b: np.ndarray, blk: np.ndarray, txc: np.ndarray, trc: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The string columns of ``eth_blocks``' arrays as one Arrow string array's buffers
    (int32 offsets, bytes) and validity, column after column: the blocks' hash, parent and
    miner; the transactions' hash, from, to, method and created contract; the transfers'
    transaction hash, token, from and to (``"0x"`` and the last 40 digits of a word)."""
    nb = blk.shape[1]
    nt = txc.shape[1]
    nr = trc.shape[1]
    m = 3 * nb + 5 * nt + 4 * nr
    starts = np.empty(m, np.int64)
    lengths = np.empty(m, np.int64)
    pre = np.zeros(m, np.bool_)
    r = 0
    for k in range(nb):
        starts[r] = blk[2, k]
        lengths[r] = 66
        r += 1
    for c, width in ((3, 66), (4, 42)):
        for k in range(nb):
            starts[r] = blk[c, k]
            lengths[r] = width if blk[c, k] >= 0 else -1
            r += 1
    for k in range(nt):
        starts[r] = txc[_T_HASH, k]
        lengths[r] = 66
        r += 1
    for k in range(nt):
        starts[r] = txc[_T_FROM, k]
        lengths[r] = 42
        r += 1
    for c, width in ((_T_TO, 42), (_T_METHOD, 10), (_T_CREATED, 42)):
        for k in range(nt):
            starts[r] = txc[c, k]
            lengths[r] = width if txc[c, k] >= 0 else -1
            r += 1
    for k in range(nr):
        starts[r] = txc[_T_HASH, trc[0, k]]
        lengths[r] = 66
        r += 1
    for k in range(nr):
        starts[r] = trc[2, k]
        lengths[r] = 42
        r += 1
    for c in (3, 4):
        for k in range(nr):
            starts[r] = trc[c, k]
            lengths[r] = 40
            pre[r] = True
            r += 1
    offsets = np.empty(m + 1, np.int32)
    valid = np.empty(m, np.bool_)
    total = 0
    offsets[0] = 0
    for k in range(m):
        if lengths[k] >= 0:
            total += lengths[k] + (2 if pre[k] else 0)
        offsets[k + 1] = total
        valid[k] = lengths[k] >= 0
    chars = np.empty(total, np.uint8)
    at = 0
    for k in range(m):
        if lengths[k] >= 0:
            at = _put(b, starts[k], lengths[k], chars, at, pre[k])
    return offsets, chars, valid

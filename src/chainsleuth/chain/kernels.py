"""Compiled (numba, ``cache=True``, without the GIL) passes of an append's index building.

``group_sums`` is the inner loop of ``encode_account.account_index``: one pass over the
contributions in key order that finds the groups (equal keys) and sums each group's
received and sent amounts exactly, in 128 bits, with numpy's temporaries fused away.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_TOP = np.uint64(63)
_ONE = np.uint64(1)


@njit(cache=True, nogil=True)
def group_sums(
    order: np.ndarray, key: np.ndarray, amount: np.ndarray, is_sent: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Contributions ``order`` (an argsort of ``key``) grouped by equal ``key``.

    ``amount``: (n, 2) uint64 words (low, high) of each contribution's 128-bit
    two's-complement amount; ``is_sent``: which side it adds to. Returns, per group in key
    order, its first contribution (a row of the inputs), its received and its sent sums as
    (groups, 2) uint64 words, and whether a sum overflowed 128 bits."""
    n = order.size
    first = np.empty(n, dtype=np.int64)
    received = np.zeros((n, 2), dtype=np.uint64)
    sent = np.zeros((n, 2), dtype=np.uint64)
    overflow = False
    g = -1
    previous = np.int64(0)
    for i in range(n):
        j = order[i]
        k = key[j]
        if g < 0 or k != previous:
            g += 1
            first[g] = j
            previous = k
        sums = sent if is_sent[j] else received
        a_lo = sums[g, 0]
        a_hi = sums[g, 1]
        b_lo = amount[j, 0]
        b_hi = amount[j, 1]
        r_lo = a_lo + b_lo
        r_hi = a_hi + b_hi
        if r_lo < a_lo:  # the carry out of the low word
            r_hi += _ONE
        sign_a = a_hi >> _TOP
        if sign_a == b_hi >> _TOP and sign_a != r_hi >> _TOP:
            overflow = True
        sums[g, 0] = r_lo
        sums[g, 1] = r_hi
    return first[: g + 1], received[: g + 1], sent[: g + 1], overflow


def warm_up() -> None:
    """Load the compiled kernels now (numba's first call costs most of a second: imports,
    the cache's lookup), say on a thread that waits anyway."""
    group_sums(
        np.zeros(1, dtype=np.int64),
        np.zeros(1, dtype=np.int64),
        np.zeros((1, 2), dtype=np.uint64),
        np.zeros(1, dtype=np.bool_),
    )

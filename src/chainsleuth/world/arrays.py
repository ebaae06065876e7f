"""Small numpy helpers: growable columns, a string store, segment operations, sampling."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

I64 = NDArray[np.int64]


class Growable:
    """A 1-D numpy array that grows by doubling; ``.a`` is the live view."""

    def __init__(self, dtype: Any, capacity: int = 1024) -> None:
        self._buf = np.zeros(capacity, dtype=dtype)
        self.n = 0

    def __len__(self) -> int:
        return self.n

    @property
    def a(self) -> NDArray[Any]:
        return self._buf[: self.n]

    def _reserve(self, extra: int) -> None:
        need = self.n + extra
        if need > self._buf.size:
            cap = max(need, 2 * self._buf.size)
            grown = np.zeros(cap, dtype=self._buf.dtype)
            grown[: self.n] = self._buf[: self.n]
            self._buf = grown

    def extend(self, values: Any) -> int:
        """Append values (array or scalar broadcast to ``count``); returns the first index."""
        arr = np.asarray(values, dtype=self._buf.dtype).ravel()
        start = self.n
        self._reserve(arr.size)
        self._buf[start : start + arr.size] = arr
        self.n += arr.size
        return start

    def fill(self, count: int, value: Any) -> int:
        start = self.n
        self._reserve(count)
        self._buf[start : start + count] = value
        self.n += count
        return start


class TextStore:
    """Strings appended once, looked up by index many times (address text by address id)."""

    def __init__(self) -> None:
        self._data = Growable(np.uint8, 1 << 16)
        self._offsets = Growable(np.int64)
        self._offsets.extend([0])
        #: the length of every text while they all have one (Ethereum addresses): then a
        #: lookup gathers rows of a byte matrix, without reading the offsets
        self._width: int | None = None

    def __len__(self) -> int:
        return self._offsets.n - 1

    def append(self, strings: pa.Array) -> None:
        arr = strings.cast(pa.large_string())
        if len(arr) == 0:
            return
        offs = np.frombuffer(arr.buffers()[1], dtype=np.int64)[
            arr.offset : arr.offset + len(arr) + 1
        ]
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offs[0] : offs[-1]]
        base = self._data.n
        lengths = np.diff(offs)
        width = int(lengths[0])
        if (len(self) == 0 or self._width == width) and width > 0 and (lengths == width).all():
            self._width = width
        else:
            self._width = None
        self._data.extend(data)
        self._offsets.extend(offs[1:] - offs[0] + base)

    def view(self) -> pa.Array:
        n = len(self)
        return pa.Array.from_buffers(
            pa.large_string(),
            n,
            [None, pa.py_buffer(self._offsets.a), pa.py_buffer(self._data.a)],
        )

    def take(self, ids: NDArray[Any]) -> pa.Array:
        """``string`` array of the texts at ``ids``; negative ids give nulls."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size == 0:
            return pa.array([], type=pa.string())
        missing = ids < 0
        any_missing = bool(missing.any())
        if self._width is not None and ids.size * self._width < 2**31:
            return self._take_fixed(ids, missing if any_missing else None)
        index = pa.array(ids, mask=missing) if any_missing else pa.array(ids)
        return pc.take(self.view(), index).cast(pa.string())

    def _take_fixed(self, ids: I64, missing: NDArray[np.bool_] | None) -> pa.Array:
        """``take`` when every text is ``_width`` bytes: the same array Arrow's take gives
        (nulls empty), about a quarter faster (no offsets to read)."""
        assert self._width is not None
        w = self._width
        if ids.size and (ids.max() >= len(self)):
            raise IndexError("text id out of range")
        rows = self._data.a.view(f"V{w}")
        n = ids.size
        if missing is None:
            data = rows[ids]
            offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
            return pa.Array.from_buffers(
                pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
            )
        data = rows[ids[~missing]]
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.where(missing, 0, w), out=offsets[1:])
        validity = pa.array(~missing).buffers()[1]
        return pa.Array.from_buffers(
            pa.string(),
            n,
            [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
            null_count=int(missing.sum()),
        )

    def get(self, i: int) -> str:
        start, end = self._offsets.a[i], self._offsets.a[i + 1]
        return self._data.a[start:end].tobytes().decode("ascii")


def group_starts(sorted_keys: NDArray[Any]) -> I64:
    """Indices where a new run of equal keys begins in a sorted array."""
    if sorted_keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    flags = np.empty(sorted_keys.size, dtype=bool)
    flags[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=flags[1:])
    return np.flatnonzero(flags)


def rank_in_groups(group_ids: NDArray[Any]) -> I64:
    """0, 1, 2, ... within runs of equal consecutive ``group_ids``."""
    n = group_ids.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = group_starts(group_ids)
    lengths = np.diff(np.append(starts, n))
    return np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)


#: tables from this size on (beyond a core's cache) are searched with sorted keys
SORTED_SEARCH_FROM = 1 << 16


#: a guide table is used while no three of its cells hold more entries than this
GUIDE_MAX_STEPS = 12


def _guided_search(cum: NDArray[Any], u: NDArray[np.float64]) -> I64 | None:
    """``np.searchsorted(cum, u, side="right")`` through a guide table (many keys, a table
    whose weights are all of a size, like a chunk's blocks): ``cum`` is cut into as many
    equal cells of value as it has entries; a key's answer lies between the counts at the
    start of the cell before its own and the end of the one after (a cell of margin either
    side for rounding), and is found in a few vectorised steps of exact comparisons, 2-5x
    faster than a binary search. ``None`` when some cells hold too many entries."""
    m = cum.size
    total = float(cum[-1])
    if m < 64 or not total > 0.0:
        return None
    scale = m / total
    starts = np.searchsorted(cum, np.arange(m + 1, dtype=np.float64) / scale, side="right")
    # low[j] = the count at the start of cell j - 1; the answer is below low[j + 3]
    low = np.concatenate([[0], starts, [m, m]])
    steps = int((low[3:] - low[:-3]).max())
    if steps > GUIDE_MAX_STEPS:
        return None
    found = low[np.minimum((u * scale).astype(np.int64), m - 1)]
    for _ in range(steps):
        found += (found < m) & (cum[np.minimum(found, m - 1)] <= u)
    return found


def weighted_choice(rng: np.random.Generator, cumweights: NDArray[Any], size: int) -> I64:
    """Indices drawn with probability proportional to weights (given as their cumsum)."""
    if size == 0 or cumweights.size == 0:
        return np.zeros(0, dtype=np.int64)
    u = rng.random(size) * cumweights[-1]
    guided = _guided_search(cumweights, u) if size >= cumweights.size // 4 else None
    if guided is not None:
        found = guided
    elif cumweights.size < SORTED_SEARCH_FROM or size < 1024:
        found = np.searchsorted(cumweights, u, side="right")
    else:  # the same answers, but keys in order walk a big table in order (2-5x faster)
        # ordered by 16-bit buckets of their value: numpy's radix sort, about 2x argsort's speed
        bucket = (u * (65535.0 / cumweights[-1])).astype(np.uint16)
        order = np.argsort(bucket, kind="stable")
        found = np.empty(size, dtype=np.int64)
        found[order] = np.searchsorted(cumweights, u[order], side="right")
    picked = np.minimum(found, cumweights.size - 1)
    return np.asarray(picked, dtype=np.int64)


class Phases:
    """Seconds spent per phase of a loop (for benchmarks): ``mark(name)`` closes a phase.

    ``seconds`` is wall-clock time, ``cpu`` the CPU time of the calling thread (steadier
    on a busy machine)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()

    def start(self) -> None:
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()

    def mark(self, name: str) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu - self._last_cpu
        self._last, self._last_cpu = now, cpu

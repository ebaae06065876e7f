"""Python lists of column values into Arrow tables, with as few conversions as possible.

A batch of small blocks makes many short columns; converting each on its own costs more in
per-call overhead than in values. So the columns of all tables are converted together, one
call per kind: every string column in one ``pa.array``, every integer column (int8..int64,
timestamps, and amounts that fit int64) through one numpy array, then sliced back into
columns (slices share the one buffer). Columns with nulls, or amounts beyond int64, are
converted on their own.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain
from typing import Any

import numpy as np
import pyarrow as pa

_flat = chain.from_iterable
_LIMITS = {
    pa.int8(): (-(2**7), 2**7 - 1),
    pa.int16(): (-(2**15), 2**15 - 1),
    pa.int32(): (-(2**31), 2**31 - 1),
}


_gc_lock = threading.Lock()
_gc_state = {"depth": 0, "was_enabled": True}


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a batch is decoded and turned into columns.

    Decoding a batch makes hundreds of thousands of objects (msgspec records, lists) that
    hold no cycles; each threshold the allocations pass starts a collection that walks the
    young ones again (some 10% of the parse time). Reference counting still frees them.
    Safe across threads: the collector comes back when the last one leaves, and only if it
    was on before."""
    with _gc_lock:
        if _gc_state["depth"] == 0:
            _gc_state["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_state["depth"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["depth"] -= 1
            if _gc_state["depth"] == 0 and _gc_state["was_enabled"]:
                gc.enable()


def _is_int(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_timestamp(kind))


def tables(
    columns: dict[str, dict[str, list[Any]]], schemas: dict[str, pa.Schema]
) -> dict[str, pa.Table]:
    """``columns[table][field]`` (lists) as Arrow tables of ``schemas[table]``.

    Raises ``pa.ArrowInvalid``/``pa.ArrowTypeError``/``OverflowError`` for values that do
    not fit their type, as ``pa.array`` would."""
    out: dict[tuple[str, str], pa.Array] = {}
    strings: list[tuple[str, str, list[Any]]] = []
    ints: list[tuple[str, str, list[Any], pa.DataType]] = []
    for name, schema in schemas.items():
        for f in schema:
            values = columns[name][f.name]
            kind = f.type
            if pa.types.is_string(kind):
                strings.append((name, f.name, values))
            elif (_is_int(kind) or pa.types.is_decimal(kind)) and None not in values:
                ints.append((name, f.name, values, kind))
            else:
                out[name, f.name] = _single(values, kind)
    if strings:
        flat = pa.array(list(_flat(v for _n, _f, v in strings)), pa.string())
        at = 0
        for name, field, values in strings:
            out[name, field] = flat.slice(at, len(values))
            at += len(values)
    if ints:
        values_all = list(_flat(v for _n, _f, v, _k in ints))
        merged: np.ndarray | None = np.array(values_all) if values_all else np.zeros(0, np.int64)
        if merged is not None and merged.dtype != np.int64:
            merged = None  # an amount beyond int64, or not an integer: one by one
        at = 0
        for name, field, values, kind in ints:
            if merged is None:
                out[name, field] = _single(values, kind)
                continue
            part = merged[at : at + len(values)]
            at += len(values)
            out[name, field] = _from_int64(part, kind)
    return {
        name: pa.Table.from_arrays([out[name, f.name] for f in schema], schema=schema)
        for name, schema in schemas.items()
    }


def _from_int64(part: np.ndarray, kind: pa.DataType) -> pa.Array:
    if pa.types.is_decimal(kind):
        return pa.array(part).cast(kind)
    if pa.types.is_timestamp(kind):
        return pa.array(part).view(kind)
    if kind == pa.int64():
        return pa.array(part)
    lo, hi = _LIMITS.get(kind, (None, None))
    if lo is not None and part.size and (part.min() < lo or part.max() > hi):
        raise OverflowError(f"a value does not fit {kind}")
    return pa.array(part.astype(kind.to_pandas_dtype()))


def _single(values: list[Any], kind: pa.DataType) -> pa.Array:
    """One column; amounts (decimal128) through int64 where they fit, which is much faster
    than converting each Python int."""
    if pa.types.is_decimal(kind):
        try:
            return pa.array(values, pa.int64()).cast(kind)
        except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    return pa.array(values, kind)

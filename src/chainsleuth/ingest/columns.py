"""Python lists of column values into Arrow tables, with as few conversions as possible.

A batch of small blocks makes many short columns; converting each on its own costs more in
per-call overhead than in values. So the columns of all tables are converted together, one
call per kind: every string column in one ``pa.array``, the integer columns of each storage
type (int8..int64; timestamps are int64) through one numpy array and one Arrow array, and
every amount column (``decimal128(38, 0)``) as one array built from its 128-bit words
(``amount_array``), then sliced back into columns (slices share the one buffer). Columns
with nulls, or with values that are not Python ints, are converted on their own.
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
AMOUNT = pa.decimal128(38, 0)  # amounts: wei, token base units
MAX_AMOUNT = 10**38 - 1
_LOW64 = 2**64 - 1
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


def _storage(kind: pa.DataType) -> pa.DataType:
    """The integer type a column's values are stored as (timestamps: int64)."""
    return pa.int64() if pa.types.is_timestamp(kind) else kind


_STRING, _AMOUNT, _INT, _OTHER = range(4)
#: a field's conversion: table, field, how (above), its type, its storage type (ints),
#: whether its values are viewed as another type (timestamps over int64)
_Step = tuple[str, str, int, pa.DataType, pa.DataType, bool]
_PLANS: dict[int, tuple[dict[str, pa.Schema], list[_Step]]] = {}


def _plan(schemas: dict[str, pa.Schema]) -> list[_Step]:
    """How each field of ``schemas`` is converted, worked out once per schemas object (the
    type tests cost more than the conversions of a small batch)."""
    found = _PLANS.get(id(schemas))
    if found is not None and found[0] is schemas:
        return found[1]
    plan: list[_Step] = []
    for name, schema in schemas.items():
        for f in schema:
            kind = f.type
            if pa.types.is_string(kind):
                how = _STRING
            elif kind == AMOUNT:
                how = _AMOUNT
            elif _is_int(kind):
                how = _INT
            else:
                how = _OTHER
            plan.append((name, f.name, how, kind, _storage(kind), pa.types.is_timestamp(kind)))
    if len(_PLANS) > 64:
        _PLANS.clear()
    _PLANS[id(schemas)] = (schemas, plan)
    return plan


def tables(
    columns: dict[str, dict[str, list[Any]]], schemas: dict[str, pa.Schema]
) -> dict[str, pa.Table]:
    """``columns[table][field]`` (lists) as Arrow tables of ``schemas[table]``.

    Raises ``pa.ArrowInvalid``/``pa.ArrowTypeError``/``OverflowError`` for values that do
    not fit their type, as ``pa.array`` would."""
    empty = {name for name, fields in columns.items() if not any(fields.values())}
    out: dict[tuple[str, str], pa.Array] = {}
    strings: list[tuple[tuple[str, str], list[Any]]] = []
    ints: dict[str, tuple[pa.DataType, list[tuple[tuple[str, str], list[Any], _Step]]]] = {}
    amounts: list[tuple[tuple[str, str], list[Any]]] = []
    for step in _plan(schemas):
        name, field, how, kind, storage, _view = step
        if name in empty:  # a table without rows: nothing to convert
            continue
        values = columns[name][field]
        if how == _STRING:
            strings.append(((name, field), values))
        elif how == _AMOUNT and None not in values:
            amounts.append(((name, field), values))
        elif how == _INT and None not in values:
            ints.setdefault(str(storage), (storage, []))[1].append(((name, field), values, step))
        else:
            out[name, field] = _single(values, kind)
    if strings:
        flat = pa.array(list(_flat(v for _k, v in strings)), pa.string())
        at = 0
        for key, values in strings:
            out[key] = flat.slice(at, len(values))
            at += len(values)
    for storage, group in ints.values():
        merged = _int64s(list(_flat(v for _k, v, _s in group)))
        if merged is None:  # not all Python ints, or beyond int64: one by one
            for key, values, step in group:
                out[key] = _single(values, step[3])
            continue
        array = _narrow(merged, storage)
        at = 0
        for key, values, step in group:
            part = array.slice(at, len(values))
            at += len(values)
            out[key] = part.view(step[3]) if step[5] else part
    if amounts:
        array = amount_array(list(_flat(v for _k, v in amounts)))
        at = 0
        for key, values in amounts:
            out[key] = array.slice(at, len(values))
            at += len(values)
    return {
        name: _empty(schema)
        if name in empty
        else pa.Table.from_arrays([out[name, n] for n in schema.names], schema=schema)
        for name, schema in schemas.items()
    }


_EMPTY: dict[int, tuple[pa.Schema, pa.Table]] = {}


def _empty(schema: pa.Schema) -> pa.Table:
    """A table of ``schema`` without rows, made once per schema (tables are immutable)."""
    found = _EMPTY.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    if len(_EMPTY) > 64:
        _EMPTY.clear()
    table = schema.empty_table()
    _EMPTY[id(schema)] = (schema, table)
    return table


def _int64s(values: list[Any]) -> np.ndarray | None:
    """Python ints as one int64 array; None where some are not ints or do not fit."""
    if values and set(map(type, values)) != {int}:
        return None
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        return None


def _narrow(values: np.ndarray, kind: pa.DataType) -> pa.Array:
    """int64 values as an Arrow array of ``kind`` (an integer type), range-checked."""
    if kind == pa.int64():
        return pa.array(values, pa.int64())
    lo, hi = _LIMITS.get(kind, (None, None))
    if lo is not None and values.size and (values.min() < lo or values.max() > hi):
        raise OverflowError(f"a value does not fit {kind}")
    return pa.array(values.astype(kind.to_pandas_dtype()), kind)


def amount_array(values: list[Any]) -> pa.Array:
    """Amounts (Python ints, within 38 digits) as a ``decimal128(38, 0)`` array, built
    straight from their 128-bit two's complement words: no per-value conversion to a
    decimal, and no cast. Other values (``Decimal``s, strings) go through ``pa.array``."""
    n = len(values)
    if n and set(map(type, values)) != {int}:
        return _single(values, AMOUNT)
    words = np.empty((n, 2), dtype=np.int64)
    low = _int64s(values)
    if low is not None:
        words[:, 0] = low
        words[:, 1] = low >> 63  # the sign, extended
    else:
        if max(values) > MAX_AMOUNT or min(values) < -MAX_AMOUNT:
            raise OverflowError("an amount does not fit 38 digits")
        words[:, 0] = np.array([v & _LOW64 for v in values], dtype=np.uint64).view(np.int64)
        words[:, 1] = np.array([v >> 64 for v in values], dtype=np.int64)
    return pa.Array.from_buffers(AMOUNT, n, [None, pa.py_buffer(words)])


def _single(values: list[Any], kind: pa.DataType) -> pa.Array:
    """One column; amounts (decimal128) through int64 where they fit, which is much faster
    than converting each Python int."""
    if pa.types.is_decimal(kind):
        try:
            return pa.array(values, pa.int64()).cast(kind)
        except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    return pa.array(values, kind)


_UTF8 = pa.string()


def repeat_strings(values: pa.Array, rows: np.ndarray, width: int) -> pa.Array:
    """``values.take(rows)`` for a string array without nulls whose strings all have
    ``width`` characters (ASCII): the rows' bytes gathered by numpy, far cheaper than
    Arrow's ``take`` for short columns."""
    n = len(rows)
    if n == 0:
        return pa.array([], _UTF8)
    data = values.buffers()[2]
    start = values.offset * width
    fixed = np.frombuffer(data, dtype=f"S{width}", count=len(values), offset=start)
    gathered = fixed[rows].tobytes()
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(_UTF8, n, [None, pa.py_buffer(offsets), pa.py_buffer(gathered)], 0)

"""Ethereum traces: the calls inside transactions, and the value they move (internal transfers).

A transaction's top-level call is the transaction itself (in ``txs``); what a contract does
with the value it receives (forwarding ETH to another address, creating a contract with an
endowment, self-destructing to a beneficiary) shows only in its traces. Three sources, one
row shape (``TRACES``, the fields ethereum-etl's ``traces`` export has):

* ``trace_block`` (parity style: erigon, nethermind, reth, openethereum) via
  ``parity_traces``; block and uncle rewards come as ``reward`` traces;
* ``debug_traceBlockByNumber`` with ``{"tracer": "callTracer"}`` (geth, and most nodes)
  via ``geth_traces``: nested call frames, numbered into trace addresses here;
* ethereum-etl ``traces`` export files (JSON lines or CSV) via ``etl_traces``.

``trace_address`` is the path of child indexes from the top-level call, as text
(``""`` for the top-level call, ``"0,2"`` for its first call's third call). ``status`` is
0 where the call or any call above it failed (its value never moved), as ethereum-etl
computes it. ``internal_transfers`` keeps what moves value: calls below the top level (and
creations and self-destructs) with a value above 0 that succeeded, leaving out
``delegatecall``/``staticcall`` (they move no value of their own).

``stored_transfers`` makes the chain store's ``traces`` table (``SOURCE["account"]``) of
them: the value-moving calls below the top level (the top-level call is the transaction),
failed ones kept with status 0 and their error (flows count only status 1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from chainsleuth.chain.schemas import ADDRESS, AMOUNT256, HASH, SOURCE
from chainsleuth.ingest.columns import tables as arrow_tables
from chainsleuth.ingest.rpc import MalformedResponse

TRACES = pa.schema(
    [
        pa.field("height", pa.int64(), nullable=False),
        pa.field("tx_position", pa.int32()),  # null for rewards
        pa.field("tx_hash", HASH),  # null for rewards, and where the source names none
        pa.field("trace_address", pa.string(), nullable=False),
        pa.field("from_address", ADDRESS),
        pa.field("to_address", ADDRESS),
        pa.field("value", AMOUNT256, nullable=False),  # wei
        pa.field("trace_type", pa.string(), nullable=False),  # call, create, suicide, reward
        pa.field("call_type", pa.string()),  # call, callcode, delegatecall, staticcall
        pa.field("error", pa.string()),
        pa.field("status", pa.int8(), nullable=False),  # 1 succeeded, 0 failed (or a parent)
    ]
)
NO_VALUE = frozenset({"delegatecall", "staticcall"})
_GETH_TYPES = {
    "CALL": ("call", "call"),
    "CALLCODE": ("call", "callcode"),
    "DELEGATECALL": ("call", "delegatecall"),
    "STATICCALL": ("call", "staticcall"),
    "CREATE": ("create", None),
    "CREATE2": ("create", None),
    "SELFDESTRUCT": ("suicide", None),
}


def _quantity(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return int(value, 16) if value.startswith("0x") else int(value)
    raise ValueError(f"{value!r} is not a quantity")


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


class _Rows:
    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {n: [] for n in TRACES.names}

    def add(self, **row: Any) -> None:
        for name, values in self.columns.items():
            values.append(row.get(name))

    def table(self) -> pa.Table:
        try:
            return arrow_tables({"traces": self.columns}, {"traces": TRACES})["traces"]
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise MalformedResponse(f"traces hold bad values: {exc}") from exc


def _statuses(rows: _Rows) -> None:
    """0 for a failed call and every call below it, within each transaction."""
    c = rows.columns
    failed: dict[tuple[Any, Any], list[tuple[str, ...]]] = {}
    order = sorted(
        range(len(c["height"])),
        key=lambda i: (c["height"][i], c["tx_position"][i] or -1, _path(c["trace_address"][i])),
    )
    for i in order:
        key = (c["height"][i], c["tx_position"][i])
        path = tuple(c["trace_address"][i].split(",")) if c["trace_address"][i] else ()
        above = failed.setdefault(key, [])
        ok = c["error"][i] is None and not any(path[: len(p)] == p for p in above)
        if not ok:
            above.append(path)
        c["status"][i] = 1 if ok else 0


def _path(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",")) if text else ()


def parity_traces(blocks: Sequence[Sequence[dict[str, Any]]], heights: Sequence[int]) -> pa.Table:
    """``trace_block`` answers (one list of traces per block) as ``TRACES`` rows."""
    rows = _Rows()
    try:
        for height, traces in zip(heights, blocks, strict=True):
            if not isinstance(traces, list):
                raise MalformedResponse(f"trace_block {height} is not a list")
            for t in traces:
                kind = t["type"]
                action = t.get("action") or {}
                result = t.get("result") or {}
                row: dict[str, Any] = {
                    "height": height,
                    "tx_position": t.get("transactionPosition"),
                    "tx_hash": _lower(t.get("transactionHash")),
                    "trace_address": ",".join(str(i) for i in t.get("traceAddress") or []),
                    "trace_type": kind,
                    "error": t.get("error") or None,
                }
                if kind == "call":
                    row.update(
                        from_address=_lower(action.get("from")),
                        to_address=_lower(action.get("to")),
                        value=_quantity(action.get("value")),
                        call_type=action.get("callType"),
                    )
                elif kind == "create":
                    row.update(
                        from_address=_lower(action.get("from")),
                        to_address=_lower(result.get("address")),
                        value=_quantity(action.get("value")),
                    )
                elif kind == "suicide":
                    row.update(
                        from_address=_lower(action.get("address")),
                        to_address=_lower(action.get("refundAddress")),
                        value=_quantity(action.get("balance")),
                    )
                elif kind == "reward":
                    row.update(
                        to_address=_lower(action.get("author")),
                        value=_quantity(action.get("value")),
                        call_type=None,
                    )
                else:
                    raise MalformedResponse(f"trace_block {height}: unknown trace type {kind!r}")
                rows.add(**row)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, MalformedResponse):
            raise
        raise MalformedResponse(f"a trace_block answer is malformed: bad field {exc}") from exc
    _statuses(rows)
    return rows.table()


def geth_traces(
    blocks: Sequence[Sequence[Any]],
    heights: Sequence[int],
    tx_hashes: Sequence[Sequence[str | None]] | None = None,
) -> pa.Table:
    """``debug_traceBlockByNumber`` answers with the ``callTracer`` (one list per block: a
    call frame per transaction, or ``{"txHash", "result": frame}``) as ``TRACES`` rows."""
    rows = _Rows()

    def walk(frame: dict[str, Any], height: int, position: int, tx: str | None, path: str) -> None:
        kind, call_type = _GETH_TYPES.get(str(frame.get("type", "")).upper(), (None, None))
        if kind is None:
            raise MalformedResponse(f"block {height}: unknown call type {frame.get('type')!r}")
        rows.add(
            height=height,
            tx_position=position,
            tx_hash=tx,
            trace_address=path,
            from_address=_lower(frame.get("from")),
            to_address=_lower(frame.get("to")),
            value=_quantity(frame.get("value")),
            trace_type=kind,
            call_type=call_type,
            error=frame.get("error") or None,
        )
        for i, child in enumerate(frame.get("calls") or []):
            walk(child, height, position, tx, f"{path},{i}" if path else str(i))

    try:
        for b, (height, frames) in enumerate(zip(heights, blocks, strict=True)):
            if not isinstance(frames, list):
                raise MalformedResponse(f"debug_traceBlockByNumber {height} is not a list")
            for position, item in enumerate(frames):
                tx = item.get("txHash") if "result" in item else None
                if tx is None and tx_hashes is not None:
                    tx = tx_hashes[b][position]
                frame = item["result"] if "result" in item else item
                walk(frame, height, position, _lower(tx), "")
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        if isinstance(exc, MalformedResponse):
            raise
        raise MalformedResponse(f"a debug_traceBlockByNumber answer is malformed: {exc}") from exc
    _statuses(rows)
    return rows.table()


def etl_traces(records: Iterable[dict[str, Any]]) -> pa.Table:
    """ethereum-etl ``traces`` export records (JSON lines or CSV rows) as ``TRACES`` rows."""
    rows = _Rows()
    has_status = True
    try:
        for r in records:
            address = r.get("trace_address")
            if isinstance(address, list):
                address = ",".join(str(i) for i in address)
            status = r.get("status")
            has_status = has_status and status not in (None, "")
            position = r.get("transaction_index")
            rows.add(
                height=_quantity(r["block_number"]),
                tx_position=None if position in (None, "") else _quantity(position),
                tx_hash=_lower(r.get("transaction_hash")),
                trace_address=address or "",
                from_address=_lower(r.get("from_address")),
                to_address=_lower(r.get("to_address")),
                value=_quantity(r.get("value")),
                trace_type=r["trace_type"],
                call_type=r.get("call_type") or None,
                error=r.get("error") or None,
                status=None if status in (None, "") else _quantity(status),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedResponse(f"an ethereum-etl trace record is malformed: {exc}") from exc
    if not has_status:
        _statuses(rows)
    return rows.table()


def internal_transfers(traces: pa.Table) -> pa.Table:
    """The traces that move value inside transactions: below the top-level call (or
    creations and self-destructs anywhere), value above 0, succeeded, not a
    ``delegatecall``/``staticcall``; rewards left out."""
    rows = traces.to_pylist()
    keep = [
        (r["trace_address"] != "" or r["trace_type"] in ("create", "suicide"))
        and r["trace_type"] != "reward"
        and r["value"] > 0
        and r["status"] == 1
        and r["call_type"] not in NO_VALUE
        for r in rows
    ]
    return traces.filter(pa.array(keep, pa.bool_()))


def stored_transfers(traces: pa.Table, where: str = "eth") -> pa.Table:
    """The rows of the store's ``traces`` table (``SOURCE["account"]["traces"]``) in
    ``traces``: value above 0 below the top-level call of a transaction, not a
    ``delegatecall``/``staticcall``, with both addresses (a failed creation has no new
    address), failed ones included (status 0)."""
    schema = SOURCE["account"]["traces"]
    rows = traces.to_pylist()
    keep = [
        r["trace_address"] != ""
        and r["trace_type"] in ("call", "create", "suicide")
        and r["tx_hash"] is not None
        and r["from_address"] is not None
        and r["to_address"] is not None
        and r["value"] > 0
        and r["call_type"] not in NO_VALUE
        for r in rows
    ]
    kept = traces.filter(pa.array(keep, pa.bool_())).select(schema.names)
    for column in ("from_address", "to_address"):
        for value in kept[column].to_pylist():
            if not _ADDRESS_TEXT.match(value):
                raise MalformedResponse(f"an internal transfer of {where}: {value!r} is no address")
    return kept.cast(schema)


_ADDRESS_TEXT = re.compile(r"^0x[0-9a-f]{40}$")

"""Reading the store: addresses, transactions, blocks, statistics and search.

A ``ChainReader`` works on one DuckDB connection (a cursor) that no other thread uses;
``chainsleuth.chain.access`` hands one out per request, ``ChainStore.reader()`` one per
caller. Every query binds its values as parameters.

An address page is three indexed queries: the address's id (zone maps on its 128-bit
key), its totals and its newest transactions with running balances (zone maps on
``address_id`` in the sorted index); the transaction hashes come from the flat file by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pyarrow as pa

from chainsleuth.chain import explorer, storage
from chainsleuth.chain.addresses import (
    canonical_address,
    canonical_hash,
    display_address,
)
from chainsleuth.chain.chains import ChainInfo, get_chain
from chainsleuth.chain.enums import ChainKind
from chainsleuth.chain.explorer import MAX_PAGE, native_asset, utc
from chainsleuth.chain.keys import address_key, address_keys, hash_bytes, hash_key, hex_of
from chainsleuth.chain.records import (
    AddressSummary,
    AddressTx,
    AddressTxEntry,
    AddressTxPage,
    Asset,
    AssetTotals,
    BlockDetail,
    InternalTransfer,
    SearchHit,
    StoreStats,
    TokenTransfer,
    TxDetail,
    TxInput,
    TxOutput,
)
from chainsleuth.core.errors import InvalidInput, NotFound

NO_CURSOR = 1 << 62
_SMALL = 4096  # an address with at most this many index rows is read whole
_Row = tuple[int, int, int, int, int]  # tx_id, height, asset_id, received, sent


class _Totals(NamedTuple):
    asset_id: int
    rows: int
    received: int
    sent: int
    first_tx: int
    last_tx: int
    first_height: int
    last_height: int


# the address index of each kind of chain, and its asset column (fixed SQL, never input)
_INDEX = {ChainKind.UTXO: "utxo_address_txs", ChainKind.ACCOUNT: "account_address_txs"}
_ASSET = {ChainKind.UTXO: f"{storage.NATIVE_ASSET}::BIGINT", ChainKind.ACCOUNT: "asset_id"}


class ChainReader:
    """Lookups over the store. ``con`` is None when no store exists yet (nothing loaded)."""

    def __init__(self, con: duckdb.DuckDBPyConnection | None, root: Path) -> None:
        self.con = con
        self.root = root
        self._known: dict[tuple[str, str], tuple[int, str | None] | None] = {}
        self._sums: dict[tuple[str, int], list[_Totals]] = {}
        self._row_cache: dict[tuple[str, int], list[_Row] | None] = {}

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def __enter__(self) -> ChainReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- helpers ----------------------------------------------------------------------------

    def _db(self) -> duckdb.DuckDBPyConnection:
        if self.con is None:
            raise NotFound("no chain data has been loaded yet")
        return self.con

    def _flat(self, chain: str) -> storage.FlatFiles:
        return storage.FlatFiles(self.root / chain)

    def _addresses(self, chain: str, ids: list[int | None]) -> list[str | None]:
        """Display texts for address ids (None stays None)."""
        wanted = sorted({i for i in ids if i is not None})
        texts = dict(zip(wanted, self._flat(chain).addresses(wanted), strict=True))
        return [display_address(chain, texts[i]) if i is not None else None for i in ids]

    def _hashes(self, chain: str, tx_ids: list[int]) -> list[str]:
        prefixed = get_chain(chain).kind is ChainKind.ACCOUNT
        return hex_of(self._flat(chain).tx_hashes(tx_ids), prefixed=prefixed)

    def _assets(self, info: ChainInfo, ids: set[int]) -> dict[int, Asset]:
        assets = {storage.NATIVE_ASSET: native_asset(info)}
        tokens = sorted(i for i in ids if i != storage.NATIVE_ASSET)
        if tokens:
            found = storage.rows(
                self._db(),
                """SELECT token_id, symbol, decimals FROM tokens
                   WHERE chain = ? AND token_id IN (SELECT unnest(?::BIGINT[]))""",
                [info.id, tokens],
            )
            meta = {row[0]: row for row in found}
            texts = self._addresses(info.id, list(tokens))
            for token_id, text in zip(tokens, texts, strict=True):
                _, symbol, decimals = meta.get(token_id, (token_id, None, None))
                assets[token_id] = Asset(
                    id=token_id,
                    symbol=symbol or (text or "?")[:10],
                    decimals=decimals if decimals is not None else 0,
                    token=text,
                )
        return assets

    def _segment(self, chain: str, table: str, tx_id: int) -> str | None:
        row = storage.one(
            self._db(),
            """SELECT path FROM segments WHERE chain = ? AND tbl = ?
               AND first_tx_id <= ? AND last_tx_id >= ?""",
            [chain, table, tx_id, tx_id],
        )
        return str(self.root / row[0]) if row else None

    def _block_of(self, chain: str, tx_id: int) -> tuple[int, str, datetime, int]:
        row = storage.one(
            self._db(),
            """SELECT height, hash, epoch(time)::BIGINT, first_tx_id FROM blocks
               WHERE chain = ? AND first_tx_id <= ? AND first_tx_id + tx_count > ?""",
            [chain, tx_id, tx_id],
        )
        if row is None:  # pragma: no cover - every stored tx lies in a stored block
            raise NotFound(f"no block holds transaction {tx_id} of {chain}")
        return row[0], row[1], utc(row[2]), row[3]

    # --- addresses --------------------------------------------------------------------------

    def address_id(self, chain: str, address: str) -> int | None:
        """The id of an address, or None when the store has never seen it."""
        found = self._address(chain, address)
        return found[0] if found else None

    def address_ids(self, chain: str, addresses: Sequence[str]) -> np.ndarray:
        """The ids of many addresses at once, in order (-1 where the store never saw one):
        one join on the dictionary's keys, each text checked against the flat file."""
        info = get_chain(chain)
        texts = [canonical_address(info.id, a) for a in addresses]
        out = np.full(len(texts), -1, dtype=np.int64)
        if not texts or self.con is None:
            return out
        k1, k2 = address_keys(pa.array(texts, pa.string()))
        keys = pa.table({"i": np.arange(len(texts), dtype=np.int64), "k1": k1, "k2": k2})
        name = f"_wanted_addresses_{id(keys)}"
        self.con.register(name, keys)
        try:
            found = storage.arrow(
                self.con,
                f"SELECT w.i, a.address_id FROM {name} w JOIN addresses a "
                "ON a.chain = ? AND a.k1 = w.k1 AND a.k2 = w.k2",
                [info.id],
            )
        finally:
            self.con.unregister(name)
        if found.num_rows:
            rows = found["i"].to_numpy()
            ids = found["address_id"].to_numpy()
            stored = self._flat(info.id).addresses(ids)
            same = np.array([stored[j] == texts[r] for j, r in enumerate(rows)], dtype=bool)
            out[rows[same]] = ids[same]
        return out

    def _address(self, chain: str, address: str) -> tuple[int, str | None] | None:
        """(id, kind) of an address (remembered for the reader's life: one request)."""
        info = get_chain(chain)
        text = canonical_address(info.id, address)
        key = (info.id, text)
        if key in self._known:
            return self._known[key]
        result: tuple[int, str | None] | None = None
        if self.con is not None:
            k1, k2 = address_key(text)
            for address_id, kind in storage.rows(
                self.con,
                "SELECT address_id, kind FROM addresses WHERE chain = ? AND k1 = ? AND k2 = ?",
                [info.id, k1, k2],
            ):
                if self._flat(info.id).addresses([address_id]) == [text]:
                    result = (int(address_id), kind)
        self._known[key] = result
        return result

    def _require_address(self, chain: str, address: str) -> tuple[ChainInfo, int, str, str | None]:
        info = get_chain(chain)
        found = self._address(info.id, address)
        shown = display_address(info.id, canonical_address(info.id, address))
        if found is None:
            raise NotFound(f"no activity of {shown} on {info.name}")
        return info, found[0], shown, found[1]

    def _all_rows(self, info: ChainInfo, address_id: int) -> list[_Row] | None:
        """Every index row of the address, when it has at most ``_SMALL`` (most do): then
        totals and pages come from them without more queries. None for a busier one."""
        key = (info.id, address_id)
        if key not in self._row_cache:
            found = storage.rows(
                self._db(),
                f"""SELECT tx_id, height, {_ASSET[info.kind]} AS asset_id, received::HUGEINT,
                           sent::HUGEINT
                    FROM {_INDEX[info.kind]} WHERE chain = ? AND address_id = ? LIMIT ?""",
                [info.id, address_id, _SMALL + 1],
            )
            self._row_cache[key] = (
                [(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in found]
                if len(found) <= _SMALL
                else None
            )
        return self._row_cache[key]

    def _totals(self, info: ChainInfo, address_id: int) -> list[_Totals]:
        """Per asset, by asset id: rows, received, sent, first and last tx and height."""
        key = (info.id, address_id)
        if key in self._sums:
            return self._sums[key]
        rows = self._all_rows(info, address_id)
        totals: list[_Totals] = []
        if rows is not None:
            per: dict[int, list[int]] = {}
            for tx_id, height, asset_id, received, sent in rows:
                t = per.setdefault(asset_id, [0, 0, 0, tx_id, tx_id, height, height])
                t[0] += 1
                t[1] += received
                t[2] += sent
                if tx_id < t[3]:
                    t[3], t[5] = tx_id, height
                if tx_id > t[4]:
                    t[4], t[6] = tx_id, height
            totals = [_Totals(a, *v) for a, v in sorted(per.items())]
        else:
            totals = [
                _Totals(r[0], r[1], int(r[2]), int(r[3]), r[4], r[5], r[6], r[7])
                for r in storage.rows(
                    self._db(),
                    f"""SELECT {_ASSET[info.kind]} AS asset_id, count(*),
                               sum(received)::HUGEINT, sum(sent)::HUGEINT,
                               min(tx_id), max(tx_id), min(height), max(height)
                        FROM {_INDEX[info.kind]} WHERE chain = ? AND address_id = ?
                        GROUP BY ALL ORDER BY asset_id""",
                    [info.id, address_id],
                )
            ]
        self._sums[key] = totals
        return totals

    def address_summary(self, chain: str, address: str) -> AddressSummary:
        info, address_id, shown, kind = self._require_address(chain, address)
        totals = self._totals(info, address_id)
        if not totals:
            raise NotFound(f"no activity of {shown} on {info.name}")
        first = min(totals, key=lambda t: t.first_tx)
        last = max(totals, key=lambda t: t.last_tx)
        if info.kind is ChainKind.UTXO:
            tx_count = totals[0].rows
        else:
            rows = self._all_rows(info, address_id)
            tx_count = (
                len({r[0] for r in rows})
                if rows is not None
                else storage.one(
                    self._db(),
                    "SELECT count(DISTINCT tx_id) FROM account_address_txs "
                    "WHERE chain = ? AND address_id = ?",
                    [info.id, address_id],
                )[0]
            )
        _, times = self._flat(info.id).tx_records([first.first_tx, last.last_tx])
        assets = self._assets(info, {t.asset_id for t in totals})
        return AddressSummary(
            chain=info.id,
            address=shown,
            address_id=address_id,
            kind=kind,
            first_seen_height=first.first_height,
            first_seen_time=utc(int(times[0])),
            last_seen_height=last.last_height,
            last_seen_time=utc(int(times[1])),
            tx_count=tx_count,
            assets=[
                AssetTotals(
                    asset=assets[t.asset_id],
                    tx_count=t.rows,
                    received=t.received,
                    sent=t.sent,
                    balance=t.received - t.sent,
                )
                for t in totals
            ],
        )

    def address_txs(
        self, chain: str, address: str, *, limit: int = 50, before: int | None = None
    ) -> AddressTxPage:
        """The address's transactions, newest first, ``limit`` at a time.

        ``before`` is the ``next_before`` of the previous page (a tx_id). Each entry carries
        the address's balance of that asset right after the transaction: the total less
        the changes of every newer transaction.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
        info, address_id, shown, _ = self._require_address(chain, address)
        totals = self._totals(info, address_id)
        balance = {t.asset_id: t.received - t.sent for t in totals}
        cursor = NO_CURSOR if before is None else before
        rows = self._all_rows(info, address_id)
        if rows is not None:
            for tx_id, _, asset_id, received, sent in rows:
                if tx_id >= cursor:  # take off what the newer transactions changed
                    balance[asset_id] -= received - sent
            found = [r for r in rows if r[0] < cursor]
        else:
            found = self._page_rows(info, address_id, cursor, limit * len(balance), balance)
        found.sort(key=lambda r: (-r[0], r[2]))
        keep = set(list(dict.fromkeys(r[0] for r in found))[:limit])
        found = [r for r in found if r[0] in keep]
        tx_ids = list(dict.fromkeys(r[0] for r in found))
        raw, times = self._flat(info.id).tx_records(tx_ids)
        prefixed = info.kind is ChainKind.ACCOUNT
        hashes = dict(zip(tx_ids, hex_of(raw, prefixed=prefixed), strict=True))
        when = dict(zip(tx_ids, times.tolist(), strict=True))
        assets = self._assets(info, {r[2] for r in found})
        txs: dict[int, AddressTx] = {}
        for tx_id, height, asset_id, received, sent in found:
            delta = received - sent
            entry = AddressTxEntry(
                asset=assets[asset_id],
                received=received,
                sent=sent,
                delta=delta,
                balance=balance[asset_id],
            )
            balance[asset_id] -= delta
            if tx_id not in txs:
                txs[tx_id] = AddressTx(
                    tx_id=tx_id,
                    hash=hashes[tx_id],
                    height=height,
                    time=utc(when[tx_id]),
                    entries=[],
                )
            txs[tx_id].entries.append(entry)
        page = list(txs.values())
        return AddressTxPage(
            chain=info.id,
            address=shown,
            txs=page,
            next_before=page[-1].tx_id if len(page) == limit else None,
        )

    def _page_rows(
        self, info: ChainInfo, address_id: int, cursor: int, rows: int, balance: dict[int, int]
    ) -> list[_Row]:
        """A busy address's newest rows before ``cursor`` (adjusting ``balance`` to it)."""
        index, asset = _INDEX[info.kind], _ASSET[info.kind]
        con = self._db()
        if cursor != NO_CURSOR:
            for asset_id, newer in storage.rows(
                con,
                f"""SELECT {asset} AS asset_id, sum(received - sent)::HUGEINT FROM {index}
                    WHERE chain = ? AND address_id = ? AND tx_id >= ? GROUP BY ALL""",
                [info.id, address_id, cursor],
            ):
                balance[asset_id] -= int(newer)
        found = storage.rows(
            con,
            f"""SELECT tx_id, height, {asset} AS asset_id, received::HUGEINT, sent::HUGEINT
                FROM {index} WHERE chain = ? AND address_id = ? AND tx_id < ?
                ORDER BY tx_id DESC LIMIT ?""",
            [info.id, address_id, cursor, rows],
        )
        return [(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in found]

    # --- transactions -----------------------------------------------------------------------

    def tx_id(self, chain: str, tx_hash: str) -> int | None:
        info = get_chain(chain)
        text = canonical_hash(info.id, tx_hash)
        if self.con is None:
            return None
        prefixed = info.kind is ChainKind.ACCOUNT
        k1, _ = hash_key(text, prefixed=prefixed)
        wanted = hash_bytes(pa.array([text], pa.string()), prefixed=prefixed)[0]
        candidates = [
            r[0]
            for r in storage.rows(
                self.con,
                "SELECT tx_id FROM tx_keys WHERE chain = ? AND k1 = ? ORDER BY tx_id DESC",
                [info.id, k1],
            )
        ]
        if candidates:
            stored = self._flat(info.id).tx_hashes(candidates)
            for tx_id, raw in zip(candidates, stored, strict=True):
                if bytes(raw) == bytes(wanted):
                    return int(tx_id)
        return None

    def tx(self, chain: str, tx_hash: str) -> TxDetail:
        info = get_chain(chain)
        tx_id = self.tx_id(info.id, tx_hash)
        if tx_id is None:
            raise NotFound(f"no transaction {canonical_hash(info.id, tx_hash)} on {info.name}")
        con = self._db()
        height, block_hash, _, _ = self._block_of(info.id, tx_id)
        path = self._segment(info.id, "txs", tx_id)
        row = storage.arrow(
            con, "SELECT * FROM read_parquet(?) WHERE tx_id = ?", [path, tx_id]
        ).to_pylist()[0]
        common: dict[str, Any] = {
            "chain": info.id,
            "kind": str(info.kind),
            "tx_id": tx_id,
            "hash": canonical_hash(info.id, tx_hash),
            "height": height,
            "position": row["position"],
            "time": row["time"],
            "block_hash": block_hash,
            "fee": int(row["fee"]),
            "native": native_asset(info),
        }
        if info.kind is ChainKind.UTXO:
            return self._utxo_tx(info, tx_id, row, common)
        return self._account_tx(info, tx_id, row, common)

    def _rows(self, chain: str, table: str, tx_id: int, order: str) -> list[dict[str, Any]]:
        path = self._segment(chain, table, tx_id)
        if path is None:
            return []
        # ``order`` is one of the fixed column lists of the callers below
        found: list[dict[str, Any]] = storage.arrow(
            self._db(),
            f"SELECT * FROM read_parquet(?) WHERE tx_id = ? ORDER BY {order}",
            [path, tx_id],
        ).to_pylist()
        return found

    def _utxo_tx(
        self, info: ChainInfo, tx_id: int, row: dict[str, Any], common: dict[str, Any]
    ) -> TxDetail:
        inputs = self._rows(info.id, "inputs", tx_id, "n")
        outputs = self._rows(info.id, "outputs", tx_id, "n")
        spends = storage.rows(
            self._db(),
            "SELECT prev_n, tx_id, n FROM spends WHERE chain = ? AND prev_tx_id = ?",
            [info.id, tx_id],
        )
        spent_by = {prev_n: (spender, n) for prev_n, spender, n in spends}
        in_addr = self._addresses(info.id, [r["address_id"] for r in inputs])
        out_addr = self._addresses(info.id, [r["address_id"] for r in outputs])
        linked = sorted(
            {r["prev_tx_id"] for r in inputs if r["prev_tx_id"] is not None}
            | {s[0] for s in spent_by.values()}
        )
        hashes: dict[int | None, str | None] = dict(
            zip(linked, self._hashes(info.id, linked), strict=True)
        )
        hashes[None] = None  # spends an output below the store's first block
        return TxDetail(
            **common,
            coinbase=row["coinbase"],
            size=row["size"],
            locktime=row["locktime"],
            version=row["version"],
            input_value=row["input_value"],
            output_value=row["output_value"],
            inputs=[
                TxInput(
                    n=r["n"],
                    prev_hash=hashes[r["prev_tx_id"]],
                    prev_n=r["prev_n"],
                    address=a,
                    value=r["value"],
                )
                for r, a in zip(inputs, in_addr, strict=True)
            ],
            outputs=[
                TxOutput(
                    n=r["n"],
                    address=a,
                    value=r["value"],
                    script_type=r["script_type"],
                    spent_by=hashes[spent_by[r["n"]][0]] if r["n"] in spent_by else None,
                    spent_by_input=spent_by[r["n"]][1] if r["n"] in spent_by else None,
                )
                for r, a in zip(outputs, out_addr, strict=True)
            ],
        )

    def _account_tx(
        self, info: ChainInfo, tx_id: int, row: dict[str, Any], common: dict[str, Any]
    ) -> TxDetail:
        transfers = self._rows(info.id, "token_transfers", tx_id, "log_index")
        traces = sorted(
            self._rows(info.id, "traces", tx_id, "trace_address"),
            key=lambda t: [int(i) for i in t["trace_address"].split(",") if i],
        )
        ids = [row["from_id"], row["to_id"], row["created_contract_id"]]
        ids += [t[k] for t in transfers for k in ("from_id", "to_id")]
        ids += [t[k] for t in traces for k in ("from_id", "to_id")]
        texts = self._addresses(info.id, ids)
        at = 3 + 2 * len(transfers)
        assets = self._assets(info, {t["token_id"] for t in transfers})
        return TxDetail(
            **common,
            from_address=texts[0],
            to_address=texts[1],
            created_contract=texts[2],
            value=int(row["value"]),
            status=row["status"],
            method=row["method"],
            nonce=row["nonce"],
            gas_used=row["gas_used"],
            token_transfers=[
                TokenTransfer(
                    log_index=t["log_index"],
                    token=assets[t["token_id"]],
                    from_address=texts[3 + 2 * i] or "",
                    to_address=texts[4 + 2 * i] or "",
                    amount=int(t["amount"]),
                )
                for i, t in enumerate(transfers)
            ],
            internal_transfers=[
                InternalTransfer(
                    trace_address=t["trace_address"],
                    from_address=texts[at + 2 * i] or "",
                    to_address=texts[at + 2 * i + 1] or "",
                    value=int(t["value"]),
                    trace_type=t["trace_type"],
                    call_type=t["call_type"],
                    status=t["status"],
                    error=t["error"],
                )
                for i, t in enumerate(traces)
            ],
        )

    # --- blocks, statistics, search (chainsleuth.chain.explorer) ----------------------------

    def block(self, chain: str, height: int, *, limit: int = 50, after: int = -1) -> BlockDetail:
        """A block and its transactions from position ``after + 1`` on, ``limit`` of them."""
        return explorer.block(self, chain, height, limit=limit, after=after)

    def latest_blocks(self, chain: str, limit: int = 10) -> list[tuple[int, str, datetime, int]]:
        """(height, hash, time, tx count) of the newest blocks."""
        return explorer.latest_blocks(self, chain, limit)

    def stats(self) -> StoreStats:
        """Per chain: tip, counts and size on disk."""
        return explorer.stats(self)

    def search(self, query: str) -> list[SearchHit]:
        """What ``query`` names on any chain (see ``chainsleuth.chain.explorer.search``)."""
        return explorer.search(self, query)

"""Exchange A's money records for one chain: deposit addresses, deposits, withdrawals,
trades, the ledger and balances of the chain's assets (BTC; ETH and USDT).

Run by each chain's generator as soon as its chain is written (so the two chains' records
are made side by side); each writes ``exchange/.part-<chain>-<table>.csv``, which
``exchange.write_exchange`` joins into the export's files. Customer ids are a bijection of
actor ids (``customer_id``), so no process needs the others' customer list.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from chainsleuth.world import ids
from chainsleuth.world.account_state import WEI_PER_UNIT
from chainsleuth.world.csvtext import write_csv
from chainsleuth.world.plan import STREAMS, WorldPlan
from chainsleuth.world.presets import DAY

I64 = NDArray[np.int64]
ASSETS = ["BTC", "ETH", "USDT"]
#: per asset: (decimals, internal unit -> smallest unit, withdrawal fee in internal units)
ASSET_UNITS = {
    "BTC": (8, 1, 20_000),
    "ETH": (18, WEI_PER_UNIT, 2 * 10**8),
    "USDT": (6, 1, 2_000_000),
}
TIME = pa.timestamp("s", tz="UTC")
TABLES = ["deposit_addresses", "deposits", "withdrawals", "trades", "ledger", "balances"]
_MULT = 387_420_489  # 3**18: coprime with 10**9, so actor -> number is a bijection


def customer_numbers(seed: int, actors: NDArray[Any]) -> I64:
    salt = seed % 1_000_000_000
    return (np.asarray(actors, dtype=np.int64) * _MULT + salt) % 1_000_000_000


def customer_ids(seed: int, actors: NDArray[Any]) -> pa.Array:
    return ids_text("C", customer_numbers(seed, actors), 9)


def ids_text(prefix: str, numbers: NDArray[Any], width: int) -> pa.Array:
    """``prefix`` + zero-padded numbers, as an Arrow string array (vectorised)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if 0 < width <= 18 and numbers.size and numbers.min() >= 0 and numbers.max() < 10**width:
        return _fixed_ids(prefix.encode(), numbers, width)
    text = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")


def _fixed_ids(prefix: bytes, numbers: I64, width: int) -> pa.Array:
    """``ids_text`` for numbers of at most ``width`` digits: every text has the same length,
    so the digits go straight into one byte matrix (about 4x cheaper than cast, pad, join)."""
    head = len(prefix)
    size = head + width
    out = np.empty((numbers.size, size), dtype=np.uint8)
    out[:, :head] = np.frombuffer(prefix, dtype=np.uint8)
    x: NDArray[np.unsignedinteger[Any]] = numbers.astype(np.uint32 if width <= 9 else np.uint64)
    ten = np.uint32(10) if width <= 9 else np.uint64(10)
    for j in range(size - 1, head - 1, -1):
        q = x // ten
        out[:, j] = x - q * ten + ord("0")
        x = q
    offsets = np.arange(0, (numbers.size + 1) * size, size, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), numbers.size, [None, pa.py_buffer(offsets), pa.py_buffer(out)]
    )


def join(*parts: pa.Array | pa.Scalar) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def amounts(units: I64, assets: NDArray[np.int64]) -> pa.Array:
    """Decimal strings, each in its own asset's precision (``assets``: index into ASSETS)."""
    parts, rows = [], []
    for i, a in enumerate(ASSETS):
        m = np.flatnonzero(assets == i)
        if m.size:
            decimals, factor, _ = ASSET_UNITS[a]
            picked = units if m.size == units.size else units[m]
            parts.append(ids.decimal_array(np.abs(picked), factor, decimals).cast(pa.string()))
            rows.append(m)
    if not parts:
        return pa.array([], pa.string())
    if len(parts) == 1:  # one asset: already in order
        return parts[0]
    inverse = np.empty(units.size, dtype=np.int64)
    inverse[np.concatenate(rows)] = np.arange(units.size)
    return pa.concat_arrays(parts).take(pa.array(inverse))


def signed(delta: I64, assets: I64) -> pa.Array:
    text = amounts(np.abs(delta), assets)
    return pc.if_else(pa.array(delta < 0), join(pa.scalar("-"), text), text)


class CsvWriter:
    """Writes CSV files on a background thread (Arrow's compute kernels release the GIL)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._jobs: list[Future[Path]] = []

    def write(self, path: Path, table: pa.Table, header: bool = True) -> None:
        def job() -> Path:
            path.parent.mkdir(parents=True, exist_ok=True)
            return write_csv(table, path, header=header)

        self._jobs.append(self._pool.submit(job))

    def close(self) -> list[Path]:
        done = [j.result() for j in self._jobs]
        self._pool.shutdown()
        return done


def part_path(root: Path, chain: str, table: str) -> Path:
    return root / "exchange" / f".part-{chain}-{table}.csv"


def write_chain_records(plan: WorldPlan, root: Path, chain: str) -> I64:
    """Write this chain's parts of the export; returns the customer actors it names."""
    seed = plan.params.seed
    rng = np.random.Generator(
        np.random.PCG64(
            np.random.SeedSequence(seed, spawn_key=(STREAMS.index("kyc"), 1 + (chain == "eth")))
        )
    )
    letter = "B" if chain == "btc" else "E"
    csv = CsvWriter()
    # deposit addresses: every deposit address of ours, with its customer
    t = pq.read_table(
        root / "truth" / f"addresses_{chain}.parquet",
        columns=["chain", "address", "actor_id", "role", "customer_actor", "first_height"],
    )
    t = t.filter(pc.and_(pc.equal(t["actor_id"], plan.ours.actor), pc.equal(t["role"], "deposit")))
    dep_actors = t.column("customer_actor").to_numpy()
    csv.write(
        part_path(root, chain, "deposit_addresses"),
        pa.table(
            {
                "customer_id": customer_ids(seed, dep_actors),
                "chain": t["chain"],
                "address": t["address"],
                "first_height": t["first_height"],
            }
        ),
    )
    events_path = root / "exchange" / f".events_{chain}.parquet"
    if events_path.exists():
        events = pq.read_table(events_path).sort_by(
            [("time", "ascending"), ("tx_hash", "ascending"), ("n", "ascending")]
        )
        events_path.unlink()
    else:
        from chainsleuth.world.utxo import EVENTS_SCHEMA

        events = EVENTS_SCHEMA.empty_table()
    n = events.num_rows
    actor = events.column("customer_actor").to_numpy().astype(np.int64)
    asset_names = events.column("asset").to_numpy(zero_copy_only=False)
    asset = np.zeros(n, dtype=np.int64)
    factor = np.ones(n, dtype=np.int64)
    fees = np.zeros(n, dtype=np.int64)
    for i, a in enumerate(ASSETS):
        m = asset_names == a
        asset[m] = i
        factor[m] = ASSET_UNITS[a][1]
        fees[m] = ASSET_UNITS[a][2]
    raw = events.column("amount").combine_chunks() if n else pa.array([], ids.DECIMAL)
    units = np.zeros(n, dtype=np.int64)
    for f in np.unique(factor):
        m = factor == f
        units[m] = ids.decimal_to_units(raw.filter(pa.array(m)), int(f))
    times = events.column("time").cast(TIME).cast(pa.int64()).to_numpy()
    is_dep = events.column("direction").to_numpy(zero_copy_only=False) == "deposit"
    customers = customer_ids(seed, actor)
    asset_col = pa.array(ASSETS).take(pa.array(asset))
    for name, mask, prefix in (("deposits", is_dep, "D"), ("withdrawals", ~is_dep, "W")):
        rows = pa.array(np.flatnonzero(mask))
        cols: dict[str, Any] = {
            f"{name[:-1]}_id": ids_text(prefix + letter, np.arange(1, len(rows) + 1), 9),
            "customer_id": customers.take(rows),
            "account_id": join(customers.take(rows), pa.scalar("-"), asset_col.take(rows)),
            "chain": events["chain"].take(rows),
            "asset": asset_col.take(rows),
            "tx_hash": events["tx_hash"].take(rows),
            "output_index": events["n"].take(rows),
            "address": events["address"].take(rows),
            "amount": amounts(units[mask], asset[mask]),
        }
        if name == "deposits":
            cols["credited_at"] = pa.array(times[mask] + 1800, TIME)
        else:
            cols["fee"] = amounts(fees[mask], asset[mask])
            cols["requested_at"] = pa.array(times[mask] - rng.integers(120, 3600, len(rows)), TIME)
            cols["sent_at"] = pa.array(times[mask], TIME)
            cols["status"] = pa.repeat(pa.scalar("completed"), len(rows))
        csv.write(part_path(root, chain, name), pa.table(cols))
    is_mule = np.isin(actor, np.array(plan.mules, dtype=np.int64))
    _ledger(
        plan,
        root,
        chain,
        csv,
        actor,
        asset,
        units,
        fees,
        times,
        is_dep,
        is_mule,
        events["tx_hash"],
        rng,
    )
    csv.close()
    return np.unique(np.concatenate([actor, dep_actors.astype(np.int64)]))


def _ledger(
    plan: WorldPlan,
    root: Path,
    chain: str,
    csv: CsvWriter,
    actor: I64,
    asset: I64,
    units: I64,
    fees: I64,
    times: I64,
    is_dep: NDArray[np.bool_],
    is_mule: NDArray[np.bool_],
    hashes: pa.ChunkedArray,
    rng: np.random.Generator,
) -> None:
    """Ledger entries: deposits, sells after some deposits, buys before withdrawals that need
    them, withdrawals and their fees; the running balance never goes below zero."""
    seed = plan.params.seed
    letter = "B" if chain == "btc" else "E"
    n = units.size
    # sells: mules sell everything within hours; others sometimes part, later
    sell = is_dep & (rng.random(n) < np.where(is_mule, 1.0, 0.3))
    sell_amt = np.where(is_mule, units, (units * rng.uniform(0.2, 1.0, n)).astype(np.int64))
    sell_time = times + np.where(
        is_mule, rng.integers(1800, 6 * 3600, n), rng.integers(3600, 5 * DAY, n)
    )
    wd = ~is_dep
    e_actor = np.concatenate([actor, actor[wd], actor[sell]])
    e_asset = np.concatenate([asset, asset[wd], asset[sell]])
    e_time = np.concatenate([times, times[wd], sell_time[sell]])
    e_kind = np.concatenate(
        [np.where(is_dep, 0, 1), np.full(int(wd.sum()), 2), np.full(int(sell.sum()), 3)]
    )
    e_delta = np.concatenate([np.where(is_dep, units, -units), -fees[wd], -sell_amt[sell]])
    e_ref = np.concatenate([np.arange(n), np.flatnonzero(wd), np.full(int(sell.sum()), -1)])
    group = e_actor * 4 + e_asset
    # one int64 key: (account, time since genesis, kind) -> a single sort
    key = (group << 36) | (np.maximum(e_time - plan.params.start, 0) << 3) | e_kind
    order = np.argsort(key, kind="stable")
    group, e_time, e_kind, e_delta, e_ref = (
        x[order] for x in (group, e_time, e_kind, e_delta, e_ref)
    )
    size = group.size
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if size else np.zeros(0, np.int64)
    lengths = np.diff(np.r_[starts, size])
    csum = np.cumsum(e_delta)
    prefix = csum - (np.repeat(csum[starts] - e_delta[starts], lengths) if size else 0)
    gid = np.repeat(np.arange(starts.size), lengths)
    big = int(np.abs(prefix).max() + 1) if size else 1
    need = np.maximum.accumulate(np.maximum(-prefix, 0) + gid * big) - gid * big if size else prefix
    prev_need = np.r_[0, need[:-1]] if size else need
    prev_need[starts] = 0
    buy = need - prev_need
    balance = prefix + need
    # buys go in just before the entry that needed them
    b = np.flatnonzero(buy > 0)
    seq = np.concatenate([np.arange(size) * 2 + 1, b * 2])
    cols = [
        np.concatenate([group, group[b]]),
        np.concatenate([e_time, e_time[b] - rng.integers(600, 86_400, b.size)]),
        np.concatenate([e_kind, np.full(b.size, 4)]),
        np.concatenate([e_delta, buy[b]]),
        np.concatenate([balance, balance[b] - e_delta[b]]),
        np.concatenate([e_ref, np.full(b.size, -1)]),
    ]
    o2 = np.argsort((cols[0] << 32) | seq, kind="stable")
    g, t, k, d, bal, ref = (c[o2] for c in cols)
    t = np.maximum.accumulate(t + (g << 40)) - (g << 40)  # times non-decreasing per account
    a_actor, a_asset = g // 4, g % 4
    trade = (k == 3) | (k == 4)
    trade_ids = ids_text("T" + letter, np.cumsum(trade), 9)
    tx_ref = (
        hashes.take(pa.array(np.maximum(ref, 0), mask=ref < 0))
        if size + b.size
        else pa.array([], pa.string())
    )
    reference = pc.if_else(pa.array(trade), trade_ids, tx_ref)
    customer = customer_ids(seed, a_actor)
    asset_col = pa.array(ASSETS).take(pa.array(a_asset))
    kinds = pa.array(["deposit", "withdrawal", "withdrawal_fee", "trade_sell", "trade_buy"])
    csv.write(
        part_path(root, chain, "ledger"),
        pa.table(
            {
                "entry_id": ids_text("L" + letter, np.arange(1, k.size + 1), 10),
                "account_id": join(customer, pa.scalar("-"), asset_col),
                "customer_id": customer,
                "asset": asset_col,
                "time": pa.array(t, TIME),
                "kind": kinds.take(pa.array(k)),
                "amount": signed(d, a_asset),
                "balance_after": amounts(bal, a_asset),
                "reference": reference,
            }
        ),
    )
    rows = np.flatnonzero(trade)
    day = np.clip((t[rows] - plan.params.start) // DAY, 0, plan.prices.btc.size - 1)
    price = np.select(
        [a_asset[rows] == 0, a_asset[rows] == 1],
        [plan.prices.btc[day], plan.prices.eth[day]],
        default=1.0,
    )
    r = pa.array(rows)
    csv.write(
        part_path(root, chain, "trades"),
        pa.table(
            {
                "trade_id": trade_ids.take(r),
                "customer_id": customer.take(r),
                "side": pa.array(["sell", "buy"]).take(pa.array((k[rows] == 4).astype(np.int8))),
                "asset": asset_col.take(r),
                "amount": amounts(np.abs(d[rows]), a_asset[rows]),
                "price_usd": pa.array(price, pa.float64()),
                "time": pa.array(t[rows], TIME),
            }
        ),
    )
    last = pa.array(
        np.flatnonzero(np.r_[g[1:] != g[:-1], True]) if g.size else np.zeros(0, np.int64)
    )
    csv.write(
        part_path(root, chain, "balances"),
        pa.table(
            {
                "account_id": join(customer.take(last), pa.scalar("-"), asset_col.take(last)),
                "customer_id": customer.take(last),
                "asset": asset_col.take(last),
                "balance": amounts(bal[last.to_numpy()], a_asset[last.to_numpy()]),
                "as_of": pa.repeat(pa.scalar(plan.end_time(), TIME), len(last)),
            }
        ),
    )


def join_parts(root: Path, table: str, chains: list[str]) -> Path:
    """Concatenate the chains' parts of one CSV (one header) into ``exchange/<table>.csv``:
    the first part becomes the file (renamed, not copied) and the others are appended to
    it without their headers."""
    out = root / "exchange" / f"{table}.csv"
    part_path(root, chains[0], table).replace(out)
    with out.open("ab") as dst:
        for chain in chains[1:]:
            part = part_path(root, chain, table)
            with part.open("rb") as src:
                src.readline()  # the header, already in the file
                while block := src.read(1 << 22):
                    dst.write(block)
            part.unlink()
    return out

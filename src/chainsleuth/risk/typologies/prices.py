"""Daily USD prices for the detectors whose rule is a USD threshold of the day.

A reporting threshold applies to what a payment was worth when it was made: a deposit of
0.15 BTC is USD 9,300 at USD 62,000 and USD 14,000 at USD 93,000. The policy's
``prices_usd`` are one reference price per asset, which drifts away from the market over
weeks; with a ``DailyPrices`` (e.g. the exchange's own trades: ``from_trades_csv``) the
structuring detector values each payment at its day's price instead.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import median

import pyarrow as pa

from chainsleuth.core.errors import InvalidInput
from chainsleuth.risk.data import ChainData

DAY = 86_400
#: tokens priced as another asset
_SAME_AS = {"WETH": "ETH"}


@dataclass(frozen=True)
class DailyPrices:
    """USD per whole unit, per asset symbol and UTC day (``unix time // 86400``)."""

    usd: dict[str, dict[int, float]] = field(default_factory=dict)

    def price(self, symbol: str, t: int) -> float | None:
        days = self.usd.get(_SAME_AS.get(symbol, symbol))
        return None if not days else days.get(int(t) // DAY)


def from_trades_csv(path: Path) -> DailyPrices:
    """The median ``price_usd`` per asset and day of a trades export (``asset``,
    ``price_usd``, ``time`` columns: the world's ``exchange/trades.csv``)."""
    seen: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    try:
        with Path(path).open(newline="") as fh:
            for k, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    price = float(row["price_usd"])
                    t = datetime.fromisoformat(row["time"].replace("Z", "+00:00"))
                except (KeyError, TypeError, ValueError):
                    raise InvalidInput(f"{path}:{k}: no asset, price_usd and time") from None
                if price > 0:
                    seen[row["asset"]][int(t.timestamp()) // DAY].append(price)
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc.strerror})") from None
    return DailyPrices({a: {d: median(v) for d, v in days.items()} for a, days in seen.items()})


def register(data: ChainData, prices: DailyPrices | None) -> None:
    """Create ``price_day(asset_id, day, usd_per_unit)`` on ``data`` (smallest unit; empty
    without prices). A day without a trade takes the nearest earlier day's price."""
    rows: dict[str, list[int | float]] = {"asset_id": [], "day": [], "usd_per_unit": []}
    if prices is not None:
        for asset_id, symbol, decimals in data.con.execute(
            "SELECT asset_id, symbol, decimals FROM assets"
        ).fetchall():
            days = prices.usd.get(_SAME_AS.get(symbol, symbol), {})
            if not days:
                continue
            first, last = min(days), max(days)
            price = days[first]
            for d in range(first, last + 1):
                price = days.get(d, price)
                rows["asset_id"].append(int(asset_id))
                rows["day"].append(d)
                rows["usd_per_unit"].append(price / 10.0 ** int(decimals))
    table = pa.table(
        {
            "asset_id": pa.array(rows["asset_id"], pa.int64()),
            "day": pa.array(rows["day"], pa.int64()),
            "usd_per_unit": pa.array(rows["usd_per_unit"], pa.float64()),
        }
    )
    data.con.register("price_day_arrow", table)
    data.con.execute("CREATE OR REPLACE TEMP TABLE price_day AS SELECT * FROM price_day_arrow")
    data.con.unregister("price_day_arrow")


def has_prices(data: ChainData) -> bool:
    found = data.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'price_day'"
    ).fetchall()
    if not (found and int(found[0][0])):
        return False
    rows = data.con.execute("SELECT count(*) FROM price_day").fetchall()
    return bool(rows and int(rows[0][0]))

"""Exchange A's fiat deposits (``exchange/fiat_deposits.csv``): the money behind the buys.

Every ``buy`` trade of the export is funded by a fiat payment a little before it: a bank
transfer (SEPA in the euro area, Faster Payments in the UK, a domestic transfer or a wire
elsewhere) or a card payment, in the customer's local currency, rounded up to a round sum
the way people send money. The payer's account is shown masked, as the exchange's export
shows it. A customer under a stolen identity pays from accounts in other people's names
(``payer_matches_kyc`` false), which is what a bank-side check would flag.

Drawn from its own random substream (``extra``, 1), so adding this table changed nothing
else in a world.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from chainsleuth.world.exchange_money import ids_text
from chainsleuth.world.plan import WorldPlan, rng_for

TIME = pa.timestamp("s", tz="UTC")
EURO = {"DE", "FR", "ES", "IT", "NL", "AT", "IE", "PT", "FI", "GR"}
#: country -> (currency, units of it per USD, decimals)
LOCAL = {
    "US": ("USD", 1.0, 2),
    "GB": ("GBP", 0.79, 2),
    "CH": ("CHF", 0.88, 2),
    "PL": ("PLN", 3.95, 2),
    "SE": ("SEK", 10.4, 2),
    "CZ": ("CZK", 22.8, 2),
    "DK": ("DKK", 6.9, 2),
    "NO": ("NOK", 10.6, 2),
    "CA": ("CAD", 1.36, 2),
    "AU": ("AUD", 1.52, 2),
    "BR": ("BRL", 5.0, 2),
    "IN": ("INR", 83.0, 2),
    "JP": ("JPY", 151.0, 0),
    "KR": ("KRW", 1_350.0, 0),
    "TR": ("TRY", 32.0, 2),
    "MX": ("MXN", 17.0, 2),
    "UA": ("UAH", 39.0, 2),
    "NG": ("NGN", 1_400.0, 2),
    "ZA": ("ZAR", 18.5, 2),
    "AE": ("AED", 3.67, 2),
}
EUR = ("EUR", 0.92, 2)
USD = ("USD", 1.0, 2)


def write_fiat_deposits(plan: WorldPlan, out: Path, actors: np.ndarray, cust_ids: pa.Array) -> Path:
    """One fiat deposit per ``buy`` trade of ``out/trades.csv``; returns the file."""
    rng = rng_for(plan.params.seed, "extra", 1)
    trades = pacsv.read_csv(
        out / "trades.csv",
        convert_options=pacsv.ConvertOptions(
            column_types={"amount": pa.string(), "price_usd": pa.float64()}
        ),
    )
    buys = trades.filter(pc.equal(trades["side"], "buy"))
    n = buys.num_rows
    # the customer's country and whether it trades under a stolen identity
    country_of = {}
    fake = set()
    for actor, cid in zip(actors.tolist(), cust_ids.to_pylist(), strict=True):
        info = plan.actors.get(int(actor))
        country_of[cid] = info.country or "GB"
        if info.info.get("fake_identity"):
            fake.add(cid)
    customers = buys["customer_id"].to_pylist()
    usd = pc.multiply(pc.cast(buys["amount"], pa.float64()), buys["price_usd"]).to_numpy()
    times = pc.cast(buys["time"], pa.int64()).to_numpy()
    currency, amount, method, bank, account, matches = [], [], [], [], [], []
    card = rng.random(n) < 0.25
    round_to = rng.choice([1, 10, 50, 100], size=n, p=[0.2, 0.4, 0.2, 0.2])
    digits = rng.integers(0, 10**4, size=n)
    for i, cid in enumerate(customers):
        country = country_of.get(cid, "GB")
        cur, rate, dec = local_currency(country)
        local = usd[i] * rate * 1.005  # the exchange's spread: a little more than the trade
        step = int(round_to[i]) * (100 if dec == 0 else 1)
        whole = int(np.ceil(local / step) * step) if local > 0 else step
        amount.append(f"{whole}" if dec == 0 else f"{whole}.00")
        currency.append(cur)
        stolen = cid in fake  # other people's accounts, a new one each time
        payer = int(digits[i]) if stolen else zlib.crc32(f"{cid}{card[i]}".encode()) % 10**4
        if card[i]:
            method.append("card")
            bank.append(country)
            account.append(f"card ****{payer:04d}")
        else:
            method.append(
                "sepa" if cur == "EUR" else "faster_payments" if cur == "GBP" else "bank_transfer"
            )
            bank.append(country if cur != "USD" or country == "US" else "US")
            account.append(f"{bank[-1]}** **** {payer:04d}")
        matches.append(not stolen)
    received = times - rng.integers(300, 6 * 3_600, size=n)
    table = pa.table(
        {
            "fiat_deposit_id": ids_text("F", np.arange(1, n + 1), 9),
            "customer_id": buys["customer_id"],
            "currency": pa.array(currency, pa.string()),
            "amount": pa.array(amount, pa.string()),
            "method": pa.array(method, pa.string()),
            "bank_country": pa.array(bank, pa.string()),
            "payer_account": pa.array(account, pa.string()),
            "payer_matches_kyc": pa.array(matches, pa.bool_()),
            "reference": buys["trade_id"],
            "received_at": pa.array(received, TIME),
            "status": pa.repeat(pa.scalar("completed"), n),
        }
    )
    path = out / "fiat_deposits.csv"
    pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=True, quoting_style="needed"))
    return path


def local_currency(country: str) -> tuple[str, float, int]:
    """The currency a customer of ``country`` pays in (US dollars where none is listed)."""
    if country in EURO:
        return EUR
    return LOCAL.get(country, USD)

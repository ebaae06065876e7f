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

from chainsleuth.world.csvtext import write_csv
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
    # per distinct buying customer: its country and whether it trades under a stolen identity
    country_of = {}
    fake = set()
    for actor, cid in zip(actors.tolist(), cust_ids.to_pylist(), strict=True):
        info = plan.actors.get(int(actor))
        country_of[cid] = info.country or "GB"
        if info.info.get("fake_identity"):
            fake.add(cid)
    coded = pc.dictionary_encode(buys["customer_id"]).combine_chunks()
    row = coded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    distinct = coded.dictionary.to_pylist()
    countries = [country_of.get(cid, "GB") for cid in distinct]
    local_of = [local_currency(c) for c in countries]
    stolen_of = np.array([cid in fake for cid in distinct], dtype=bool)
    # the payer's own account: the same for a customer's card and its bank transfers
    own_of = np.array(
        [
            [zlib.crc32(f"{cid}{flag}".encode()) % 10**4 for flag in (False, True)]
            for cid in distinct
        ],
        dtype=np.int64,
    ).reshape(-1, 2)
    usd = pc.multiply(pc.cast(buys["amount"], pa.float64()), buys["price_usd"]).to_numpy()
    times = pc.cast(buys["time"], pa.int64()).to_numpy()
    card = rng.random(n) < 0.25
    round_to = rng.choice([1, 10, 50, 100], size=n, p=[0.2, 0.4, 0.2, 0.2])
    digits = rng.integers(0, 10**4, size=n)
    rate = np.array([x[1] for x in local_of], dtype=np.float64)[row]
    whole_units = np.array([x[2] == 0 for x in local_of], dtype=bool)[row]
    local = usd * rate * 1.005  # the exchange's spread: a little more than the trade
    step = round_to.astype(np.int64) * np.where(whole_units, 100, 1)
    whole = np.where(local > 0, np.ceil(local / step) * step, step).astype(np.int64)
    text = pa.array(whole).cast(pa.string())
    amount = pc.if_else(pa.array(whole_units), text, pc.binary_join_element_wise(text, ".00", ""))
    cur_names = [x[0] for x in local_of]
    currency = pa.array(cur_names, pa.string()).take(pa.array(row))
    stolen = stolen_of[row]  # other people's accounts, a new one each time
    payer = np.where(stolen, digits, own_of[row, card.astype(np.int64)])
    payer_text = pc.utf8_lpad(pa.array(payer).cast(pa.string()), 4, "0")
    country = pa.array(countries, pa.string()).take(pa.array(row))
    transfer = pa.array(
        [
            "sepa" if c == "EUR" else "faster_payments" if c == "GBP" else "bank_transfer"
            for c in cur_names
        ],
        pa.string(),
    ).take(pa.array(row))
    us_bank = np.array(
        [c == "USD" and k != "US" for c, k in zip(cur_names, countries, strict=True)], bool
    )[row]
    card_arr = pa.array(card)
    method = pc.if_else(card_arr, "card", transfer)
    bank = pc.if_else(card_arr, country, pc.if_else(pa.array(us_bank), "US", country))
    account = pc.if_else(
        card_arr,
        pc.binary_join_element_wise("card ****", payer_text, ""),
        pc.binary_join_element_wise(bank, "** **** ", payer_text, ""),
    )
    matches = pa.array(~stolen)
    received = times - rng.integers(300, 6 * 3_600, size=n)
    table = pa.table(
        {
            "fiat_deposit_id": ids_text("F", np.arange(1, n + 1), 9),
            "customer_id": buys["customer_id"],
            "currency": currency,
            "amount": amount,
            "method": method,
            "bank_country": bank,
            "payer_account": account,
            "payer_matches_kyc": matches,
            "reference": buys["trade_id"],
            "received_at": pa.array(received, TIME),
            "status": pa.repeat(pa.scalar("completed"), n),
        }
    )
    path = out / "fiat_deposits.csv"
    return write_csv(table, path)


def local_currency(country: str) -> tuple[str, float, int]:
    """The currency a customer of ``country`` pays in (US dollars where none is listed)."""
    if country in EURO:
        return EUR
    return LOCAL.get(country, USD)

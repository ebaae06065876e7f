"""Exchange A's own records, as the CSV export a real exchange would hand over (``exchange/``).

Customers with KYC, accounts per asset, deposit addresses, deposits and withdrawals (each
matching an on-chain transaction of the world), trades, a ledger whose balance never goes
negative, final balances, and login sessions. Mules share devices with their recruiter;
the ransomware affiliate logs in through VPN exits far from his stated country.

Amounts are decimal strings in the asset's unit (BTC 8, ETH 18, USDT 6 decimals).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from chainsleuth.world import ids
from chainsleuth.world.actors import COUNTRY_CODES, COUNTRY_INDEX
from chainsleuth.world.csvtext import write_csv
from chainsleuth.world.enums import ActorType
from chainsleuth.world.exchange_fiat import write_fiat_deposits
from chainsleuth.world.exchange_money import (
    ASSETS,
    TABLES,
    customer_ids,
    ids_text,
    join,
    join_parts,
)
from chainsleuth.world.people import Identities
from chainsleuth.world.plan import WorldPlan, rng_for
from chainsleuth.world.presets import DAY

I64 = NDArray[np.int64]
TIME = pa.timestamp("s", tz="UTC")
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36",
    "ExchangeA-iOS/5.12.0 (iPhone15,2; iOS 17.4)",
    "ExchangeA-Android/5.12.1 (SM-S918B; Android 14)",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
]


def _write(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_csv(table, path)


def customer_actors(plan: WorldPlan, seen: list[I64]) -> I64:
    """Exchange A's customers: its users on either chain, the persons planned as its
    customers (mules, victims, ...), and everyone its records name."""
    u = plan.users
    users = np.flatnonzero(((u.home_btc == 0) & u.btc_active) | ((u.home_eth == 0) & u.eth_active))
    named = [a.id for a in plan.actors.named if 0 in a.info.get("customer_of", [])]
    return np.unique(np.concatenate([users, np.array(named, dtype=np.int64), *seen])).astype(
        np.int64
    )


def write_exchange(plan: WorldPlan, root: Path, seen: list[I64]) -> list[Path]:
    """Customers, accounts and logins; then the chains' money parts joined into one export."""
    rng = rng_for(plan.params.seed, "kyc")
    out = root / "exchange"
    actors = customer_actors(plan, seen)
    cust_ids = customer_ids(plan.params.seed, actors)
    written = [_customers(plan, out, actors, cust_ids, rng)]
    written.append(_write(out / "accounts.csv", _accounts(actors, cust_ids)))
    written.append(_logins(plan, out, actors, cust_ids, rng))
    for table in TABLES:
        written.append(join_parts(root, table, ["btc", "eth"]))
    written.append(write_fiat_deposits(plan, out, actors, cust_ids))
    mapping = pa.table({"customer_id": cust_ids, "actor_id": pa.array(actors)})
    path = root / "truth" / "exchange_customers.parquet"
    pq.write_table(mapping, path, compression="none")
    written.append(path)
    return written


def _customers(
    plan: WorldPlan, out: Path, actors: I64, cust_ids: pa.Array, rng: np.random.Generator
) -> Path:
    a = plan.actors
    n = actors.size
    country = np.empty(n, dtype=np.int16)
    kind, young = [], np.zeros(n, dtype=bool)
    notes = []
    for i, actor in enumerate(actors):
        info = a.get(int(actor))
        code = info.country if info.country in COUNTRY_INDEX else "GB"
        country[i] = COUNTRY_INDEX[code]
        is_person = int(actor) < a.n_users or bool(info.info.get("person"))
        kind.append("individual" if is_person else "business")
        young[i] = info.type == ActorType.MULE and not info.info.get("controller")
        notes.append(info)
    people = Identities(plan.params.seed).people(country, actors, young)
    first_names, last_names = people.first, people.last
    for i, info in enumerate(notes):
        if kind[i] == "business":
            first_names[i], last_names[i] = "", info.name
    registered = plan.params.start - rng.integers(30, 900, n) * DAY
    risk = np.where(rng.random(n) < 0.08, "medium", "low").astype(object)
    status = np.full(n, "verified", dtype=object)
    level = rng.choice([1, 2, 2, 2, 3], size=n)
    doc_type = rng.choice(
        ["passport", "national_id", "driving_licence"], size=n, p=[0.5, 0.35, 0.15]
    ).astype(object)
    doc_country = np.array([COUNTRY_CODES[c] for c in country], dtype=object)
    for i, info in enumerate(notes):
        if info.info.get("fake_identity"):  # bought a stolen identity from another country
            doc_country[i] = COUNTRY_CODES[(int(country[i]) + 7) % len(COUNTRY_CODES)]
            level[i] = 2
        if info.type == ActorType.MULE and info.info.get("controller"):
            risk[i] = "medium"
        if kind[i] == "business":
            doc_type[i] = "company_registration"
    letters = rng.integers(65, 91, size=(n, 2))
    digits = rng.integers(0, 10**7, size=n)
    doc_number = [f"{chr(x)}{chr(y)}{d:07d}" for (x, y), d in zip(letters, digits, strict=True)]
    expiry = plan.params.start + rng.integers(200, 3650, n) * DAY
    table = pa.table(
        {
            "customer_id": cust_ids,
            "customer_type": kind,
            "first_name": first_names,
            "last_name": last_names,
            "date_of_birth": pa.array(
                np.where(np.array(kind) == "individual", people.birth, 0).astype("datetime64[D]")
            ).cast(pa.date32()),
            "nationality": doc_country.tolist(),
            "country_of_residence": [COUNTRY_CODES[c] for c in country],
            "address_line": people.street,
            "city": people.city,
            "postal_code": people.postcode,
            "email": people.email,
            "phone": people.phone,
            "occupation": [
                o if k == "individual" else "" for o, k in zip(people.occupation, kind, strict=True)
            ],
            "document_type": doc_type.tolist(),
            "document_number": doc_number,
            "document_country": doc_country.tolist(),
            "document_expiry": pa.array(
                expiry.astype("datetime64[s]").astype("datetime64[D]")
            ).cast(pa.date32()),
            "kyc_level": pa.array(level, pa.int8()),
            "kyc_status": status.tolist(),
            "risk_rating": risk.tolist(),
            "registered_at": pa.array(registered, TIME),
        }
    )
    return _write(out / "customers.csv", table)


def _accounts(actors: I64, cust_ids: pa.Array) -> pa.Table:
    rows = pa.array(np.repeat(np.arange(actors.size), len(ASSETS)))
    customer = cust_ids.take(rows)
    asset = pa.array(ASSETS * actors.size)
    return pa.table(
        {
            "account_id": join(customer, pa.scalar("-"), asset),
            "customer_id": customer,
            "asset": asset,
            "status": pa.repeat(pa.scalar("active"), len(rows)),
        }
    )


def _logins(
    plan: WorldPlan, out: Path, actors: I64, cust_ids: pa.Array, rng: np.random.Generator
) -> Path:
    a = plan.actors
    n = actors.size
    act = np.array([plan.users.activity[x] if x < a.n_users else 1.0 for x in actors])
    count = np.minimum(rng.poisson(3 + 6 * act), 60)
    owner = np.repeat(np.arange(n), count)
    m = owner.size
    start, end = plan.params.start, plan.end_time()
    times = rng.integers(start, end, m)
    device_no = rng.integers(0, 3, m) % np.maximum(1, rng.integers(1, 4, n))[owner]
    device_key = actors[owner] * 8 + device_no
    country = np.array([plan.actors.get(int(x)).country or "GB" for x in actors], dtype=object)
    c_idx = np.array([COUNTRY_INDEX.get(c, 1) for c in country], dtype=np.int64)[owner]
    foreign = np.zeros(m, dtype=bool)
    controller = plan.services.get("mule_controller", -1)
    mules = np.isin(actors[owner], np.array(plan.mules, dtype=np.int64))
    shared = mules & (rng.random(m) < 0.5)
    device_key[shared] = controller * 8 + 1  # the recruiter's phone logs into the mules' accounts
    for x in a.named:
        if x.info.get("fake_identity"):
            mine = actors[owner] == x.id
            foreign |= mine
    c_idx[foreign] = rng.integers(0, len(COUNTRY_CODES), int(foreign.sum()))
    octets = [
        10 + 5 * c_idx % 200,
        rng.integers(0, 256, m),
        rng.integers(0, 256, m),
        rng.integers(1, 255, m),
    ]
    ip_text = pc.binary_join_element_wise(*[pa.array(o).cast(pa.string()) for o in octets], ".")
    devices = ids.hex_strings(ids.hash32(plan.params.seed ^ 0xD1CE, device_key)[:, :16])
    ua_idx = (device_key % len(USER_AGENTS)).astype(np.int64)
    table = pa.table(
        {
            "session_id": ids_text("S", np.arange(1, m + 1), 10),
            "customer_id": cust_ids.take(pa.array(owner)),
            "time": pa.array(times, TIME),
            "ip": ip_text,
            "ip_country": pa.array(COUNTRY_CODES).take(pa.array(c_idx)),
            "device_id": devices,
            "user_agent": pa.array(USER_AGENTS).take(pa.array(ua_idx)),
            "success": pa.array(rng.random(m) > 0.03),
            "mfa": pa.array(rng.random(m) > 0.2),
        }
    )
    # by time, then session id: the ids are fixed-width numbers in row order, so a stable
    # sort of the times is that order (no string comparisons)
    order = np.argsort(times, kind="stable")
    return _write(out / "logins.csv", table.take(pa.array(order)))

"""Law enforcement (``agencies/``): agencies with their official e-mail domains, officers, and
a history of requests to Exchange A that name the world's real subjects.

Requests about crime name what an investigation would have: ransom and exploit addresses,
victims' payment transactions, the deposit addresses and e-mail addresses of the mules and
criminals who cashed out at Exchange A. The rest are routine requests about ordinary
customers. Which scheme a request belongs to is ground truth (``truth/requests.parquet``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from chainsleuth.world.actors import COUNTRY_INDEX
from chainsleuth.world.people import Identities, _ascii
from chainsleuth.world.plan import WorldPlan, rng_for
from chainsleuth.world.presets import DAY

TIME = pa.timestamp("s", tz="UTC")

#: (agency, country, e-mail domain, kind)
AGENCIES = [
    ("Federal Bureau of Investigation", "US", "fbi.gov", "police"),
    ("IRS Criminal Investigation", "US", "ci.irs.gov", "tax"),
    ("U.S. Secret Service", "US", "usss.dhs.gov", "police"),
    ("Homeland Security Investigations", "US", "ice.dhs.gov", "police"),
    ("FinCEN", "US", "fincen.gov", "fiu"),
    ("National Crime Agency", "GB", "nca.gov.uk", "police"),
    ("Metropolitan Police Service", "GB", "met.police.uk", "police"),
    ("Bundeskriminalamt", "DE", "bka.bund.de", "police"),
    ("Landeskriminalamt Berlin", "DE", "polizei.berlin.de", "police"),
    ("Office anti-cybercriminalite", "FR", "interieur.gouv.fr", "police"),
    ("TRACFIN", "FR", "finances.gouv.fr", "fiu"),
    ("Politie Nederland", "NL", "politie.nl", "police"),
    ("FIOD", "NL", "fiod.nl", "tax"),
    ("Guardia Civil", "ES", "guardiacivil.es", "police"),
    ("Guardia di Finanza", "IT", "gdf.it", "police"),
    ("Centralne Biuro Zwalczania Cyberprzestepczosci", "PL", "cbzc.policja.gov.pl", "police"),
    ("Policia Federal", "BR", "pf.gov.br", "police"),
    ("Central Bureau of Investigation", "IN", "cbi.gov.in", "police"),
    ("National Police Agency", "JP", "npa.go.jp", "police"),
    ("Korean National Police Agency", "KR", "police.go.kr", "police"),
    ("Australian Federal Police", "AU", "afp.gov.au", "police"),
    ("Royal Canadian Mounted Police", "CA", "rcmp-grc.gc.ca", "police"),
    ("Cyber Police of Ukraine", "UA", "cyberpolice.gov.ua", "police"),
    ("Europol", "NL", "europol.europa.eu", "international"),
    ("INTERPOL", "FR", "interpol.int", "international"),
    ("Economic and Financial Crimes Commission", "NG", "efcc.gov.ng", "police"),
    ("Bundeskriminalamt Oesterreich", "AT", "bmi.gv.at", "police"),
    ("Federal Office of Police fedpol", "CH", "fedpol.admin.ch", "police"),
]
REQUEST_TYPES = {
    "information_request": (14, "Information request under the exchange's law-enforcement policy"),
    "subpoena": (21, "Grand jury subpoena"),
    "court_order": (30, "Court order for the production of records"),
    "search_warrant": (14, "Search warrant"),
    "emergency_disclosure": (1, "Emergency disclosure request (danger to life)"),
    "preservation": (7, "Preservation request (90 days)"),
    "freeze_order": (2, "Order to freeze assets"),
    "seizure_order": (7, "Seizure order"),
}
#: country calling codes (E.164) and the national number's length, for the agencies' lines
CALLING = {
    "US": ("1", 10), "GB": ("44", 10), "DE": ("49", 10), "FR": ("33", 9), "NL": ("31", 9),
    "ES": ("34", 9), "IT": ("39", 10), "PL": ("48", 9), "BR": ("55", 10), "IN": ("91", 10),
    "JP": ("81", 10), "KR": ("82", 9), "AU": ("61", 9), "CA": ("1", 10), "UA": ("380", 9),
    "NG": ("234", 10), "AT": ("43", 10), "CH": ("41", 9),
}  # fmt: skip
TITLES = [
    "Special Agent",
    "Detective",
    "Investigator",
    "Inspector",
    "Financial Investigator",
    "Analyst",
    "Sergeant",
]


def write_agencies(plan: WorldPlan, root: Path, truth: dict[str, Any]) -> list[Path]:
    rng = rng_for(plan.params.seed, "agencies")
    out = root / "agencies"
    out.mkdir(parents=True, exist_ok=True)
    ident = Identities(plan.params.seed + 17)
    agency_rows: list[dict[str, Any]] = []
    phones = callback_phones(plan.params.seed)
    officer_rows: list[dict[str, Any]] = []
    officer_agency: list[int] = []
    for i, (name, country, domain, kind) in enumerate(AGENCIES):
        agency_id = f"AG{i + 1:03d}"
        agency_rows.append(
            {
                "agency_id": agency_id,
                "name": name,
                "country": country,
                "email_domain": domain,
                "kind": kind,
                "callback_phone": phones[i],
            }
        )
        count = int(rng.integers(2, 7))
        keys = np.arange(count, dtype=np.int64) + 1000 * (i + 1)
        people = ident.people(np.full(count, COUNTRY_INDEX.get(country, 1), dtype=np.int16), keys)
        for j in range(count):
            email = f"{_ascii(people.first[j])}.{_ascii(people.last[j])}@{domain}"
            officer_rows.append(
                {
                    "officer_id": f"OF{len(officer_rows) + 1:05d}",
                    "agency_id": agency_id,
                    "first_name": people.first[j],
                    "last_name": people.last[j],
                    "title": TITLES[int(rng.integers(len(TITLES)))],
                    "email": email,
                    "phone": people.phone[j],
                }
            )
            officer_agency.append(i)
    written = [_csv(out / "agencies.csv", agency_rows), _csv(out / "officers.csv", officer_rows)]
    requests, links = _requests(plan, root, truth, rng, officer_rows, officer_agency)
    written.append(_csv(out / "requests.csv", requests))
    path = root / "truth" / "requests.parquet"
    pq.write_table(
        pa.Table.from_pylist(
            links,
            schema=pa.schema(
                [("request_id", pa.string()), ("scheme", pa.string()), ("about", pa.string())]
            ),
        ),
        path,
    )
    written.append(path)
    return written


def callback_phones(seed: int) -> list[str]:
    """Each agency's registered call-back number (E.164): the line the exchange calls to
    confirm that a request really comes from the agency. Its own substream: adding it
    changed nothing else."""
    rng = rng_for(seed, "extra", 2)
    out = []
    for _, country, _, _ in AGENCIES:
        code, length = CALLING.get(country, ("1", 10))
        first = int(rng.integers(2, 10))
        rest = int(rng.integers(0, 10 ** (length - 1)))
        out.append(f"+{code}{first}{rest:0{length - 1}d}")
    return out


def _case_reference(domain: str, received: int, plan: WorldPlan, rng: np.random.Generator) -> str:
    year = 2024 + (received - plan.params.start) // (365 * DAY)
    return f"{domain.split('.')[0].upper()}-{year}-{int(rng.integers(10**5, 10**6))}"


def _csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    pacsv.write_csv(pa.Table.from_pylist(rows), path)
    return path


def _requests(
    plan: WorldPlan,
    root: Path,
    truth: dict[str, Any],
    rng: np.random.Generator,
    officers: list[dict[str, Any]],
    officer_agency: list[int],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    customers = pq.read_table(root / "truth" / "exchange_customers.parquet").to_pylist()
    cust_of = {r["actor_id"]: r["customer_id"] for r in customers}
    emails = {
        r["customer_id"]: r["email"]
        for r in pacsv.read_csv(root / "exchange" / "customers.csv")
        .select(["customer_id", "email"])
        .to_pylist()
    }
    subjects: list[
        tuple[str, int, str, list[dict[str, Any]]]
    ] = []  # (scheme, time, about, subjects)
    by_scheme: dict[str, list[dict[str, Any]]] = {}
    for h in truth["hops"]:
        by_scheme.setdefault(h["scheme"], []).append(h)
    for sid, hops in by_scheme.items():
        for h in hops:
            co = h["cash_out"]
            if co and co.get("ours"):
                cid = cust_of.get(co.get("customer_actor"))
                subj = [
                    {"type": "address", "chain": h["chain"], "value": co["address"]},
                    {"type": "transaction", "chain": h["chain"], "value": h["tx_hash"]},
                ]
                if cid:
                    subj.append({"type": "customer", "value": cid})
                    if cid in emails and rng.random() < 0.5:
                        subj.append({"type": "email", "value": emails[cid]})
                subjects.append((sid, h["time"], "cash-out at Exchange A", subj))
            elif h["step"] in ("ransom_payment", "scam_payment", "exploit") and rng.random() < 0.6:
                subjects.append(
                    (
                        sid,
                        h["time"],
                        "victim report",
                        [{"type": "address", "chain": h["chain"], "value": a} for a in h["to"][:2]]
                        + [{"type": "transaction", "chain": h["chain"], "value": h["tx_hash"]}],
                    )
                )
    rng.shuffle(subjects)
    target = int(max(40, round(40 * plan.params.scale**0.8)))
    crime = subjects[: int(target * 0.6)]
    routine = []
    for _ in range(target - len(crime)):
        cid = (
            customers[int(rng.integers(len(customers)))]["customer_id"] if customers else "C0000000"
        )
        routine.append(
            (
                "",
                int(rng.integers(plan.params.start, plan.end_time())),
                "routine",
                [{"type": "customer", "value": cid}],
            )
        )
    rows, links = [], []
    end = plan.end_time()
    for i, (sid, t, about, subj) in enumerate(sorted(crime + routine, key=lambda x: (x[1], x[2]))):
        o = int(rng.integers(len(officers)))
        officer = officers[o]
        if about == "cash-out at Exchange A":
            kind = str(
                rng.choice(
                    [
                        "information_request",
                        "subpoena",
                        "court_order",
                        "freeze_order",
                        "preservation",
                    ],
                    p=[0.35, 0.25, 0.15, 0.15, 0.1],
                )
            )
        elif about == "victim report":
            kind = str(
                rng.choice(
                    ["information_request", "emergency_disclosure", "preservation"],
                    p=[0.6, 0.15, 0.25],
                )
            )
        else:
            kind = str(
                rng.choice(list(REQUEST_TYPES), p=[0.45, 0.2, 0.1, 0.05, 0.03, 0.12, 0.03, 0.02])
            )
        received = min(int(t) + int(rng.uniform(1, 25) * DAY), end - DAY)
        days, basis = REQUEST_TYPES[kind]
        due = received + days * DAY
        status = (
            "closed"
            if due + 20 * DAY < end
            else ("responded" if due < end else str(rng.choice(["open", "in_review"])))
        )
        request_id = f"RQ{i + 1:06d}"
        agency = AGENCIES[officer_agency[o]]
        rows.append(
            {
                "request_id": request_id,
                "agency_id": officer["agency_id"],
                "officer_id": officer["officer_id"],
                "type": kind,
                "legal_basis": basis,
                "case_reference": _case_reference(agency[2], received, plan, rng),
                "received_at": pa.scalar(received, TIME).as_py(),
                "due_at": pa.scalar(due, TIME).as_py(),
                "status": status,
                "subjects": json.dumps(subj),
            }
        )
        links.append({"request_id": request_id, "scheme": sid or None, "about": about})
    return rows, links

"""Identities for the world's people, fast: Faker fills small pools per locale once; each
person then gets a deterministic combination from their country's pools (vectorised), so a
world with hundreds of thousands of customers needs only a few thousand Faker calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from faker import Faker
from numpy.typing import NDArray

from chainsleuth.world import ids
from chainsleuth.world.actors import COUNTRIES

POOL = 64
EMAIL_DOMAINS = [
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "proton.me",
    "icloud.com",
    "gmx.net",
    "mail.ru",
    "hotmail.com",
]
OCCUPATIONS = [
    "software engineer",
    "teacher",
    "nurse",
    "student",
    "accountant",
    "sales manager",
    "driver",
    "electrician",
    "designer",
    "retired",
    "self-employed",
    "consultant",
    "chef",
    "pharmacist",
    "civil servant",
    "marketing specialist",
    "lawyer",
    "mechanic",
    "farmer",
    "unemployed",
]


@dataclass
class LocalePool:
    first_m: list[str]
    first_f: list[str]
    last: list[str]
    city: list[str]
    street: list[str]
    postcode: list[str]
    phone: list[str]


@dataclass
class People:
    """Names and details of persons by index into the arrays given to ``identities``."""

    first: list[str] = field(default_factory=list)
    last: list[str] = field(default_factory=list)
    sex: NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    birth: NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(0, np.int64)
    )  # days since 1970
    city: list[str] = field(default_factory=list)
    street: list[str] = field(default_factory=list)
    postcode: list[str] = field(default_factory=list)
    phone: list[str] = field(default_factory=list)
    email: list[str] = field(default_factory=list)
    occupation: list[str] = field(default_factory=list)


def _ascii(text: str) -> str:
    keep = "".join(c for c in text.lower() if c.isascii() and (c.isalnum()))
    return keep or "user"


_FAKERS: dict[str, Faker] = {}
_POOLS: dict[tuple[int, int], LocalePool] = {}


def _faker(locale: str) -> Faker:
    """One Faker per locale per process (making one loads its providers: tens of ms)."""
    if locale not in _FAKERS:
        fake = Faker(locale)
        # Some providers build a word list from a set (it_IT's cities), whose order changes
        # with each process's hash seed: sort such lists so that a seed gives one world.
        for provider in fake.get_providers():
            words = getattr(provider, "cities", None)
            if isinstance(words, list):
                words.sort()
        _FAKERS[locale] = fake
    return _FAKERS[locale]


class Identities:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._pools: dict[int, LocalePool] = {}

    def pool(self, country: int) -> LocalePool:
        cached = _POOLS.get((self.seed, country))
        if cached is not None:
            return cached
        if country not in self._pools:
            locale = COUNTRIES[country][1]
            fake = _faker(locale)
            fake.seed_instance(self.seed * 1000 + country)

            def draw(method: str, count: int) -> list[str]:
                # some locales lack a provider (phone numbers, post codes): use en_US's
                source = fake
                if not hasattr(fake, method):
                    source = _faker("en_US")
                    source.seed_instance(self.seed * 1000 + country)
                try:
                    return [
                        str(getattr(source, method)()).replace("\n", ", ") for _ in range(count)
                    ]
                except AttributeError:
                    source = _faker("en_US")
                    source.seed_instance(self.seed * 1000 + country)
                    return [
                        str(getattr(source, method)()).replace("\n", ", ") for _ in range(count)
                    ]

            self._pools[country] = LocalePool(
                first_m=draw("first_name_male", POOL),
                first_f=draw("first_name_female", POOL),
                last=draw("last_name", POOL),
                city=draw("city", POOL // 2),
                street=draw("street_address", POOL // 2),
                postcode=draw("postcode", POOL // 2),
                phone=draw("phone_number", POOL),
            )
            _POOLS[(self.seed, country)] = self._pools[country]
        return self._pools[country]

    def people(
        self,
        countries: NDArray[np.int16],
        keys: NDArray[np.int64],
        young: NDArray[np.bool_] | None = None,
    ) -> People:
        """Identities for persons with these countries; each depends on the seed and its key
        (actor id) only, not on who else is listed. Vectorised per country."""
        n = keys.size
        draws = ids.hash32(self.seed ^ 0x5EED_C0DE, keys).view(np.uint32).reshape(n, 8)
        d = (draws >> np.uint32(2)).astype(np.int64)
        sex = (d[:, 0] & 1).astype(np.int8)
        age_days = (18 + (d[:, 1] % 55)) * 365 + d[:, 2] % 365
        if young is not None:
            age_days = np.where(young, (18 + d[:, 1] % 7) * 365 + d[:, 2] % 365, age_days)
        cols = {
            f: np.empty(n, dtype=object)
            for f in ("first", "last", "city", "street", "postcode", "phone")
        }
        for country in np.unique(countries):
            rows = np.flatnonzero(countries == country)
            p = self.pool(int(country))
            dr = d[rows]
            male = sex[rows] == 0
            first = np.where(
                male,
                np.array(p.first_m, dtype=object)[dr[:, 3] % POOL],
                np.array(p.first_f, dtype=object)[dr[:, 3] % POOL],
            )
            cols["first"][rows] = first
            cols["last"][rows] = np.array(p.last, dtype=object)[dr[:, 4] % POOL]
            cols["city"][rows] = np.array(p.city, dtype=object)[dr[:, 5] % len(p.city)]
            cols["street"][rows] = np.array(p.street, dtype=object)[dr[:, 6] % len(p.street)]
            cols["postcode"][rows] = np.array(p.postcode, dtype=object)[dr[:, 5] % len(p.postcode)]
            cols["phone"][rows] = np.array(p.phone, dtype=object)[dr[:, 7] % POOL]
        first_ascii = (
            np.array([_ascii(x) for x in cols["first"]], dtype=object) if n else cols["first"]
        )
        last_ascii = (
            np.array([_ascii(x) for x in cols["last"]], dtype=object) if n else cols["last"]
        )
        domains = np.array(EMAIL_DOMAINS, dtype=object)[(d[:, 6] >> 7) % len(EMAIL_DOMAINS)]
        emails = [
            f"{f}.{la}{int(k) % 997}@{dom}"
            for f, la, k, dom in zip(first_ascii, last_ascii, keys, domains, strict=True)
        ]
        return People(
            first=cols["first"].tolist(),
            last=cols["last"].tolist(),
            sex=sex,
            birth=19_844 - age_days,  # days since 1970, from 2024-05-01
            city=cols["city"].tolist(),
            street=cols["street"].tolist(),
            postcode=cols["postcode"].tolist(),
            phone=cols["phone"].tolist(),
            email=emails,
            occupation=np.array(OCCUPATIONS, dtype=object)[
                (d[:, 7] >> 5) % len(OCCUPATIONS)
            ].tolist(),
        )


def warm_up(seed: int) -> None:
    """Load every locale's Faker (and the customers' pools) ahead of time."""
    identities = Identities(seed)
    for country in range(len(COUNTRIES)):
        identities.pool(country)

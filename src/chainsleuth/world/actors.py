"""The world's actors: people and organisations, each with a type and a category.

Users (the bulk) are kept as numpy columns; every other actor (exchanges, pools, services,
criminals, victims, mules) is a named record. Ids are dense: ``0 .. len(actors) - 1``, users
first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from chainsleuth.world.enums import ActorType, Category

#: (ISO country, Faker locale, weight among users)
COUNTRIES: list[tuple[str, str, float]] = [
    ("US", "en_US", 14.0),
    ("GB", "en_GB", 6.0),
    ("DE", "de_DE", 6.0),
    ("FR", "fr_FR", 5.0),
    ("ES", "es_ES", 3.5),
    ("IT", "it_IT", 3.5),
    ("NL", "nl_NL", 2.5),
    ("PL", "pl_PL", 2.5),
    ("SE", "sv_SE", 1.5),
    ("CZ", "cs_CZ", 1.0),
    ("RO", "ro_RO", 1.5),
    ("PT", "pt_PT", 1.0),
    ("AT", "de_AT", 1.0),
    ("CH", "de_CH", 1.0),
    ("IE", "en_IE", 0.8),
    ("TR", "tr_TR", 4.0),
    ("UA", "uk_UA", 2.5),
    ("RU", "ru_RU", 3.0),
    ("BR", "pt_BR", 5.0),
    ("MX", "es_MX", 2.0),
    ("AR", "es_AR", 2.0),
    ("CO", "es_CO", 1.0),
    ("CA", "en_CA", 2.5),
    ("AU", "en_AU", 2.0),
    ("NZ", "en_NZ", 0.5),
    ("IN", "en_IN", 6.0),
    ("NG", "en_NG", 3.0),
    ("KE", "en_KE", 1.0),
    ("ZA", "zu_ZA", 1.0),
    ("JP", "ja_JP", 2.5),
    ("KR", "ko_KR", 3.0),
    ("CN", "zh_CN", 2.0),
    ("TW", "zh_TW", 1.0),
    ("VN", "vi_VN", 2.5),
    ("TH", "th_TH", 1.5),
    ("ID", "id_ID", 2.0),
    ("PH", "en_PH", 2.0),
    ("IL", "he_IL", 0.8),
    ("AE", "ar_AE", 1.0),
    ("EG", "ar_EG", 0.8),
    ("GR", "el_GR", 0.6),
    ("HU", "hu_HU", 0.6),
    ("FI", "fi_FI", 0.5),
    ("DK", "da_DK", 0.5),
    ("NO", "no_NO", 0.5),
]
COUNTRY_CODES = [c for c, _, _ in COUNTRIES]
COUNTRY_INDEX = {c: i for i, c in enumerate(COUNTRY_CODES)}

ACTOR_TYPES = list(ActorType)
CATEGORIES = list(Category)
_TYPE_CODE = {t: i for i, t in enumerate(ACTOR_TYPES)}
_CAT_CODE = {c: i for i, c in enumerate(CATEGORIES)}


@dataclass
class Actor:
    id: int
    name: str
    type: ActorType
    category: Category
    country: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


class Actors:
    """All actors; ``users`` occupy ids ``0 .. n_users - 1``."""

    def __init__(self, n_users: int, user_country: NDArray[np.int16]) -> None:
        self.n_users = n_users
        self.user_country = user_country
        self.named: list[Actor] = []

    def __len__(self) -> int:
        return self.n_users + len(self.named)

    def add(
        self,
        name: str,
        type_: ActorType,
        category: Category,
        country: str | None = None,
        **info: Any,
    ) -> int:
        actor_id = self.n_users + len(self.named)
        self.named.append(Actor(actor_id, name, type_, category, country, dict(info)))
        return actor_id

    def get(self, actor_id: int) -> Actor:
        if actor_id < self.n_users:
            country = COUNTRY_CODES[int(self.user_country[actor_id])]
            return Actor(actor_id, f"user {actor_id}", ActorType.USER, Category.INDIVIDUAL, country)
        return self.named[actor_id - self.n_users]

    def type_codes(self) -> NDArray[np.int8]:
        codes = np.full(len(self), _TYPE_CODE[ActorType.USER], dtype=np.int8)
        for a in self.named:
            codes[a.id] = _TYPE_CODE[a.type]
        return codes

    def category_codes(self) -> NDArray[np.int8]:
        codes = np.full(len(self), _CAT_CODE[Category.INDIVIDUAL], dtype=np.int8)
        for a in self.named:
            codes[a.id] = _CAT_CODE[a.category]
        return codes

    def retype(self, actor_id: int, type_: ActorType, category: Category, **info: Any) -> None:
        """Turn a named actor into another type (a victim who also is a mule, ...)."""
        actor = self.named[actor_id - self.n_users]
        actor.type, actor.category = type_, category
        actor.info.update(info)

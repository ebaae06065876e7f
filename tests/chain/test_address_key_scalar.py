"""The one-address key (plain integers, for lookups) is the vectorised key of the store."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainsleuth.chain.keys import MAX_ADDRESS_CHARS, address_key, address_keys
from chainsleuth.core.errors import InvalidInput

SAMPLES = [
    "",
    "x",
    "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
    "0x52908400098527886e0f7030069857d2e4169ee7",
    "12345678",  # exactly one word
    "123456789",  # one byte into the second
    "é-not-ascii",
]


def vectorised(address: str) -> tuple[int, int]:
    k1, k2 = address_keys(pa.array(["padding-of-another-length", address], pa.string()))
    return int(k1[1]), int(k2[1])


@pytest.mark.parametrize("address", SAMPLES)
def test_the_scalar_key_is_the_vectorised_key(address: str) -> None:
    assert address_key(address) == vectorised(address)


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=100))
def test_the_scalar_key_agrees_on_any_printable_text(address: str) -> None:
    assert address_key(address) == vectorised(address)


def test_an_overlong_text_is_refused_by_both() -> None:
    long = "a" * (MAX_ADDRESS_CHARS + 1)
    with pytest.raises(InvalidInput):
        address_key(long)
    with pytest.raises(InvalidInput):
        address_keys(pa.array([long]))

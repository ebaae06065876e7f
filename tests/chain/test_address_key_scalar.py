"""The one-address key (plain integers, for lookups) is the vectorised key of the store."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainsleuth.chain.keys import (
    MAX_ADDRESS_CHARS,
    address_key,
    address_keys,
    hash_bytes,
    hash_key,
    hash_keys,
    hash_raw,
)
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


HASHES = [
    ("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b", False),
    ("0x88e96d4537bea4d9c05d12549907b32561d3bf31f45aae734cdc119f13406cb6", True),
    ("ffffffffffffffff0000000000000000ffffffffffffffff8000000000000000", False),
    ("0x0000000000000000000000000000000000000000000000000000000000000000", True),
]


@pytest.mark.parametrize(("value", "prefixed"), HASHES)
def test_one_hash_key_is_the_vectorised_key(value: str, prefixed: bool) -> None:
    raw = hash_bytes(pa.array([value], pa.string()), prefixed=prefixed)
    k1, k2 = hash_keys(raw)
    assert hash_raw(value, prefixed=prefixed) == bytes(raw[0])
    assert hash_key(value, prefixed=prefixed) == (int(k1[0]), int(k2[0]))


@given(st.binary(min_size=32, max_size=32), st.booleans())
def test_one_hash_key_is_the_vectorised_key_for_any_hash(data: bytes, prefixed: bool) -> None:
    test_one_hash_key_is_the_vectorised_key(("0x" if prefixed else "") + data.hex(), prefixed)


@pytest.mark.parametrize(
    ("value", "prefixed"),
    [
        ("4a5e1e4b", False),
        ("0x" + "a" * 64, False),  # a prefix where none belongs: 66 characters
        ("a" * 64, True),  # no prefix on an account chain
        ("zz" + "a" * 62, False),
        ("é" + "a" * 63, False),
        ("aa " + "a" * 61, False),  # whitespace (bytes.fromhex would take it)
    ],
)
def test_one_bad_hash_is_refused_as_the_vectorised_rule_refuses_it(
    value: str, prefixed: bool
) -> None:
    with pytest.raises(InvalidInput):
        hash_bytes(pa.array([value], pa.string()), prefixed=prefixed)
    with pytest.raises(InvalidInput, match="is not a transaction hash"):
        hash_raw(value, prefixed=prefixed)

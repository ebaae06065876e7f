"""Subject parsing: kinds recognised, values canonical, every bad row named."""

from __future__ import annotations

import pytest
from request_helpers import BTC_ADDR, BTC_TX, ETH_ADDR

from chainsleuth.requests import subjects as sp
from chainsleuth.requests.enums import SubjectKind


@pytest.mark.parametrize(
    ("line", "kind", "value", "chain"),
    [
        ("Jane@Example.ORG", SubjectKind.EMAIL, "jane@example.org", None),
        ("phone: +49 (30) 1234-5678", SubjectKind.PHONE, "+493012345678", None),
        ("c123456789-usdt", SubjectKind.ACCOUNT_ID, "C123456789-USDT", None),
        ("C123456789", SubjectKind.CUSTOMER_ID, "C123456789", None),
        (ETH_ADDR, SubjectKind.ADDRESS, ETH_ADDR.lower(), "eth"),
        (f"eth: {ETH_ADDR.lower()}", SubjectKind.ADDRESS, ETH_ADDR.lower(), "eth"),
        (BTC_ADDR, SubjectKind.ADDRESS, BTC_ADDR, "btc"),
        (
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            SubjectKind.ADDRESS,
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "btc",
        ),
        (BTC_TX.upper(), SubjectKind.TX_HASH, BTC_TX, "btc"),
        ("eth-tx: 0x" + "AB" * 32, SubjectKind.TX_HASH, "0x" + "ab" * 32, "eth"),
        ("name: Anna  Schmidt; 1975-12-01", SubjectKind.NAME_DOB, "Anna Schmidt", None),
    ],
)
def test_kinds_are_recognised_and_canonical(
    line: str, kind: SubjectKind, value: str, chain: str | None
) -> None:
    [s] = sp.parse_text(line)
    assert (s.kind, s.value, s.chain) == (kind, value, chain)


def test_every_bad_row_is_named_and_duplicates_collapse() -> None:
    with pytest.raises(sp.SubjectsInvalid) as info:
        sp.parse_text(
            "# comment\n"
            "ok@x.org\n"
            "email: nope\n"
            f"btc: {BTC_ADDR[:-1]}X\n"
            "name: Max, 2999-01-01\n"
            "wiretap: 123\n"
            "???\n"
        )
    rows = {r["row"] for r in info.value.rows}
    assert rows == {3, 4, 5, 6, 7}
    same = sp.parse_text(f"a@b.org\nA@B.org\nemail: a@b.org\n{BTC_ADDR}")
    assert len(same) == 2
    assert sp.digest(same) == sp.digest(list(reversed(same)))


def test_csv_needs_a_value_column_and_reads_ranges() -> None:
    with pytest.raises(sp.SubjectsInvalid):
        sp.parse_csv(b"foo,bar\n1,2\n")
    [s] = sp.parse_csv(b"kind,value,from,until\nemail,a@b.org,2024-01-01,2024-02-01\n")
    assert s.time_from and s.time_until and s.time_from.year == 2024
    with pytest.raises(sp.SubjectsInvalid):
        sp.parse_csv(b"kind,value,from,until\nemail,a@b.org,2024-03-01,2024-02-01\n")
    with pytest.raises(sp.InvalidInput):
        sp.parse_file("subjects.pdf", b"%PDF-1.4")

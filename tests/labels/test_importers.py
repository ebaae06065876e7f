"""The parsers on the real shared files (counts checked by hand against the files) and on
hostile or broken input. No database here: see test_imports.py for that."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from label_helpers import (
    BILLION_LAUGHS,
    EXTERNAL_DTD,
    OFAC,
    SDN_CSV,
    SDN_SAMPLE,
    TAGPACKS,
    XXE,
    needs_data,
)

from chainsleuth.core.errors import InvalidInput
from chainsleuth.labels.enums import Category, ImportFormat, Scope, Tlp
from chainsleuth.labels.importers import parse
from chainsleuth.labels.importers.common import LabelDraft
from chainsleuth.labels.importers.csv import parse_csv
from chainsleuth.labels.importers.ofac_csv import parse_ofac_csv
from chainsleuth.labels.importers.ofac_lists import parse_ofac_lists
from chainsleuth.labels.importers.ofac_xml import parse_ofac_xml
from chainsleuth.labels.importers.tagpack import parse_actorpack, parse_tagpack

pytestmark = needs_data

EVIL = "0x8589427373d6d84e98730d7795d8f6f8731fda16"


def lists() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(OFAC.glob("sanctioned_addresses_*.json"))]


# --- OFAC SDN_ADVANCED.XML ------------------------------------------------------------------


def test_sdn_advanced_sample_awkward_cases() -> None:
    parsed = parse_ofac_xml(SDN_SAMPLE.read_bytes(), file_name=SDN_SAMPLE.name)
    got = sorted((x.chain, x.address, x.details["sdn_id"]) for x in parsed.labels)
    # party 1001: one ETH address, two ETH addresses in one padded field, one XBT address;
    # party 1002: the same ETH address again (one address, two parties), a TRX address, a note
    assert got == [
        ("btc", "12aNKp2iDKuhEde2YfPdd4DFGenRUTKupL", "1001"),
        ("eth", "0x1111111111111111111111111111111111111111", "1001"),
        ("eth", "0x2222222222222222222222222222222222222222", "1001"),
        ("eth", EVIL, "1001"),
        ("eth", EVIL, "1002"),
    ]
    assert parsed.skipped == Counter({"currency TRX": 1, "not_an_address": 1})
    assert "See OFAC website" in parsed.messages["not_an_address"][0]
    assert parsed.version == "2026-09-18"
    by_party = {x.details["sdn_id"]: x for x in parsed.labels if x.address == EVIL}
    assert by_party["1001"].label == "EVIL CORP" and by_party["1002"].label == "BAD ACTOR"
    assert by_party["1001"].details["programs"] == ["CYBER2"]
    assert by_party["1002"].details["programs"] == ["DPRK3"]
    # the non-Latin name and the weak alias are kept, not chosen as the name
    assert by_party["1001"].details["aliases"] == ["شر", "Nefarious LLC"]
    assert {x.category for x in parsed.labels} == {Category.SANCTIONED}
    assert {x.confidence for x in parsed.labels} == {60}
    assert {a.ext_id: a.name for a in parsed.actors} == {
        "ofac-sdn:1001": "EVIL CORP",
        "ofac-sdn:1002": "BAD ACTOR",
    }


@pytest.mark.parametrize("document", [BILLION_LAUGHS, XXE, EXTERNAL_DTD])
def test_xml_with_a_dtd_or_entities_is_refused(document: bytes) -> None:
    with pytest.raises(InvalidInput, match="refused") as caught:
        parse_ofac_xml(document, file_name="evil.xml")
    assert "root:" not in caught.value.message  # nothing of /etc/passwd


def test_broken_and_foreign_xml() -> None:
    with pytest.raises(InvalidInput, match="not well-formed XML"):
        parse_ofac_xml(b"<Sanctions><DistinctParties>", file_name="cut.xml")
    with pytest.raises(InvalidInput, match="not an OFAC SDN_ADVANCED file"):
        parse_ofac_xml(b"<rss><channel/></rss>", file_name="feed.xml")


# --- OFAC sdn.csv ---------------------------------------------------------------------------


def test_sdn_csv_remarks() -> None:
    parsed = parse_ofac_csv(SDN_CSV.read_bytes(), file_name=SDN_CSV.name)
    assert parsed.version == "2024-05-03"
    # YAN, Xiaobing (25308): six XBT addresses in one remarks field, "alt." included
    yan = sorted(x.address for x in parsed.labels if x.details["sdn_id"] == "25308")
    assert len(yan) == 6 and "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h" in yan
    # ZHENG, Guanghua (26323): three XBT, and an LTC address that is counted, not stored
    zheng = [x for x in parsed.labels if x.details["sdn_id"] == "26323"]
    assert len(zheng) == 3 and {x.chain for x in zheng} == {"btc"}
    assert parsed.skipped["currency LTC"] == 4
    # a Tron address filed under XBT (45404) and remarks cut off mid-address are invalid
    invalid = " ".join(parsed.messages["invalid_address"])
    assert "entry 30518: '1Gq'" in invalid
    # six cut off (one of them, 39593, right after "XBT"), and the Tron address
    assert parsed.skipped["invalid_address"] == 8
    # USDT on Ethereum is an eth label; USDT on Tron is skipped
    usdt = [x for x in parsed.labels if x.details["currency"] == "USDT"]
    assert usdt and all(x.chain == "eth" and x.address.startswith("0x") for x in usdt)
    assert Counter(x.chain for x in parsed.labels) == {"btc": 196, "eth": 53}
    assert len(parsed.actors) == 51


def test_sdn_csv_refuses_another_csv() -> None:
    with pytest.raises(InvalidInput, match="is this OFAC's sdn.csv"):
        parse_ofac_csv(b"chain,address,category\nbtc,1abc,scam\n", file_name="labels.csv")


# --- per-currency lists ---------------------------------------------------------------------


def test_sanctioned_address_lists() -> None:
    parsed = parse_ofac_lists(lists())
    assert parsed.default_name == "ofac-lists"
    by_chain = Counter(x.chain for x in parsed.labels)
    # XBT: 435 listed, one of them a Tron address; ETH 152; USDT/USDC 0x addresses are ETH
    # addresses already listed, bar ones only on the token lists
    assert by_chain["btc"] == 434
    assert parsed.skipped["invalid_address"] == 1
    assert parsed.skipped["currency TRX"] == 6 and parsed.skipped["currency USDT"] == 18
    both = [x for x in parsed.labels if x.address == "0x983a81ca6fb1e441266d2fbcb7d8e530ac2e05a2"]
    assert len(both) == 1 and both[0].details["currencies"] == ["ETH", "USDC", "USDT"]
    eth = {x.address for x in parsed.labels if x.chain == "eth"}
    raw_eth = {a.lower() for a in json.loads((OFAC / "sanctioned_addresses_ETH.json").read_text())}
    assert raw_eth <= eth and len(eth) == by_chain["eth"]


def test_one_list_is_its_own_source_and_the_currency_comes_from_the_name() -> None:
    only = [(n, d) for n, d in lists() if n.endswith("_XBT.json")]
    assert parse_ofac_lists(only).default_name == "ofac-lists:XBT"
    with pytest.raises(InvalidInput, match="cannot tell the currency"):
        parse_ofac_lists([("addresses.json", b"[]")])
    with pytest.raises(InvalidInput, match="not a list of addresses"):
        parse_ofac_lists([("sanctioned_addresses_XBT.json", b'{"a": 1}')])


# --- TagPacks and ActorPacks ----------------------------------------------------------------


def tagpack(name: str) -> list[LabelDraft]:
    path = TAGPACKS / name
    return parse_tagpack(path.read_bytes(), file_name=name).labels


def test_header_fields_are_inherited_and_tags_override_them() -> None:
    lazarus = tagpack("lazarus.yaml")
    assert len(lazarus) == 21
    assert {x.actor for x in lazarus} == {"lazarusgroup"}
    # category "user" but abuse "sanction": the abuse is what an investigator screens on
    assert {x.category for x in lazarus} == {Category.SANCTIONED}
    assert {x.confidence_name for x in lazarus} == {"authority_data"}
    assert Counter(x.chain for x in lazarus) == {"btc": 20, "eth": 1}
    interpol = tagpack("interpol-real_services.yaml")
    assert Counter(x.category for x in interpol) == {Category.MIXER: 9, Category.EXCHANGE: 1}
    # is_cluster_definer: the tag is about the whole cluster
    assert {x.scope for x in interpol} == {Scope.ENTITY}
    hacks = tagpack("hacks.yaml")
    assert Counter(x.category for x in hacks)[Category.STOLEN_FUNDS] == 178


def test_unsupported_currencies_are_counted_not_errors() -> None:
    path = TAGPACKS / "exchange-wallets-binance.yaml"
    parsed = parse_tagpack(path.read_bytes(), file_name=path.name)
    assert parsed.skipped == Counter(
        {"currency BEP2": 25, "currency BEP20": 16, "currency TRX": 9, "duplicate": 21}
    )
    assert len(parsed.labels) == 15  # 4 BTC and 11 distinct ETH addresses
    assert parsed.default_tlp is Tlp.CLEAR


def test_a_malformed_address_is_an_error_unless_skipped() -> None:
    path = TAGPACKS / "plustoken.yaml"
    with pytest.raises(InvalidInput, match="tag 1: '1MFgcyJ7ZNSknbTBRaih6zWDE6V1A64tRYs'"):
        parse_tagpack(path.read_bytes(), file_name=path.name)
    parsed = parse_tagpack(path.read_bytes(), file_name=path.name, skip_invalid=True)
    assert len(parsed.labels) == 10 and parsed.skipped == Counter({"invalid_address": 2})
    assert {x.label for x in parsed.labels} == {"Plus Token Scam"}


def test_unknown_category_broken_yaml_and_wrong_files() -> None:
    bad = (
        b"title: t\ncreator: c\ncurrency: BTC\ntags:\n"
        b"- address: 1Lud76Q98VRHCUiyK7XUs7AgFofrqXeP78\n  label: x\n  category: spaceship\n"
    )
    with pytest.raises(InvalidInput, match="unknown category 'spaceship'"):
        parse_tagpack(bad, file_name="bad.yaml")
    with pytest.raises(InvalidInput, match="not valid YAML at line 2"):
        parse_tagpack(b"title: t\n  tags: [unclosed\n", file_name="broken.yaml")
    with pytest.raises(InvalidInput, match="not a TagPack"):
        parse_tagpack(b"- just\n- a list\n", file_name="list.yaml")
    actorpack = TAGPACKS / "graphsense.actorpack.yaml"
    with pytest.raises(InvalidInput, match="is an ActorPack"):
        parse_tagpack(b"title: t\nactors: []\n", file_name=actorpack.name)
    with pytest.raises(InvalidInput, match="is empty"):
        parse(ImportFormat.TAGPACK, [("empty.yaml", b"  \n")])


def test_graphsense_actorpack() -> None:
    path = TAGPACKS / "graphsense.actorpack.yaml"
    parsed = parse_actorpack(path.read_bytes(), file_name=path.name)
    assert len(parsed.actors) == 3813 and parsed.version == "2023-02-17"
    binance = next(a for a in parsed.actors if a.ext_id == "binance")
    assert binance.name == "Binance" and "exchange" in binance.categories
    assert binance.jurisdictions


# --- CSV ------------------------------------------------------------------------------------

GOOD_CSV = b"""chain,address,category,actor,confidence,tlp,scope,source_note,case
btc,1Lud76Q98VRHCUiyK7XUs7AgFofrqXeP78,ransomware,,forensic,RED,address,victim report,C-1
eth,0xD7f0E24Bd353404752F61c16EFed0847998B1205,mixer,sideshift,70,,entity,,
"""


def test_csv_columns() -> None:
    parsed = parse_csv(GOOD_CSV, file_name="case.csv")
    first, second = parsed.labels
    assert first.tlp is Tlp.RED and first.confidence == 50 and first.scope is Scope.ADDRESS
    assert first.details == {"case": "C-1", "source_note": "victim report"}
    assert second.address == "0xd7f0e24bd353404752f61c16efed0847998b1205"
    assert second.scope is Scope.ENTITY and second.confidence == 70
    assert second.tlp is None and parsed.default_tlp is Tlp.AMBER  # private by default


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"chain,address\nbtc,1abc\n", "lacks the column(s) category"),
        (b"chain,address,category\nbtc,1abc,scam\n", "line 2: '1abc' is not a btc address"),
        (b"chain,address,category\ndoge,DAbc,scam\n", "unknown chain 'doge'"),
        (
            b"chain,address,category\nbtc,1Lud76Q98VRHCUiyK7XUs7AgFofrqXeP78,hamster\n",
            "unknown category 'hamster'",
        ),
        (
            b"chain,address,category,tlp\nbtc,1Lud76Q98VRHCUiyK7XUs7AgFofrqXeP78,scam,PURPLE\n",
            "unknown TLP 'PURPLE'",
        ),
        (
            b"chain,address,category,confidence\nbtc,1Lud76Q98VRHCUiyK7XUs7AgFofrqXeP78,scam,101\n",
            "not between 0 and 100",
        ),
    ],
)
def test_csv_bad_input(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_csv(body, file_name="bad.csv")


def test_binary_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="binary file"):
        parse_csv(b"\x89PNG\r\n\x1a\n\x00\x00\x00", file_name="picture.csv")

"""Each detector on hand-built data: a true positive and a near miss."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsleuth.core.errors import InvalidInput
from chainsleuth.risk.features import FEATURES, address_features
from chainsleuth.risk.policy import TypologyPolicy
from chainsleuth.risk.provenance import ProvenanceContext
from chainsleuth.risk.typologies import DETECTORS, Typology, detect_data
from chainsleuth.risk.typologies.prices import from_trades_csv
from risk.conftest import HandData, hand_chain

H = 3600
DAY = 86_400
BTC = 100_000_000
P = TypologyPolicy()
#: address 3 is an exchange's deposit address: its entity has 41 addresses (a service)
SERVICE = dict.fromkeys([3, *range(500, 540)], 3)


def _kinds(data, typ):  # type: ignore[no-untyped-def]
    return [i for i in detect_data(data, P, typologies=[typ]) if i.typology == typ]


def _peel(gap: int):  # type: ignore[no-untyped-def]
    flows, outs, ins = [], [], []
    value = 20 * BTC
    for k in range(6):  # tx k+1 spends the change of tx k from address 10+k
        tx = k + 1
        peel = BTC // 10
        value -= peel
        outs += [(tx, 0, 10 + k + 1, value), (tx, 1, 100 + k, peel)]
        ins.append((tx, k, 0, 10 + k, value + peel))
        flows += [
            (tx, k * gap, 10 + k, 10 + k + 1, -1, value),
            (tx, k * gap, 10 + k, 100 + k, -1, peel),
        ]
    return hand_chain("btc", flows=flows, outs=outs, ins=ins)


def test_peel_chain_found_and_near_miss() -> None:
    found = _kinds(_peel(H), Typology.PEEL_CHAIN)
    assert len(found) == 1
    inst = found[0]
    assert inst.tx_hashes == [f"h{t}" for t in range(1, 7)]
    assert inst.amounts == [BTC // 10] * 6
    assert "6 transactions in a row" in inst.explanation
    assert _kinds(_peel(2 * DAY), Typology.PEEL_CHAIN) == []  # hops too far apart


def test_dormant_then_active() -> None:
    def data(days: float):  # type: ignore[no-untyped-def]
        return hand_chain(
            "btc",
            flows=[(1, 0, 1, 2, -1, BTC), (2, int(days * DAY), 2, 3, -1, BTC)],
            entities=SERVICE,
        )

    found = _kinds(data(12), Typology.DORMANT_THEN_ACTIVE)
    assert [i.tx_hashes for i in found] == [["h1", "h2"]]
    assert found[0].addresses == ["a2"] and "untouched for 12.0 days" in found[0].explanation
    assert _kinds(data(9), Typology.DORMANT_THEN_ACTIVE) == []
    to_person = hand_chain(  # woken to pay a person, not cashed out at a service
        "btc", flows=[(1, 0, 1, 2, -1, BTC), (2, 12 * DAY, 2, 3, -1, BTC)]
    )
    assert _kinds(to_person, Typology.DORMANT_THEN_ACTIVE) == []


def test_pass_through() -> None:
    usdt = 5_000 * 10**6

    def data(share: float):  # type: ignore[no-untyped-def]
        return hand_chain(
            "eth",
            flows=[(1, 0, 1, 2, 7, usdt), (2, 1800, 2, 3, 7, int(usdt * share))],
            entities=SERVICE,
        )

    found = _kinds(data(1.0), Typology.PASS_THROUGH)
    assert [i.tx_hashes for i in found] == [["h1", "h2"]]
    assert found[0].asset == "USDT" and found[0].amounts == [usdt, usdt]
    assert _kinds(data(0.5), Typology.PASS_THROUGH) == []
    # with labels: only when what came in came from an illicit source
    for labels, expected in (({1: "scam"}, 1), ({1: "exchange"}, 0), ({}, 0)):
        got = detect_data(
            data(1.0),
            P,
            typologies=[Typology.PASS_THROUGH],
            context=ProvenanceContext({"eth": labels}),
        )
        assert len(got) == expected, labels


def test_structuring() -> None:
    def data(n: int, usd: int):  # type: ignore[no-untyped-def]
        return hand_chain(
            "eth",
            flows=[(k + 1, k * H, 1, 10 + k, 7, usd * 10**6) for k in range(n)],
            entities=dict.fromkeys([10, 11, 12, 13, *range(500, 540)], 10),  # deposits
        )

    found = _kinds(data(4, 9_700), Typology.STRUCTURING)
    assert len(found) == 1 and len(found[0].tx_hashes) == 4
    assert "just under the USD 10,000 threshold" in found[0].explanation
    assert _kinds(data(2, 9_700), Typology.STRUCTURING) == []  # too few
    assert _kinds(data(4, 5_000), Typology.STRUCTURING) == []  # not near the threshold
    to_people = hand_chain(  # payments to people, not deposits where a threshold applies
        "eth", flows=[(k + 1, k * H, 1, 10 + k, 7, 9_700 * 10**6) for k in range(4)]
    )
    assert _kinds(to_people, Typology.STRUCTURING) == []
    clean = detect_data(
        data(4, 9_700),
        P,
        typologies=[Typology.STRUCTURING],
        context=ProvenanceContext({"eth": {99: "ransomware"}}),
    )
    assert clean == []  # the sender's funds come from no illicit source
    # two hops from a labelled ransomware address: 99 pays 98, which pays 1
    tainted = hand_chain(
        "eth",
        flows=[
            (100, -2 * H, 99, 98, 7, 50_000 * 10**6),
            (101, -H, 98, 1, 7, 50_000 * 10**6),
            *[(k + 1, k * H, 1, 10 + k, 7, 9_700 * 10**6) for k in range(4)],
        ],
        entities=dict.fromkeys([10, 11, 12, 13, *range(500, 540)], 10),
    )
    got = detect_data(
        tainted,
        P,
        typologies=[Typology.STRUCTURING],
        context=ProvenanceContext({"eth": {99: "ransomware"}}),
    )
    assert len(got) == 1 and len(got[0].tx_hashes) == 4


def test_mixing() -> None:
    def data(inputs: int):  # type: ignore[no-untyped-def]
        ins = [(1, 0, 0, a, BTC // 10 + 1000) for a in range(1, inputs + 1)]
        outs = [(1, n, 20 + n, BTC // 10) for n in range(inputs)]
        flows = [(1, 0, a, 20 + a - 1, -1, BTC // 10) for a in range(1, inputs + 1)]
        return hand_chain("btc", flows=flows, ins=ins, outs=outs)

    found = _kinds(data(7), Typology.MIXING)
    assert len(found) == 1 and found[0].amounts == [BTC // 10] * 7
    assert _kinds(data(4), Typology.MIXING) == []


def test_chain_hopping() -> None:
    weth = 10 * 10**18

    def data(sender_entity_big: bool):  # type: ignore[no-untyped-def]
        entities = (
            {1: 1, 30: 1, 31: 1} if not sender_entity_big else dict.fromkeys([1, *range(30, 80)], 1)
        )
        flows = [(1, 0, 1, 2, -1, weth), (2, H, 2, 9, -1, weth)]
        atx = [(1, 0, 1, 2, weth, None), (2, H, 2, 9, weth, "0x0d7a8a8e")]
        return hand_chain("eth", flows=flows + [(3, 0, 79, 80, -1, 1)], atx=atx, entities=entities)

    found = _kinds(data(False), Typology.CHAIN_HOPPING)
    assert [i.tx_hashes for i in found] == [["h1", "h2"]]
    assert "bridged 10 ETH" in found[0].explanation
    assert _kinds(data(True), Typology.CHAIN_HOPPING) == []  # funds from a service


def test_round_trip() -> None:
    def data(back: int):  # type: ignore[no-untyped-def]
        return hand_chain(
            "eth",
            flows=[
                (1, 0, 1, 2, 7, 5_000 * 10**6),
                (2, H, 2, 3, 7, 4_900 * 10**6),
                (3, 2 * H, 3, 1, 7, back * 10**6),
            ],
        )

    found = _kinds(data(4_800), Typology.ROUND_TRIP)
    assert len(found) == 1 and found[0].tx_hashes == ["h1", "h2", "h3"]
    assert _kinds(data(1_000), Typology.ROUND_TRIP) == []


def test_round_trip_through_four_nominees() -> None:
    usdt = 10**6

    def data(last: int, extra: list[tuple[int, int, int, int, int, int]]):  # type: ignore[no-untyped-def]
        ring = [1, 2, 3, 4, 5, 1]  # out of 1, through 2..5, back to 1
        flows = [
            (k + 1, k * H, a, b, 7, (5_000 - 10 * k) * usdt)
            for k, (a, b) in enumerate(zip(ring[:-1], ring[1:], strict=True))
        ]
        flows[-1] = (*flows[-1][:5], last * usdt)
        return hand_chain("eth", flows=flows + extra)

    found = _kinds(data(4_950, []), Typology.ROUND_TRIP)
    assert [i.tx_hashes for i in found] == [["h1", "h2", "h3", "h4", "h5"]]
    assert "five transfers through 4 other entities" in found[0].explanation
    assert found[0].addresses == ["a1", "a2", "a3", "a4", "a5"]
    # more back than went round is no round trip of these funds
    assert _kinds(data(6_000, []), Typology.ROUND_TRIP) == []
    # a nominee that dealt with more than max_counterparties entities is a service
    busy = [(100 + k, 10 * DAY + k, 3, 200 + k, 7, usdt) for k in range(201)]
    assert _kinds(data(4_950, busy), Typology.ROUND_TRIP) == []


def _sweep() -> HandData:
    """Addresses 1 and 2 (two other entities) fund the one-shot addresses 3 and 4, swept
    together into 5."""
    return hand_chain(
        "btc",
        flows=[
            (1, 0, 1, 3, -1, BTC),
            (2, 0, 2, 4, -1, BTC),
            (3, H, 3, 5, -1, BTC),
            (3, H, 4, 5, -1, BTC),
        ],
        outs=[(1, 0, 3, BTC), (2, 0, 4, BTC), (3, 0, 5, 2 * BTC)],
        ins=[(1, 0, 0, 1, BTC), (2, 0, 1, 2, BTC), (3, 1, 0, 3, BTC), (3, 2, 0, 4, BTC)],
    )


def test_fan_in_and_fan_out() -> None:
    usdt = 100 * 10**6
    senders = [(k + 1, k * H, k + 1, 9, 7, usdt) for k in range(5)]  # five entities pay 9
    fin = hand_chain("eth", flows=[*senders, (6, 6 * H, 9, 10, 7, 5 * usdt)])
    found = _kinds(fin, Typology.FAN_IN)
    assert len(found) == 1 and found[0].tx_hashes == [f"h{k}" for k in range(1, 7)]
    assert "received from 5 different entities" in found[0].explanation
    four = hand_chain("eth", flows=[*senders[:4], (6, 6 * H, 9, 10, 7, 4 * usdt)])
    assert _kinds(four, Typology.FAN_IN) == []
    sweep = _sweep()
    assert [i.tx_hashes for i in _kinds(sweep, Typology.FAN_IN)] == [["h3"]]
    reused = hand_chain(
        "btc",
        flows=[(1, 0, 1, 3, -1, BTC), (2, 0, 2, 3, -1, BTC), (3, H, 3, 5, -1, 2 * BTC)],
        outs=[(1, 0, 3, BTC), (2, 0, 3, BTC), (3, 0, 5, 2 * BTC)],
        ins=[(3, 1, 0, 3, BTC), (3, 2, 0, 3, BTC)],
    )
    assert _kinds(reused, Typology.FAN_IN) == []  # one address, funded twice
    fout = hand_chain(
        "btc",
        flows=[(1, 0, 1, b, -1, BTC) for b in (2, 3, 4)],
        outs=[(1, n, b, BTC) for n, b in enumerate((2, 3, 4))],
    )
    assert len(_kinds(fout, Typology.FAN_OUT)) == 1
    two = hand_chain("btc", flows=[(1, 0, 1, b, -1, BTC) for b in (2, 3)])
    assert _kinds(two, Typology.FAN_OUT) == []


def test_features_after_detectors_on_one_connection() -> None:
    data = _peel(H)
    for typ, fn in DETECTORS.items():  # leaves no result open on the connection
        fn(data, getattr(P, typ.value))
    ids, first_t, x = address_features(data, P)
    assert x.shape == (ids.size, len(FEATURES)) and first_t.size == ids.size
    peel = FEATURES.index("typ_peel_chain")
    assert x[list(ids).index(10), peel] == 1  # the chain's first input address


def test_peel_chain_ends_with_the_sweep_of_the_remainder() -> None:
    def data(sweep: bool):  # type: ignore[no-untyped-def]
        flows, outs, ins = [], [], []
        value = 20 * BTC
        for k in range(4):  # four peels, tx k+1 spending the change of tx k
            tx = k + 1
            value -= BTC // 10
            outs += [(tx, 0, 10 + k + 1, value), (tx, 1, 100 + k, BTC // 10)]
            ins.append((tx, k, 0, 10 + k, value + BTC // 10))
            flows += [
                (tx, k * H, 10 + k, 10 + k + 1, -1, value),
                (tx, k * H, 10 + k, 100 + k, -1, BTC // 10),
            ]
        if sweep:  # the remainder, whole, to one address
            outs.append((5, 0, 200, value))
            ins.append((5, 4, 0, 14, value))
            flows.append((5, 4 * H, 14, 200, -1, value))
        return hand_chain("btc", flows=flows, outs=outs, ins=ins)

    found = _kinds(data(True), Typology.PEEL_CHAIN)
    assert [i.tx_hashes for i in found] == [[f"h{t}" for t in range(1, 6)]]
    assert "then the remainder of" in found[0].explanation and "a200" in found[0].addresses
    assert _kinds(data(False), Typology.PEEL_CHAIN) == []  # four hops: too short


def test_fan_out_counts_paying_entities_not_addresses() -> None:
    def data(entities: dict[int, int]):  # type: ignore[no-untyped-def]
        return hand_chain(  # addresses 1, 2 and 5 pay 3 people in one transaction
            "btc",
            flows=[(1, 0, a, b, -1, BTC) for a in (1, 2, 5) for b in (6, 7, 8)],
            outs=[(1, n, b, 3 * BTC) for n, b in enumerate((6, 7, 8))],
            entities=entities,
        )

    one_wallet = _kinds(data({1: 1, 2: 1, 5: 1}), Typology.FAN_OUT)
    assert len(one_wallet) == 1 and "paid 9 BTC to 3 different entities" in (
        one_wallet[0].explanation
    )
    assert _kinds(data({1: 1, 2: 1}), Typology.FAN_OUT) == []  # two payers together


def test_dormant_change_swept_home_is_housekeeping() -> None:
    entities = dict.fromkeys([3, 4, *range(500, 540)], 3)  # 3 and 4: one service's wallet
    home = hand_chain(  # 3 pays 4 and its change to 2; 2 wakes and pays 4 again
        "btc",
        flows=[(1, 0, 3, 4, -1, BTC), (1, 0, 3, 2, -1, BTC), (2, 12 * DAY, 2, 4, -1, BTC)],
        entities=entities,
    )
    assert _kinds(home, Typology.DORMANT_THEN_ACTIVE) == []
    away = hand_chain(  # funded by 3 alone, cashed out at the service's deposit address 4
        "btc",
        flows=[(1, 0, 3, 2, -1, BTC), (2, 12 * DAY, 2, 4, -1, BTC)],
        entities=entities,
    )
    assert len(_kinds(away, Typology.DORMANT_THEN_ACTIVE)) == 1


def test_structuring_at_the_day_price(tmp_path: Path) -> None:
    """0.15 BTC is USD 9,300 at the reference price of USD 62,000, USD 13,950 on a day the
    market is at USD 93,000: under the threshold only by the reference price."""

    def data():  # type: ignore[no-untyped-def]
        return hand_chain(
            "btc",
            flows=[(k + 1, k * H, 1, 10 + k, -1, 15 * BTC // 100) for k in range(4)],
            entities=dict.fromkeys([10, 11, 12, 13, *range(500, 540)], 10),
        )

    assert len(_kinds(data(), Typology.STRUCTURING)) == 1  # reference prices
    trades = tmp_path / "trades.csv"
    trades.write_text(
        '"trade_id","customer_id","side","asset","amount","price_usd","time"\n'
        '"T1","C1","buy","BTC","0.1",92000.0,1970-01-01 01:00:00Z\n'
        '"T2","C1","buy","BTC","0.1",93000.0,1970-01-01 02:00:00Z\n'
        '"T3","C1","buy","BTC","0.1",99000.0,1970-01-01 03:00:00Z\n'
    )
    prices = from_trades_csv(trades)
    assert prices.price("BTC", 0) == 93_000.0 and prices.price("BTC", DAY) is None
    got = detect_data(data(), P, typologies=[Typology.STRUCTURING], prices=prices)
    assert got == []  # USD 13,950 each that day: over the threshold
    under = hand_chain(  # 0.1 BTC a payment: USD 9,300 that day
        "btc",
        flows=[(k + 1, k * H, 1, 10 + k, -1, BTC // 10) for k in range(4)],
        entities=dict.fromkeys([10, 11, 12, 13, *range(500, 540)], 10),
    )
    assert _kinds(under, Typology.STRUCTURING) == []  # USD 6,200 at the reference price
    found = detect_data(under, P, typologies=[Typology.STRUCTURING], prices=prices)
    assert len(found) == 1 and "USD 9,300 to 9,300" in found[0].explanation
    bad = tmp_path / "bad.csv"
    bad.write_text("asset,price_usd,time\nBTC,lots,yesterday\n")
    with pytest.raises(InvalidInput, match="bad.csv:2"):
        from_trades_csv(bad)


def test_utxo_fan_in_needs_the_illicit_actor_itself() -> None:
    """A sweep of one-shot addresses with labels: the criminal collecting proceeds (an
    address of the sweep is a labelled illicit source), not a user consolidating coins that
    came from one (tainted one transfer upstream)."""

    def found(labels: dict[int, str]) -> list[list[str]]:
        got = detect_data(
            _sweep(), P, typologies=[Typology.FAN_IN], context=ProvenanceContext({"btc": labels})
        )
        return [i.tx_hashes for i in got]

    assert found({3: "ransomware"}) == [["h3"]]  # a ransom address swept
    assert found({5: "darknet_market"}) == [["h3"]]  # swept into a market's wallet
    assert found({1: "sanctioned"}) == []  # one payer's coins came from a sanctioned source

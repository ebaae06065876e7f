"""CoinJoin detection and change heuristics on hand-built transactions; a hand-built store
clustered end to end: merges, skipped CoinJoins, evidence paths, incremental builds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chain.chain_builders import BTC, MINER, A, B, C, D, E, UTx, txid, utxo_batch
from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.store import ChainStore
from chainsleuth.core.errors import Conflict, InvalidInput, NotFound
from chainsleuth.entities import heuristics as hx
from chainsleuth.entities import service as entity_service
from chainsleuth.entities import store as es
from chainsleuth.entities.clustering import BuildParams
from chainsleuth.entities.enums import Heuristic, parse_heuristics


def shape(inputs: list[list[int]], outputs: list[list[int]]) -> list[int]:
    """Kinds found for txs given as input address lists and output value lists."""
    in_tx = np.repeat(np.arange(len(inputs)), [len(i) for i in inputs])
    in_addr = np.concatenate([sorted(i) for i in inputs])
    out_tx = np.repeat(np.arange(len(outputs)), [len(o) for o in outputs])
    out_value = np.concatenate([sorted(o) for o in outputs])
    tx, kinds = hx.detect_coinjoins(in_tx, in_addr, out_tx, out_value)
    found = dict(zip(tx.tolist(), kinds.tolist(), strict=True))
    return [found.get(t, 0) for t in range(len(inputs))]


def test_coinjoin_shapes() -> None:
    K = hx.CoinJoinKind
    d = 5_000_000
    whirlpool = ([1, 2, 3, 4, 5], [d] * 5)
    wasabi = (list(range(10, 30)), [10_000_000] * 15 + [123, 456, 789, 31_337])
    joinmarket = ([40, 41, 42, 43], [d, d, d, 1_234, 5_678, 9_999])
    equal = ([50, 51], [d, d, d, 777, 888, 999, 1_111, 2_222])
    payment = ([60, 61], [d, 99_999])  # two inputs, payment and change
    batch = ([70, 71, 72], [1, 2, 3, 4, 5, 6])  # an exchange's batch: all different
    one_owner = ([80, 80, 80], [d, d, d])  # equal outputs but one input address
    cases = [whirlpool, wasabi, joinmarket, equal, payment, batch, one_owner]
    assert shape([c[0] for c in cases], [c[1] for c in cases]) == [
        K.WHIRLPOOL,
        K.WASABI,
        K.JOINMARKET,
        K.EQUAL_OUTPUT,
        K.NONE,
        K.NONE,
        K.NONE,
    ]


def change(
    outs: list[tuple[int, int, int, int]], switches: hx.ChangeSwitches, inputs: list[int]
) -> tuple[list[int], list[int]]:
    """One tx at height 10 spending ``inputs`` (addresses of script 3) to ``outs``
    (address, value, script, first-seen height): (change addresses, codes)."""
    n = 100
    script = np.full(n, 3, dtype=np.int8)
    first = np.zeros(n, dtype=np.int32)
    for a, _, s, h in outs:
        script[a] = s
        first[a] = h
    _, _, b, codes = hx.change_links(
        in_tx=np.zeros(len(inputs), dtype=np.int64),
        in_addr=np.array(inputs),
        out_tx=np.zeros(len(outs), dtype=np.int64),
        out_addr=np.array([o[0] for o in outs]),
        out_value=np.array([o[1] for o in outs]),
        out_script=np.array([o[2] for o in outs], dtype=np.int8),
        out_height=np.full(len(outs), 10),
        addr_script=script,
        addr_first=first,
        skip_tx=np.empty(0, dtype=np.int64),
        switches=switches,
    )
    return b.tolist(), codes.tolist()


def test_change_heuristics() -> None:
    fresh = hx.ChangeSwitches(fresh=True)
    # output 11 was seen at height 2, output 12 is new here: 12 is the one-time change
    assert change([(11, 5_000, 3, 2), (12, 7_321, 3, 10)], fresh, [1]) == ([12], [2])
    # both new: no call
    assert change([(11, 5_000, 3, 10), (12, 7_321, 3, 10)], fresh, [1]) == ([], [])
    script = hx.ChangeSwitches(script=True)
    assert change([(11, 5_000, 1, 2), (12, 7_321, 3, 2)], script, [1, 2]) == ([12], [3])
    rnd = hx.ChangeSwitches(round=True)
    assert change([(11, 300_000, 3, 2), (12, 7_321, 3, 2)], rnd, [1]) == ([12], [4])
    # disagreeing heuristics make no link
    both = hx.ChangeSwitches(fresh=True, script=True)
    assert change([(11, 5_000, 3, 2), (12, 7_321, 1, 10)], both, [1]) == ([], [])
    assert change([(11, 5_000, 3, 10), (12, 7_321, 1, 2)], both, [1]) == ([11], [3])
    # an output back to an input address: with change-reuse, no change link at all
    guard = hx.ChangeSwitches(fresh=True, reuse=True)
    assert change([(1, 5_000, 3, 0), (12, 7_321, 3, 10)], guard, [1]) == ([], [])
    assert change([(1, 5_000, 3, 0), (12, 7_321, 3, 10)], fresh, [1]) == ([12], [2])


def test_parse_heuristics() -> None:
    assert parse_heuristics(None, "utxo") == (Heuristic.MULTI_INPUT,)
    assert parse_heuristics("change,multi-input", "utxo")[0] is Heuristic.MULTI_INPUT
    assert len(parse_heuristics("change", "utxo")) == 4
    assert parse_heuristics("multi-input", "account") == ()
    with pytest.raises(InvalidInput, match="unknown heuristic 'bogus'"):
        parse_heuristics("multi-input,bogus", "utxo")


# --- a hand-built chain, clustered -----------------------------------------------------------


def blocks() -> list[BlockRange]:
    """A and B spent together (t1); C, D and E in a CoinJoin (cj); B and D together (t2)."""
    first = utxo_batch(
        0,
        [[UTx("c0", [(A, 10 * BTC), (B, 10 * BTC), (C, 10 * BTC), (D, 10 * BTC), (E, 10 * BTC)])]],
    )
    second = utxo_batch(
        1,
        [
            [
                UTx("c1", [(MINER, 625_000_000)]),
                UTx("t1", [(C, 15 * BTC), (B, 5 * BTC)], inputs=[("c0", 0), ("c0", 1)]),
                UTx(
                    "cj",
                    [(A, 3 * BTC), (B, 3 * BTC), (MINER, 3 * BTC), (D, 21 * BTC)],
                    inputs=[("c0", 2), ("c0", 3), ("c0", 4)],
                ),
            ]
        ],
    )
    third = utxo_batch(
        2,
        [
            [
                UTx("c2", [(MINER, 625_000_000)]),
                UTx("t2", [(E, 26 * BTC)], inputs=[("t1", 1), ("cj", 3)]),
            ]
        ],
    )
    return [first, second, third]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "chains"
    with ChainStore(root, durable=False) as s:
        for batch in blocks():
            s.append(batch)
    return root


def ids(root: Path, *addresses: str) -> list[int]:
    with ChainStore(root, durable=False) as s, s.reader() as r:
        found = [r.address_id("btc", a) for a in addresses]
    assert None not in found
    return [int(i) for i in found if i is not None]


def test_multi_input_skips_coinjoins_and_explains(store: Path) -> None:
    (result,) = entity_service.build(store, "btc")
    assert result.mode == "full" and result.coinjoins == 1 and result.merges == 2
    a, b, c, d, e, m = ids(store, A, B, C, D, E, MINER)
    ent = entity_service.entity_of(store, "btc", np.array([a, b, c, d, e, m]))
    assert ent[0] == ent[1] == ent[3] == min(a, b, d)
    assert len({int(ent[0]), int(ent[2]), int(ent[4]), int(ent[5])}) == 4
    assert entity_service.members(store, "btc", int(ent[0])).tolist() == sorted([a, b, d])
    steps = entity_service.why(store, "btc", a, d)
    assert [(s.a_id, s.b_id, s.tx, s.heuristic) for s in steps] == [
        (a, b, txid("t1"), "multi-input"),
        (b, d, txid("t2"), "multi-input"),
    ]
    assert [s.b for s in entity_service.why(store, "btc", d, a)] == [B, A]
    assert entity_service.why(store, "btc", a, a) == []
    with pytest.raises(NotFound, match="not one entity"):
        entity_service.why(store, "btc", a, c)
    summary = entity_service.entity_summary(store, "btc", int(ent[0]))
    assert summary.size == 3 and summary.heuristics[0].merges == 2
    assert summary.heuristics_enabled == ["multi-input"]
    # A received 10 + 3, B 10 + 5 + 3, D 10 + 21
    assert summary.received == 62 * BTC
    assert summary.top_addresses[0].address == D
    with pytest.raises(NotFound, match="no entity id"):
        entity_service.entity_summary(store, "btc", max(a, b, d))
    # applying multi-input to the CoinJoin joins C, D and E in as well
    (kept,) = entity_service.build(
        store, "btc", params=BuildParams(skip_coinjoin=False, large_entity=0)
    )
    assert kept.mode == "full" and kept.coinjoins == 0
    assert len(set(entity_service.entity_of(store, "btc", np.array([a, c, d, e])))) == 1


def test_incremental_build_and_reorg(tmp_path: Path) -> None:
    root = tmp_path / "chains"
    parts = blocks()
    with ChainStore(root, durable=False) as s:
        s.append(parts[0])
        s.append(parts[1])
        (first,) = entity_service.build(root, "btc", params=BuildParams(large_entity=2))
        assert first.mode == "full" and first.last_height == 1
        s.append(parts[2])
        (second,) = entity_service.build(root, "btc", params=BuildParams(large_entity=2))
        assert second.mode == "incremental" and second.first_height == 2
        # t2 joined {A, B} with {D}: sizes 2 and 1, below the warning threshold of 2 each
        assert second.warnings == []
        (again,) = entity_service.build(root, "btc", params=BuildParams(large_entity=2))
        assert again.mode == "up-to-date"
        incremental = np.array(entity_service.entity_map(root, "btc"))
        (full,) = entity_service.build(root, "btc", full=True, params=BuildParams(large_entity=2))
        assert np.array_equal(np.array(entity_service.entity_map(root, "btc")), incremental)
        state = es.load_state(root, "btc")
        assert state is not None and len(state.evidence_files) == 1  # the new generation
        s.truncate_after("btc", 1)
        (cut,) = entity_service.build(root, "btc", params=BuildParams(large_entity=2))
        assert cut.mode == "full" and cut.last_height == 1 and cut.merges == 1


def test_large_merge_warning(store: Path) -> None:
    (result,) = entity_service.build(store, "btc", params=BuildParams(large_entity=1))
    assert len(result.warnings) == 2
    w = result.warnings[1]
    assert w["event"] == "large_entity_merge" and w["tx"] == txid("t2")
    assert es.read_warnings(store, "btc")[-1]["tx"] == txid("t2")


def test_no_build_and_concurrent_build(store: Path) -> None:
    with pytest.raises(NotFound, match="no entities of btc"):
        entity_service.entity_map(store, "btc")
    with pytest.raises(NotFound, match="no blocks of eth"):
        entity_service.build(store, "eth")
    with es.build_lock(store, "btc"), pytest.raises(Conflict, match="another entities build"):
        entity_service.build(store, "btc")
    with pytest.raises(InvalidInput):
        entity_service.build(store, "doge")
    with pytest.raises(NotFound, match="no chain store"):
        entity_service.build(store.parent / "elsewhere", "all")
    assert not (store.parent / "elsewhere").exists()
    # "all" builds the chains that have blocks
    assert [r.chain for r in entity_service.build(store, "all")] == ["btc"]

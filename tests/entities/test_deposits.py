"""Ethereum deposit addresses (Victor 2020) on a hand-built chain: hot wallets found
without ground truth, senders tied together, evidence through the deposit address."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from chain.chain_builders import ETH, ATx, account_batch
from chainsleuth.chain.addresses import display_address
from chainsleuth.chain.store import ChainStore
from chainsleuth.entities import service as entity_service

TOKEN = "0xd1220a0cf47c7b9be7a2e6ba89f429762e7b9adb"


def addr(label: str) -> str:
    return "0x" + hashlib.sha256(label.encode()).hexdigest()[:40]


HOT, OTHER_SINK, DEX = addr("hot"), addr("sink"), addr("dex")
DEPOSITS = [addr(f"deposit{i}") for i in range(4)]
ALICE, ALICE2, BOB, CAROL, DAVE = (addr(x) for x in ("alice", "alice2", "bob", "carol", "dave"))


def history() -> list[ATx]:
    """Four deposit addresses swept into HOT (one gets USDT and a gas top-up from HOT);
    ALICE pays deposit 0 from two addresses; BOB, CAROL one deposit each. DAVE only ever
    pays one DEX contract, which must not become a hot wallet; a lone forwarder into
    OTHER_SINK does not make it one either."""
    txs = [
        ATx("mk-dex", DAVE, None, 0, created=DEX, method="0x60806040"),
        ATx("a1", ALICE, DEPOSITS[0], 2 * ETH),
        ATx("a2", ALICE2, DEPOSITS[0], 1 * ETH),
        ATx("b1", BOB, DEPOSITS[1], 5 * ETH),
        ATx("c1", CAROL, DEPOSITS[2], 1 * ETH),
        ATx(
            "d3",
            DAVE,
            TOKEN,
            0,
            method="0xa9059cbb",
            transfers=[(TOKEN, DAVE, DEPOSITS[3], 500_000_000)],
        ),
        ATx("gas", HOT, DEPOSITS[3], ETH // 100),
        ATx("s0", DEPOSITS[0], HOT, 3 * ETH - 10**15),
        ATx("s1", DEPOSITS[1], HOT, 5 * ETH - 10**15),
        ATx("s2", DEPOSITS[2], HOT, 1 * ETH - 10**15),
        ATx(
            "s3",
            DEPOSITS[3],
            TOKEN,
            0,
            method="0xa9059cbb",
            transfers=[(TOKEN, DEPOSITS[3], HOT, 500_000_000)],
        ),
        ATx("x1", CAROL, addr("loner"), ETH // 10),
        ATx("x2", addr("loner"), OTHER_SINK, ETH // 10 - 10**15),
        ATx("swap", DAVE, DEX, ETH // 10, method="0x7ff36ab5"),
        ATx("w1", HOT, addr("withdrawer"), ETH),
    ]
    for i in range(3):  # three addresses that pass on all they get to the DEX contract
        swapper = addr(f"swapper{i}")
        txs.append(ATx(f"f{i}", addr("payer"), swapper, ETH))
        txs.append(ATx(f"g{i}", swapper, DEX, ETH - 10**15, method="0x7ff36ab5"))
    return txs


def test_deposit_addresses(tmp_path: Path) -> None:
    root = tmp_path / "chains"
    with ChainStore(root, durable=False) as store:
        store.append(
            account_batch(0, [[tx] for tx in history()], tokens=[(TOKEN, "USDT", "Tether USD", 6)])
        )
        with store.reader() as r:
            swapper_ids = [r.address_id("eth", addr(f"swapper{i}")) for i in range(3)]
            ids = {
                a: r.address_id("eth", a)
                for a in [HOT, *DEPOSITS, ALICE, ALICE2, BOB, CAROL, DAVE, DEX, OTHER_SINK]
            }
    (result,) = entity_service.build(root, "eth")
    assert result.mode == "full"
    ent = dict(
        zip(ids, entity_service.entity_of(root, "eth", np.array(list(ids.values()))), strict=True)
    )
    # the exchange: its hot wallet and the four deposit addresses
    assert {ent[d] for d in DEPOSITS} == {ent[HOT]}
    # Alice's two addresses are one customer; nobody else joins anyone
    assert ent[ALICE] == ent[ALICE2] != ent[HOT]
    others = [ent[a] for a in (ALICE, BOB, CAROL, DAVE, DEX, OTHER_SINK)]
    assert len(set(others)) == len(others)
    assert ent[DAVE] != ent[HOT] and ent[DEX] != ent[HOT]
    swappers = entity_service.entity_of(
        root, "eth", np.array([int(r) for r in swapper_ids] + [ids[DEX]])
    )
    assert len(set(swappers.tolist())) == 4  # a contract is no hot wallet
    (step,) = entity_service.why(root, "eth", ids[ALICE2], ids[ALICE])
    assert step.heuristic == "eth-deposit" and step.via == display_address("eth", DEPOSITS[0])
    assert {step.tx, step.tx_b} == {
        "0x" + hashlib.sha256(b"a1").hexdigest(),
        "0x" + hashlib.sha256(b"a2").hexdigest(),
    }
    sweep = entity_service.why(root, "eth", ids[DEPOSITS[3]], ids[HOT])
    assert [s.heuristic for s in sweep] == ["eth-deposit-sweep"]
    summary = entity_service.entity_summary(root, "eth", int(ent[HOT]))
    assert summary.size == 5
    assert {h.heuristic for h in summary.heuristics} == {"eth-deposit-sweep"}
    # only the sweep heuristic: Alice's addresses stay apart
    entity_service.build(root, "eth", heuristics="eth-deposit-sweep")
    a, a2 = entity_service.entity_of(root, "eth", np.array([ids[ALICE], ids[ALICE2]]))
    assert a != a2

"""Internal transfers reach risk's flow data (``risk.data.load_chain``): the successful,
value-moving ones, by the rule tracing's flowsource applies; on the store loaded from the
ethereum-etl export of test_ingest_internal (real blocks, made-up traces)."""

from __future__ import annotations

from pathlib import Path

from test_ingest_internal import DELEGATE, NESTED, PAYEE, REVERTED, _export

from chainsleuth.chain.store import ChainStore
from chainsleuth.ingest.etl import EtlSource
from chainsleuth.ingest.follow import Syncer, SyncOptions
from chainsleuth.risk.data import load_chain


def test_risk_flows_include_successful_internal_transfers(tmp_path: Path) -> None:
    tx = _export(tmp_path / "export")
    root = tmp_path / "chains"
    with ChainStore(root, durable=False) as store:
        Syncer(store, EtlSource("eth", tmp_path / "export"), SyncOptions()).run()
        with store.reader() as reader:
            ids = {
                name: reader.address_id("eth", a)
                for name, a in [("router", tx["to_address"]), ("payee", PAYEE), ("nested", NESTED)]
            }
            tx_id = reader.tx_id("eth", tx["hash"])
            reverted_id = reader.address_id("eth", REVERTED)  # stored, with status 0
            assert reverted_id is not None
            assert reader.address_id("eth", DELEGATE) is None
    data = load_chain(root, "eth", prices_usd={"ETH": 2000.0})
    try:
        eth = data.con.execute(
            "SELECT from_id, to_id, value::VARCHAR, usd FROM flows "
            "WHERE tx_id = ? AND asset_id = -1 ORDER BY value DESC",
            [tx_id],
        ).fetchall()
        reverted = data.con.execute(
            "SELECT count(*) FROM flows WHERE from_id = $a OR to_id = $a", {"a": reverted_id}
        ).fetchall()
    finally:
        data.close()
    sender_value = int(tx["value"])
    moved = [(f, t, int(v)) for f, t, v, _usd in eth]
    # the transaction's own value, then the internal transfers that moved ETH
    assert (ids["router"], ids["payee"], 7_000_000_000_000_000_000) in moved
    assert (ids["payee"], ids["nested"], 1_000) in moved
    assert sender_value in [v for _f, t, v in moved if t == ids["router"]]
    assert all(v != 123 and v != 5 for _f, _t, v in moved)  # reverted, delegatecall: nothing
    usd = {int(v): u for _f, _t, v, u in eth}
    assert abs(usd[7_000_000_000_000_000_000] - 7 * 2000.0) < 1e-6
    assert reverted == [(0,)]

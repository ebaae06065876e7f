"""The small test world in a chain store (entities built), and hand-built chain data."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from chainsleuth.chain.chains import get_chain
from chainsleuth.entities import service as entity_service
from chainsleuth.risk.data import ChainData
from chainsleuth.world.load import load_world


@pytest.fixture(scope="session")
def risk_store(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("risk") / "chains"
    load_world(world, store_root=root)
    entity_service.build(root, "all")
    return root


class HandData(ChainData):
    """Chain data built by hand: hashes are ``h<tx id>``, addresses ``a<id>``."""

    def hashes(self, tx_ids: list[int]) -> list[str]:
        return [f"h{t}" for t in tx_ids]

    def addresses(self, ids: list[int]) -> list[str]:
        return [f"a{i}" for i in ids]


def hand_chain(
    chain: str,
    *,
    flows: list[tuple[int, int, int | None, int | None, int, int]],  # tx, t, from, to, asset, value
    entities: dict[int, int] | None = None,  # address -> entity (others: their own)
    outs: list[tuple[int, int, int, int]] = (),  # type: ignore[assignment]  # tx, n, addr, value
    ins: list[tuple[int, int, int, int, int]] = (),  # type: ignore[assignment]  # tx, prev_tx, prev_n, addr, value
    atx: list[tuple[int, int, int, int, int, str | None]] = (),  # type: ignore[assignment]
) -> HandData:
    """``atx`` rows: tx, t, from, to, value, method (status 1)."""
    info = get_chain(chain)
    con = duckdb.connect()
    n_addr = 1 + max([a for f in flows for a in (f[2], f[3]) if a is not None] + [0])
    ent = {a: a for a in range(n_addr)} | (entities or {})
    sizes: dict[int, int] = {}
    for e in ent.values():
        sizes[e] = sizes.get(e, 0) + 1
    con.execute("CREATE TABLE ent (address_id BIGINT, entity_id BIGINT, size BIGINT)")
    for a, e in ent.items():
        con.execute("INSERT INTO ent VALUES (?, ?, ?)", [a, e, sizes[e]])
    con.execute(
        "CREATE TABLE assets (asset_id BIGINT, symbol VARCHAR, decimals INTEGER, "
        "usd_per_unit DOUBLE)"
    )
    con.execute(
        "INSERT INTO assets VALUES (-1, ?, ?, ?)",
        [info.symbol, info.decimals, (62_000.0 if chain == "btc" else 3000.0) / 10**info.decimals],
    )
    con.execute("INSERT INTO assets VALUES (7, 'USDT', 6, 0.000001)")
    con.execute(
        "CREATE TABLE flows (tx_id BIGINT, height BIGINT, t BIGINT, from_id BIGINT, to_id BIGINT, "
        "asset_id BIGINT, value HUGEINT, usd DOUBLE)"
    )
    for tx, t, a, b, asset, v in flows:
        price = (
            62_000.0 / 1e8
            if asset == -1 and chain == "btc"
            else (3000.0 / 1e18 if asset == -1 else 1e-6)
        )
        con.execute(
            "INSERT INTO flows VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [tx, tx, t, a, b, asset, v, v * price],
        )
    con.execute("CREATE TABLE tx AS SELECT DISTINCT tx_id, height, t FROM flows")
    con.execute(
        "CREATE TABLE outs (tx_id BIGINT, height BIGINT, n INTEGER, address_id BIGINT, "
        "value BIGINT)"
    )
    for tx, n, a, v in outs:
        con.execute("INSERT INTO outs VALUES (?, ?, ?, ?, ?)", [tx, tx, n, a, v])
    con.execute(
        "CREATE TABLE ins (tx_id BIGINT, height BIGINT, prev_tx_id BIGINT, prev_n INTEGER, "
        "address_id BIGINT, value BIGINT)"
    )
    for tx, ptx, pn, a, v in ins:
        con.execute("INSERT INTO ins VALUES (?, ?, ?, ?, ?, ?)", [tx, tx, ptx, pn, a, v])
    if info.kind.value == "utxo":
        con.execute("DROP TABLE tx")
        con.execute(
            """CREATE TABLE tx AS SELECT tx_id, any_value(height) AS height, any_value(t) AS t,
               false AS coinbase, 0 AS input_count,
               (SELECT count(*) FROM outs o WHERE o.tx_id = f.tx_id)::INTEGER AS output_count
               FROM flows f GROUP BY tx_id"""
        )
    con.execute(
        "CREATE TABLE atx (tx_id BIGINT, height BIGINT, t BIGINT, from_id BIGINT, to_id BIGINT, "
        "value HUGEINT, status TINYINT, method VARCHAR)"
    )
    for tx, t, a, b, v, m in atx:
        con.execute("INSERT INTO atx VALUES (?, ?, ?, ?, ?, ?, 1, ?)", [tx, tx, t, a, b, v, m])
    return HandData(info, Path("."), con, 0, 10**6, n_addr)

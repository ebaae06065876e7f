"""One chain of the store, read into an in-memory DuckDB database for the detectors and
the features.

``load_chain(root, chain, since_height=...)`` reads the committed Parquet segments (those
the manifest names) from a height on, with the entity map of the last clustering build
(each address its own entity when none was built), and creates these tables:

* every chain: ``flows(tx_id, height, t, from_id, to_id, asset_id, value, usd)``, the
  address-level flows of ``chainsleuth.chain.flows`` (UTXO: each output split over the
  inputs in proportion; ``t`` in Unix seconds, ``value`` exact, ``usd`` at the policy's
  reference prices); ``ent(address_id, entity_id, size)``; ``assets(asset_id, symbol,
  decimals, usd_per_unit)``; ``tx(tx_id, height, t)``.
* UTXO: ``outs(tx_id, n, address_id, value)``, ``ins(tx_id, prev_tx_id, prev_n,
  address_id, value)``, ``utx(tx_id, coinbase, input_count, output_count)``.
* account: ``atx(tx_id, from_id, to_id, value, status, method)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from chainsleuth.chain import storage
from chainsleuth.chain.addresses import display_address
from chainsleuth.chain.chains import ChainInfo, get_chain
from chainsleuth.chain.enums import ChainKind
from chainsleuth.chain.keys import hex_of
from chainsleuth.core.errors import NotFound
from chainsleuth.entities import service as entity_service
from chainsleuth.entities import source


@dataclass
class ChainData:
    info: ChainInfo
    root: Path
    con: duckdb.DuckDBPyConnection
    first_height: int
    tip: int
    address_count: int
    #: asset id -> (symbol, decimals), filled by ``asset``
    _assets: dict[int, tuple[str, int]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def utxo(self) -> bool:
        return self.info.kind is ChainKind.UTXO

    def hashes(self, tx_ids: list[int]) -> list[str]:
        flat = storage.FlatFiles(self.root / self.info.id)
        return hex_of(flat.tx_hashes(tx_ids), prefixed=not self.utxo)

    def addresses(self, ids: list[int]) -> list[str]:
        flat = storage.FlatFiles(self.root / self.info.id)
        texts = flat.addresses(sorted(set(ids)))
        by = dict(zip(sorted(set(ids)), texts, strict=True))
        return [display_address(self.info.id, by[i]) for i in ids]

    def asset(self, asset_id: int) -> tuple[str, int]:
        """(symbol, decimals) of an asset id, read once per asset: the detectors word
        every instance's amount, and one query each cost most of their time."""
        known = self._assets.get(asset_id)
        if known is None:
            found = self.con.execute(
                "SELECT symbol, decimals FROM assets WHERE asset_id = ?", [asset_id]
            ).fetchall()
            known = (str(found[0][0]), int(found[0][1])) if found else (str(asset_id), 0)
            self._assets[asset_id] = known
        return known

    def symbol(self, asset_id: int) -> str:
        return self.asset(asset_id)[0]

    def close(self) -> None:
        self.con.close()


def _files(
    con: duckdb.DuckDBPyConnection, root: Path, chain: str, table: str, lo: int
) -> list[str]:
    return [
        str(Path(root) / p)
        for (p,) in storage.rows(
            con,
            "SELECT path FROM segments WHERE chain = ? AND tbl = ? AND last_height >= ? "
            "ORDER BY first_height",
            [chain, table, lo],
        )
    ]


def load_chain(
    root: Path, chain: str, *, prices_usd: dict[str, float], since_height: int = 0
) -> ChainData:
    info = get_chain(chain)
    root = Path(root)
    with source.chain_connection(root) as store:
        state = storage.one(
            store,
            "SELECT tip_height, address_count FROM chain_state WHERE chain = ?",
            [info.id],
        )
        if state is None or state[0] is None:
            raise NotFound(f"the chain store holds no blocks of {info.id}")
        tip, address_count = int(state[0]), int(state[1])
        tables = (
            ("txs", "outputs", "inputs")
            if info.kind is ChainKind.UTXO
            else ("txs", "token_transfers", "traces")
        )
        files = {t: _files(store, root, info.id, t, since_height) for t in tables}
        tokens = storage.rows(
            store, "SELECT token_id, symbol, decimals FROM tokens WHERE chain = ?", [info.id]
        )
    try:
        entities = np.asarray(entity_service.entity_map(root, info.id), dtype=np.int64)
    except NotFound:
        entities = np.arange(0, dtype=np.int64)
    ids = np.arange(address_count, dtype=np.int64)
    ent = ids.copy()
    n = min(entities.size, address_count)
    ent[:n] = entities[:n]
    sizes = np.bincount(ent, minlength=address_count)[ent] if address_count else ent

    con = duckdb.connect()
    con.register("ent_arrow", pa.table({"address_id": ids, "entity_id": ent, "size": sizes}))
    con.execute("CREATE TABLE ent AS SELECT * FROM ent_arrow")
    con.unregister("ent_arrow")
    assets = [(storage.NATIVE_ASSET, info.symbol, info.decimals)] + [
        (int(t), str(s), int(d) if d is not None else 0) for t, s, d in tokens
    ]
    con.execute(
        "CREATE TABLE assets (asset_id BIGINT, symbol VARCHAR, decimals INTEGER, "
        "usd_per_unit DOUBLE)"
    )
    for a, s, d in assets:
        price = float(prices_usd.get(s, 0.0))
        con.execute("INSERT INTO assets VALUES (?, ?, ?, ?)", [a, s, d, price / 10.0**d])
    if info.kind is ChainKind.UTXO:
        _load_utxo(con, files, since_height)
    else:
        _load_account(con, files, since_height)
    con.execute(
        """CREATE TABLE flows_usd AS SELECT f.*, f.value::DOUBLE * a.usd_per_unit AS usd
           FROM flows f JOIN assets a USING (asset_id)"""
    )
    con.execute("DROP TABLE flows")
    con.execute("ALTER TABLE flows_usd RENAME TO flows").fetchall()
    return ChainData(info, root, con, since_height, tip, address_count)


def _create(
    con: duckdb.DuckDBPyConnection, name: str, select: str, files: list[str], empty: str, lo: int
) -> None:
    if files:
        con.execute(
            f"CREATE TABLE {name} AS {select.format(src='read_parquet($files::VARCHAR[])')}",
            {"files": files, "lo": lo},
        )
    else:
        con.execute(f"CREATE TABLE {name} AS {empty}")


def _load_utxo(con: duckdb.DuckDBPyConnection, files: dict[str, list[str]], lo: int) -> None:
    _create(
        con,
        "tx",
        "SELECT tx_id, height, epoch(time)::BIGINT AS t, coinbase, input_count, "
        "output_count FROM {src} WHERE height >= $lo",
        files["txs"],
        "SELECT 0::BIGINT tx_id, 0::BIGINT height, 0::BIGINT t, false coinbase, 0 input_count,"
        " 0 output_count WHERE false",
        lo,
    )
    _create(
        con,
        "outs",
        "SELECT tx_id, height, n, address_id, value FROM {src} WHERE height >= $lo",
        files["outputs"],
        "SELECT 0::BIGINT tx_id, 0::BIGINT height, 0 n, 0::BIGINT address_id, 0::BIGINT value"
        " WHERE false",
        lo,
    )
    _create(
        con,
        "ins",
        "SELECT tx_id, height, prev_tx_id, prev_n, address_id, value FROM {src} "
        "WHERE height >= $lo",
        files["inputs"],
        "SELECT 0::BIGINT tx_id, 0::BIGINT height, 0::BIGINT prev_tx_id, 0 prev_n, "
        "0::BIGINT address_id, 0::BIGINT value WHERE false",
        lo,
    )
    con.execute(
        """CREATE TABLE flows AS
        WITH i AS (SELECT tx_id, address_id AS a, sum(value)::HUGEINT AS v
                   FROM ins GROUP BY ALL),
             tot AS (SELECT tx_id, sum(v) AS total FROM i GROUP BY tx_id),
             o AS (SELECT tx_id, address_id AS b, sum(value)::HUGEINT AS ov
                   FROM outs GROUP BY ALL)
        SELECT o.tx_id, x.height, x.t, i.a AS from_id, o.b AS to_id,
               -1::BIGINT AS asset_id,
               CASE WHEN tot.total IS NULL OR tot.total = 0 THEN o.ov
                    ELSE o.ov * i.v // tot.total END AS value
        FROM o JOIN tx x USING (tx_id) LEFT JOIN tot USING (tx_id) LEFT JOIN i USING (tx_id)"""
    )


def _load_account(con: duckdb.DuckDBPyConnection, files: dict[str, list[str]], lo: int) -> None:
    _create(
        con,
        "atx",
        "SELECT tx_id, height, epoch(time)::BIGINT AS t, from_id, "
        "coalesce(to_id, created_contract_id) AS to_id, value::HUGEINT AS value, status, method "
        "FROM {src} WHERE height >= $lo",
        files["txs"],
        "SELECT 0::BIGINT tx_id, 0::BIGINT height, 0::BIGINT t, 0::BIGINT from_id, "
        "0::BIGINT to_id, 0::HUGEINT value, 0::TINYINT status, ''::VARCHAR method WHERE false",
        lo,
    )
    con.execute("CREATE TABLE tx AS SELECT tx_id, height, t FROM atx")
    _create(
        con,
        "tt",
        "SELECT tx_id, height, token_id, from_id, to_id, amount::HUGEINT AS amount "
        "FROM {src} WHERE height >= $lo",
        files["token_transfers"],
        "SELECT 0::BIGINT tx_id, 0::BIGINT height, 0::BIGINT token_id, 0::BIGINT from_id, "
        "0::BIGINT to_id, 0::HUGEINT amount WHERE false",
        lo,
    )
    # ETH moved by contract calls (internal transfers, where the source gave traces): the
    # successful ones that move value, as tracing's flowsource reads them
    _create(
        con,
        "itr",
        "SELECT tx_id, height, from_id, to_id, value::HUGEINT AS value "
        "FROM {src} WHERE height >= $lo AND status = 1 AND value > 0",
        files["traces"],
        "SELECT 0::BIGINT tx_id, 0::BIGINT height, 0::BIGINT from_id, 0::BIGINT to_id, "
        "0::HUGEINT value WHERE false",
        lo,
    )
    con.execute(
        """CREATE TABLE flows AS
        SELECT tx_id, height, t, from_id, to_id, -1::BIGINT AS asset_id, value
        FROM atx WHERE status = 1 AND value > 0
        UNION ALL
        SELECT x.tx_id, x.height, a.t, x.from_id, x.to_id, x.token_id, x.amount
        FROM tt x JOIN atx a USING (tx_id)
        UNION ALL
        SELECT x.tx_id, x.height, a.t, x.from_id, x.to_id, -1::BIGINT, x.value
        FROM itr x JOIN atx a USING (tx_id)"""
    )

"""The Apache Spark clustering engine (``--engine spark``): the same job as ``LocalEngine``.

It reads the chain store's committed Parquet segments (the files the manifest's ``segments``
table names, never others) with ``spark.read.parquet``, and in Spark:

* detects the CoinJoin-like transactions with the same rules as ``heuristics`` (the
  per-transaction counts as DataFrame aggregations, the shapes as one ``CASE``);
* makes the multi-input edges of the other transactions (each transaction's smallest input
  address to each of its other input addresses);
* finds the connected components with the large-star/small-star algorithm (Kiveris et al.
  2014), lineage cut by a local checkpoint each round, until the graph is a forest of stars
  whose centres are the component minima: the entity id rule (smallest address id).

The driver then records the evidence: the edges go through the union-find once, which keeps
the merges that join two components (a spanning forest, what ``why`` walks), and the result
is checked against Spark's components before it is written through ``store`` like the local
engine's, so that everything downstream reads it unchanged. An incremental build feeds the
saved entities to Spark as edges too.

Only multi-input runs in Spark; the change heuristics are refused (use the local engine),
and account chains (the deposit heuristics, one DuckDB aggregation) run as on the local
engine.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from chainsleuth.core.errors import IntegrityViolation, InvalidInput
from chainsleuth.entities import heuristics as hx
from chainsleuth.entities import source
from chainsleuth.entities import store as es
from chainsleuth.entities.clustering import (
    ENGINES,
    BuildParams,
    BuildResult,
    LocalEngine,
    Progress,
    _evidence,
    _Run,
)
from chainsleuth.entities.enums import Code, Heuristic

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("chainsleuth.entities.spark")

#: give up after this many large-star/small-star rounds (each at least halves most paths)
MAX_ROUNDS = 64
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"

_lock = threading.Lock()
_session: SparkSession | None = None


def spark_session(
    *,
    threads: int = 2,
    tmp_dir: Path | None = None,
    driver_memory: str = "2g",
    shuffle_partitions: int = 4,
) -> SparkSession:
    """The process's Spark session (created once): ``local[threads]``, no UI, few shuffle
    partitions, scratch files under ``tmp_dir`` (default: ``<data dir>/spark``), quiet."""
    global _session
    with _lock:
        if _session is not None and _session.sparkContext._jsc is not None:
            return _session
        try:
            from pyspark.sql import SparkSession  # noqa: PLC0415 - heavy, optional
        except ImportError as exc:  # pragma: no cover - pyspark is a dependency
            raise InvalidInput("the spark engine needs pyspark installed") from exc
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode: no lookup
        if "JAVA_HOME" not in os.environ and Path(JAVA_HOME).is_dir():
            os.environ["JAVA_HOME"] = JAVA_HOME
        if tmp_dir is None:
            from chainsleuth.core.config import load_settings  # noqa: PLC0415

            tmp_dir = Path(load_settings().data_dir) / "spark"
        tmp_dir = Path(tmp_dir).resolve()
        tmp_dir.mkdir(parents=True, exist_ok=True)
        builder: Any = SparkSession.builder
        session: SparkSession = (
            builder.master(f"local[{max(1, threads)}]")
            .appName("chainsleuth-entities")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
            .config("spark.default.parallelism", str(max(1, threads)))
            .config("spark.local.dir", str(tmp_dir))
            .config("spark.sql.warehouse.dir", str(tmp_dir / "warehouse"))
            .config("spark.driver.memory", driver_memory)
            .config("spark.sql.adaptive.enabled", "true")
            .config(
                "spark.driver.extraJavaOptions",
                f"-Djava.io.tmpdir={tmp_dir} -Dderby.system.home={tmp_dir}",
            )
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        _session = session
        return session


def stop_session() -> None:
    """Stop the process's Spark session (tests, benchmarks)."""
    global _session
    with _lock:
        if _session is not None:
            _session.stop()
            _session = None


# --- the detectors and the graph, as DataFrames --------------------------------------------


def coinjoin_frame(ins: DataFrame, outs: DataFrame) -> DataFrame:
    """(tx_id, kind) of the CoinJoin-like transactions: ``heuristics.coinjoin_kinds`` as
    aggregations. ``ins``: (tx_id, address_id) input rows with an address; ``outs``:
    (tx_id, value) outputs with an address."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    stats = (
        ins.groupBy("tx_id")
        .agg(F.count(F.lit(1)).alias("rows"), F.countDistinct("address_id").alias("n_in"))
        .where(F.col("n_in") >= 2)
    )
    n_out = outs.groupBy("tx_id").agg(F.count(F.lit(1)).alias("n_out"))
    k = (
        outs.where(F.col("value") > 0)
        .groupBy("tx_id", "value")
        .agg(F.count(F.lit(1)).alias("c"))
        .groupBy("tx_id")
        .agg(F.max("c").alias("k"))
    )
    joined = (
        stats.join(n_out, "tx_id", "left")
        .join(k, "tx_id", "left")
        .select(
            "tx_id",
            "rows",
            "n_in",
            F.coalesce(F.col("n_out"), F.lit(0)).alias("n_out"),
            F.coalesce(F.col("k"), F.lit(0)).alias("k"),
        )
    )
    rows, n_in, n, kk = F.col("rows"), F.col("n_in"), F.col("n_out"), F.col("k")
    kind = (
        F.when(kk < 2, F.lit(hx.CoinJoinKind.NONE))
        .when((rows == 5) & (n == 5) & (kk == 5), F.lit(hx.CoinJoinKind.WHIRLPOOL))
        .when((kk >= 10) & (n_in >= 5), F.lit(hx.CoinJoinKind.WASABI))
        .when(
            (kk >= 3) & (n_in >= kk) & (n >= 2 * kk - 1) & (n <= 2 * kk + 1),
            F.lit(hx.CoinJoinKind.JOINMARKET),
        )
        .when(kk >= 3, F.lit(hx.CoinJoinKind.EQUAL_OUTPUT))
        .otherwise(F.lit(hx.CoinJoinKind.NONE))
    )
    return joined.select("tx_id", kind.cast("byte").alias("kind")).where(F.col("kind") > 0)


def multi_input_edges(ins: DataFrame, skip: DataFrame | None) -> DataFrame:
    """(tx_id, a, b): each transaction's smallest input address ``a`` to each other ``b``."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    rows = ins.select("tx_id", "address_id").distinct()
    if skip is not None:
        rows = rows.join(skip.select("tx_id"), "tx_id", "left_anti")
    low = rows.groupBy("tx_id").agg(F.min("address_id").alias("a"))
    return (
        rows.join(low, "tx_id")
        .where(F.col("address_id") != F.col("a"))
        .select("tx_id", "a", F.col("address_id").alias("b"))
    )


def components(edges: DataFrame, max_rounds: int = MAX_ROUNDS) -> DataFrame:
    """(node, root) for every node of an edge list (u, v), ``root`` the smallest id of its
    connected component (``node == root`` rows left out): large-star/small-star rounds."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    # oriented (child, parent) with parent < child
    e = (
        edges.where(F.col("u") != F.col("v"))
        .select(
            F.greatest("u", "v").alias("c"),
            F.least("u", "v").alias("p"),
        )
        .distinct()
        .localCheckpoint()
    )
    for _ in range(max_rounds):
        # large star: each node's neighbourhood min m(u); every larger neighbour v -> m(u)
        both = e.select(F.col("c").alias("x"), F.col("p").alias("y")).union(
            e.select(F.col("p").alias("x"), F.col("c").alias("y"))
        )
        low = both.groupBy("x").agg(F.min("y").alias("m"))
        large = (
            both.join(low, "x")
            .where(F.col("y") > F.col("x"))
            .select(F.col("y").alias("c"), F.least("m", "x").alias("p"))
        )
        # small star: each node u with its smaller neighbours N'(u): all of N'(u) and u
        # point to min(N'(u))
        low2 = large.groupBy("c").agg(F.min("p").alias("m"))
        small = (
            large.join(low2, "c")
            .select(F.col("p").alias("c"), F.col("m").alias("p"))
            .union(low2.select("c", F.col("m").alias("p")))
            .where(F.col("c") != F.col("p"))
            .distinct()
            .localCheckpoint()
        )
        e = small
        # done when every edge is child -> centre: one parent per child, no centre a child
        multi = e.groupBy("c").agg(F.count(F.lit(1)).alias("n")).where(F.col("n") > 1)
        chained = e.join(e.select(F.col("c").alias("p")).distinct(), "p", "left_semi")
        if multi.select("c").union(chained.select("c")).limit(1).count() == 0:
            return e.select(F.col("c").alias("node"), F.col("p").alias("root"))
    raise IntegrityViolation(f"connected components did not converge in {max_rounds} rounds")


def _arrow(df: DataFrame) -> pa.Table:
    table: pa.Table = df.toArrow()
    return table


def _np(table: pa.Table, name: str) -> np.ndarray:
    return source.column(table, name)


# --- the engine ----------------------------------------------------------------------------


class SparkEngine(LocalEngine):
    """Multi-input clustering in Spark; the rest of a build (state, incremental rules,
    files, warnings) is the local engine's, so the results are interchangeable."""

    name = "spark"

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads

    def build(
        self,
        root: Path,
        chain: str,
        *,
        heuristics: Sequence[Heuristic],
        full: bool = False,
        params: BuildParams | None = None,
        progress: Progress | None = None,
    ) -> BuildResult:
        change = {
            Heuristic.CHANGE_FRESH,
            Heuristic.CHANGE_SCRIPT,
            Heuristic.CHANGE_ROUND,
            Heuristic.CHANGE_REUSE,
        }
        used = sorted(str(h) for h in heuristics if h in change)
        if used:
            raise InvalidInput(
                f"the spark engine runs multi-input only, not {', '.join(used)}: "
                "use --engine local for the change heuristics"
            )
        return super().build(
            root, chain, heuristics=heuristics, full=full, params=params, progress=progress
        )

    def _utxo(
        self,
        con: duckdb.DuckDBPyConnection,
        root: Path,
        chain: str,
        first: int,
        last: int,
        heuristics: Sequence[Heuristic],
        params: BuildParams,
        run: _Run,
        progress: Progress | None,
        address_count: int,
    ) -> None:
        from pyspark.sql import functions as F  # noqa: PLC0415

        ins_files = source.segment_files(con, root, chain, "inputs")
        outs_files = source.segment_files(con, root, chain, "outputs")
        if not ins_files:
            return
        if progress is not None:
            progress(f"clustering {chain} blocks {first}-{last} on spark", 0, 3)
        spark = spark_session(threads=self.threads)
        in_range = (F.col("height") >= first) & (F.col("height") <= last)
        ins = (
            spark.read.parquet(*ins_files)
            .where(in_range & F.col("address_id").isNotNull())
            .select(F.col("tx_id").cast("long"), F.col("address_id").cast("long"))
        )
        skip_df = None
        if params.skip_coinjoin:
            outs = (
                spark.read.parquet(*outs_files)
                .where(in_range & F.col("address_id").isNotNull())
                .select(F.col("tx_id").cast("long"), F.col("value").cast("long"))
            )
            skip_df = coinjoin_frame(ins, outs).localCheckpoint()
            found = _arrow(skip_df.orderBy("tx_id"))
            if found.num_rows:
                run.coinjoins.append(
                    pa.table(
                        {
                            "tx_id": _np(found, "tx_id"),
                            "kind": source.column(found, "kind", np.int8, 0),
                        },
                        schema=es.COINJOINS,
                    )
                )
        if Heuristic.MULTI_INPUT not in heuristics:
            return
        if progress is not None:
            progress(f"connected components of {chain} on spark", 1, 3)
        edges = multi_input_edges(ins, skip_df).localCheckpoint()
        graph = edges.select(F.col("a").alias("u"), F.col("b").alias("v"))
        before = run.uf.roots()
        moved = np.flatnonzero(before != np.arange(before.size))
        scratch = None
        if moved.size:
            # an incremental build: the saved entities are edges too
            scratch = es.entity_dir(root, chain) / f"spark-previous.{os.getpid()}.pq"
            pq.write_table(
                pa.table({"u": before[moved].astype(np.int64), "v": moved.astype(np.int64)}),
                scratch,
            )
            graph = graph.union(spark.read.parquet(str(scratch)))
        try:
            labels = _arrow(components(graph))
        finally:
            if scratch is not None:
                scratch.unlink(missing_ok=True)
        if progress is not None:
            progress(f"recording the merges of {chain}", 2, 3)
        table = _arrow(edges.orderBy("tx_id", "b"))
        a, b, tx = _np(table, "a"), _np(table, "b"), _np(table, "tx_id")
        merged, large = run.uf.union_pairs(a, b)
        run.keep(_evidence(a[merged], b[merged], tx[merged], int(Code.MULTI_INPUT)), large[merged])
        roots = run.uf.roots()
        node, root_of = _np(labels, "node"), _np(labels, "root")
        expect = np.arange(roots.size)
        expect[node] = root_of
        if not np.array_equal(roots, expect):
            raise IntegrityViolation(
                f"{chain}: spark's components disagree with the merges recorded: "
                "rebuild with --engine local"
            )
        if progress is not None:
            progress(f"clustering {chain}", 3, 3)


ENGINES.setdefault("spark", SparkEngine())

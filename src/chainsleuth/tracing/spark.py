"""The Apache Spark bulk exposure engine (``--engine spark``): the same job as
``bulk.LocalExposureEngine``, in PySpark (local mode in tests; a cluster for a whole chain).

The flow graph's edges (source, destination, amount in the source's asset, amount in the
destination's) are written once as Parquet beside the graph cache and read with
``spark.read.parquet``; the labelled nodes and the service contracts go in as small frames.
Then, as DataFrames, level by level (``hops`` levels, lineage cut by a local checkpoint
each level), with the rules of ``kernels.bulk_exposure``:

* hop 1: each subject's flows to (from) other nodes, whole; their sum is its total;
* a frontier node with a category adds what reached it to (subject, category) and ends
  there (only one of the subject's own chain and asset counts: a share is of one asset);
  a service contract ends there; at the last level every node ends;
* any other node passes on ``min(1, x / T)`` of each of its flows (``T``: forward the larger
  of its total in and total out, backward its total in), back to the subject never, a
  piece under ``MIN_SHARE`` of the subject's total never.

The shares come back to the driver as (subject, category, value) rows. Float sums are
added in another order than the kernel's, so the two agree to float rounding (about 1e-12
relative), which the parity test checks, with the same non-zero entries.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from chainsleuth.entities.spark import spark_session
from chainsleuth.tracing.bulk import ENGINES, Categories, Progress
from chainsleuth.tracing.exposure import MIN_SHARE, node_keys
from chainsleuth.tracing.graph import FlowGraph

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

EDGES_FILE = "edges.parquet"


def edges_parquet(graph: FlowGraph, folder: Path) -> Path:
    """The graph's edges as one Parquet file in ``folder`` (written once per graph)."""
    path = folder / EDGES_FILE
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "src": np.asarray(graph.e_src, dtype=np.int64),
            "dst": np.asarray(graph.e_dst, dtype=np.int64),
            "amount": np.asarray(graph.e_amount, dtype=np.float64),
            "out": np.asarray(graph.e_out, dtype=np.float64),
        }
    )
    tmp = folder / f".{EDGES_FILE}.{os.getpid()}"
    pq.write_table(table, tmp, row_group_size=1 << 20)
    tmp.replace(path)
    return path


class SparkExposureEngine:
    """Bulk exposure in Spark; see the module docstring."""

    name = "spark"

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads

    def shares(
        self,
        graph: FlowGraph,
        subjects: np.ndarray,
        categories: Categories,
        *,
        forward: bool,
        hops: int,
        progress: Progress | None = None,
    ) -> np.ndarray:
        n_cat = len(categories.names)
        out = np.zeros((subjects.size, n_cat), dtype=np.float64)
        if subjects.size == 0 or n_cat == 0:
            return out
        spark = spark_session(threads=self.threads)
        cache = graph.folder or Path(spark.conf.get("spark.local.dir") or ".") / "graph"
        scratch = cache / f"spark-exposure.{os.getpid()}.{uuid.uuid4().hex}"
        scratch.mkdir(parents=True)
        try:
            return self._shares(
                spark, graph, edges_parquet(graph, cache), scratch, subjects, categories,
                out, forward=forward, hops=hops, progress=progress,
            )  # fmt: skip
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _shares(
        self,
        spark: SparkSession,
        graph: FlowGraph,
        edges_file: Path,
        scratch: Path,
        subjects: np.ndarray,
        categories: Categories,
        out: np.ndarray,
        *,
        forward: bool,
        hops: int,
        progress: Progress | None,
    ) -> np.ndarray:
        from pyspark.sql import functions as F  # noqa: PLC0415 - heavy, optional

        what = "outgoing" if forward else "incoming"

        def frame(name: str, columns: dict[str, np.ndarray]) -> DataFrame:
            path = scratch / f"{name}.parquet"
            pq.write_table(pa.table({k: v.astype(np.int64) for k, v in columns.items()}), path)
            return spark.read.parquet(str(path))

        edges = spark.read.parquet(str(edges_file))
        # the walk's orientation: forward from src to dst, backward from dst to src;
        # ``conv`` turns an attributed amount of the edge into the next node's asset
        if forward:
            step = edges.select(
                F.col("src").alias("node"),
                F.col("dst").alias("next"),
                F.col("amount").alias("w"),
                F.when(F.col("amount") > 0, F.col("out") / F.col("amount")).alias("conv"),
            )
        else:
            step = edges.select(
                F.col("dst").alias("node"),
                F.col("src").alias("next"),
                F.col("amount").alias("w"),
                F.lit(1.0).alias("conv"),
            )
        total_out = edges.groupBy(F.col("src").alias("node")).agg(F.sum("amount").alias("t_out"))
        total_in = edges.groupBy(F.col("dst").alias("node")).agg(F.sum("out").alias("t_in"))
        if forward:
            denom = total_out.join(total_in, "node", "full_outer").select(
                "node",
                F.greatest(
                    F.coalesce(F.col("t_in"), F.lit(0.0)), F.coalesce(F.col("t_out"), F.lit(0.0))
                ).alias("denom"),
            )
        else:
            denom = total_in.select("node", F.col("t_in").alias("denom"))
        denom = denom.where(F.col("denom") > 0)
        keys = node_keys(graph)
        subject_df = frame("subjects", {"s": subjects, "ks": keys[subjects]})
        cats = frame(
            "categories",
            {"node": categories.nodes, "c": categories.values, "kc": keys[categories.nodes]},
        )
        services = [graph.nodes_of(c, ids) for c, ids in graph.service_ids.items()]
        stop_nodes = np.unique(np.concatenate(services)) if services else np.empty(0, np.int64)
        stop = frame("stop", {"node": stop_nodes})

        if progress is not None:
            progress(f"{what} exposure on spark", 0, hops + 1)
        # hop 1: the subjects' flows to (from) others, whole; the total is in the
        # subject's asset, the frontier in each neighbour's
        near, far = ("src", "dst") if forward else ("dst", "src")
        first = (
            subject_df.select("s")
            .join(edges, F.col("s") == edges[near])
            .where(F.col(far) != F.col("s"))
        )
        totals = first.groupBy("s").agg(F.sum("amount" if forward else "out").alias("total"))
        frontier = first.groupBy("s", F.col(far).alias("node")).agg(
            F.sum("out" if forward else "amount").alias("x")
        )
        totals = totals.where(F.col("total") > 0).localCheckpoint()
        limits = totals.select("s", (F.col("total") * F.lit(MIN_SHARE)).alias("limit"))
        frontier = frontier.join(totals.select("s"), "s", "left_semi").localCheckpoint()
        reached: list[DataFrame] = []
        for h in range(hops):
            # a share is of the subject's asset: labelled nodes of another asset end the
            # walk but do not count
            labelled = (
                frontier.join(cats, "node").join(subject_df, "s").where(F.col("kc") == F.col("ks"))
            )
            reached.append(labelled.select("s", "c", "x").localCheckpoint())
            if h == hops - 1:
                break
            if progress is not None:
                progress(f"{what} exposure on spark", h + 1, hops + 1)
            going = (
                frontier.join(cats, "node", "left_anti")
                .join(stop, "node", "left_anti")
                .join(denom, "node")
                .select(
                    "s", "node", F.least(F.lit(1.0), F.col("x") / F.col("denom")).alias("share")
                )
            )
            pieces = (
                going.join(step, "node")
                .select(
                    "s",
                    "next",
                    (F.col("w") * F.col("share")).alias("t"),
                    F.col("conv"),
                )
                .join(limits, "s")
                .where(
                    (F.col("next") != F.col("s"))
                    & (F.col("t") >= F.col("limit"))
                    & (F.col("t") > 0)
                )
            )
            frontier = (
                pieces.groupBy("s", F.col("next").alias("node"))
                .agg(F.sum(F.col("t") * F.col("conv")).alias("x"))
                .localCheckpoint()
            )
            if frontier.limit(1).count() == 0:
                break
        union = reached[0]
        for part in reached[1:]:
            union = union.union(part)
        found = (
            union.groupBy("s", "c")
            .agg(F.sum("x").alias("x"))
            .join(totals, "s")
            .select("s", "c", (F.col("x") / F.col("total")).alias("share"))
            .toArrow()
        )
        if found.num_rows:
            order = np.argsort(subjects, kind="stable")
            position = order[np.searchsorted(subjects[order], found["s"].to_numpy())]
            out[position, found["c"].to_numpy()] = found["share"].to_numpy()
        if progress is not None:
            progress(f"{what} exposure on spark", hops + 1, hops + 1)
        return out


ENGINES.setdefault("spark", SparkExposureEngine())

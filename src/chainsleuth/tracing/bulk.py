"""Bulk exposure: the share of each position's funds that came from (incoming) or went to
(outgoing) each category, for every address of a chain or for a list of them.

The rules are those of ``exposure`` (haircut, time order ignored, ``hops`` deep, a node
with a category or a configured service contract ends the walk, the subject's own position
is not followed again), computed for many subjects in one job; a branch carrying less than
``exposure.MIN_SHARE`` of a subject's funds is dropped. A subject is a *position* (one
address holding one asset): an Ethereum address with ETH and USDT is two subjects, so that
a share is always of one asset's total.

The job runs on an ``ExposureEngine``: ``numpy`` (the compiled kernel, the ground truth) or
``spark`` (``tracing.spark``, PySpark; what a team uses for a whole chain). A parity test
holds the two together.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

import numpy as np

from chainsleuth.chain import storage
from chainsleuth.chain.addresses import display_address
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.tracing import exposure as exposure_engine
from chainsleuth.tracing import service as tracing_service
from chainsleuth.tracing.engine import MAX_HOPS
from chainsleuth.tracing.graph import FlowGraph, load_graph

#: a progress callback: (what, done, total)
Progress = Callable[[str, int, int], None]

#: subjects per call of the compiled kernel (the progress bar's step)
CHUNK = 20_000

DIRECTIONS = {"incoming": False, "outgoing": True}


@dataclass(frozen=True)
class Categories:
    """The labelled nodes of a graph: ``nodes`` (sorted) have the categories ``values``
    (indices into ``names``)."""

    names: list[str]
    nodes: np.ndarray
    values: np.ndarray


class ExposureEngine(Protocol):
    """What a bulk exposure job asks for: the shares (subjects x categories) of the
    subjects (node ids, one position each) in one direction."""

    name: str

    def shares(
        self,
        graph: FlowGraph,
        subjects: np.ndarray,
        categories: Categories,
        *,
        forward: bool,
        hops: int,
        progress: Progress | None = None,
    ) -> np.ndarray: ...


class LocalExposureEngine:
    """The compiled kernel (``kernels.bulk_exposure``), in chunks. The ground truth."""

    name = "numpy"

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
        out = np.zeros((subjects.size, len(categories.names)), dtype=np.float64)
        what = "outgoing" if forward else "incoming"
        for a in range(0, subjects.size, CHUNK):
            b = min(subjects.size, a + CHUNK)
            if progress is not None:
                progress(f"{what} exposure", a, subjects.size)
            out[a:b] = exposure_engine.bulk_exposure(
                graph,
                [subjects[k : k + 1] for k in range(a, b)],
                categories.nodes,
                categories.values,
                len(categories.names),
                forward=forward,
                hops=hops,
            )
        if progress is not None:
            progress(f"{what} exposure", subjects.size, subjects.size)
        return out


ENGINES: dict[str, ExposureEngine] = {"numpy": LocalExposureEngine()}


def get_engine(name: str = "numpy") -> ExposureEngine:
    """The engine called ``name`` (``spark`` is registered when first asked for)."""
    if name == "spark" and "spark" not in ENGINES:
        from chainsleuth.tracing import spark  # noqa: F401, PLC0415 - registers the engine
    engine = ENGINES.get(name)
    if engine is None:
        raise InvalidInput(f"unknown engine {name!r}: use one of numpy, spark")
    return engine


def categories_of(
    reader: ChainReader, graph: FlowGraph, ctx: tracing_service.TracingContext
) -> Categories:
    names, node_category = tracing_service.category_nodes(reader, graph, ctx)
    nodes = np.array(sorted(node_category), dtype=np.int64)
    values = np.array([node_category[v] for v in nodes.tolist()], dtype=np.int64)
    return Categories(names, nodes, values)


def subject_nodes(
    reader: ChainReader, graph: FlowGraph, chain: str, addresses: Sequence[str] | None
) -> np.ndarray:
    """The positions (node ids, sorted) of these addresses on ``chain``, or of every
    address of the chain when ``addresses`` is None."""
    info = get_chain(chain)
    if info.id not in graph.chains:
        return np.empty(0, dtype=np.int64)
    if addresses is None:
        c = graph.chain_index(info.id)
        node_chain = np.asarray(graph.node_chain)
        lo = int(np.searchsorted(node_chain, c, side="left"))
        hi = int(np.searchsorted(node_chain, c, side="right"))
        every = np.arange(lo, hi, dtype=np.int64)
        return every[np.asarray(graph.node_addr[lo:hi]) >= 0]
    if not addresses:
        raise InvalidInput("give addresses, or --all for every address of the chain")
    ids = reader.address_ids(info.id, list(addresses))
    missing = np.flatnonzero(ids < 0)
    if missing.size:
        raise NotFound(f"no activity of {addresses[int(missing[0])]} on {info.name}")
    return graph.nodes_of(info.id, np.unique(ids))


@dataclass
class BulkExposure:
    """Shares per direction: ``shares[direction][k, c]`` of subject ``nodes[k]`` and
    category ``categories.names[c]``."""

    chain: str
    hops: int
    engine: str
    nodes: np.ndarray
    categories: Categories
    shares: dict[str, np.ndarray]


def bulk_exposure(
    reader: ChainReader,
    chain: str,
    addresses: Sequence[str] | None,
    ctx: tracing_service.TracingContext,
    *,
    hops: int = 3,
    directions: Sequence[str] = ("incoming", "outgoing"),
    engine: str = "numpy",
    progress: Progress | None = None,
) -> BulkExposure:
    """Exposure shares of these addresses' positions (every address's when None)."""
    info = get_chain(chain)
    if not 1 <= hops <= MAX_HOPS:
        raise InvalidInput(f"hops must be between 1 and {MAX_HOPS}")
    unknown = [d for d in directions if d not in DIRECTIONS]
    if unknown or not directions:
        raise InvalidInput(f"direction must be incoming or outgoing, not {unknown or directions}")
    runner = get_engine(engine)
    if ctx.categories is None:
        raise InvalidInput(
            "no labels: import some (`chainsleuth labels import`) or give --labels FILE"
        )
    graph = load_graph(reader, ctx.services)
    nodes = subject_nodes(reader, graph, info.id, addresses)
    categories = categories_of(reader, graph, ctx)
    shares = {
        d: runner.shares(
            graph, nodes, categories, forward=DIRECTIONS[d], hops=hops, progress=progress
        )
        for d in dict.fromkeys(directions)
    }
    return BulkExposure(info.id, hops, runner.name, nodes, categories, shares)


CSV_COLUMNS = ["chain", "address", "asset", "direction", "category", "share"]


def write_csv(reader: ChainReader, graph: FlowGraph, result: BulkExposure, out: TextIO) -> int:
    """Write the non-zero shares as CSV (``CSV_COLUMNS``); returns the rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    flat = storage.FlatFiles(Path(reader.root) / result.chain)
    render = tracing_service._Render(reader, graph, tracing_service.TracingContext())
    written = 0
    for a in range(0, result.nodes.size, CHUNK):
        part = result.nodes[a : a + CHUNK]
        texts = flat.addresses(np.asarray(graph.node_addr[part]).tolist())
        assets = np.asarray(graph.node_asset[part]).tolist()
        for k, (text, asset) in enumerate(zip(texts, assets, strict=True)):
            shown = display_address(result.chain, text)
            symbol = render.symbol(result.chain, int(asset))
            for direction, matrix in result.shares.items():
                row = matrix[a + k]
                for c in np.flatnonzero(row > 0).tolist():
                    writer.writerow(
                        [result.chain, shown, symbol, direction, result.categories.names[c],
                         f"{row[c]:.12g}"]
                    )  # fmt: skip
                    written += 1
    return written

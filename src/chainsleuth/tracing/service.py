"""Tracing for the rest of chainsleuth: traces, paths and exposure from user input.

``from chainsleuth.tracing import service as tracing_service``. Inputs are canonicalised
here (chain, addresses, hashes, times); the work is done by ``engine``, ``paths`` and
``exposure`` on the cached ``graph``; results come back as ``schemas`` models.

What the tracer knows beyond the chain comes in a ``TracingContext``:

* ``services``: bridge and converter contracts (``config``; ``<data dir>/tracing.yaml``);
* ``categories``: a ``CategoryProvider`` (address id -> category per chain). For now a CSV
  file (``chain,address,category``; ``<data dir>/tracing-labels.csv``) or a mapping; the
  labels service plugs in here;
* ``entity_of``: per chain, an array address id -> entity id (shown on the nodes).

Traces stop by default at addresses of the service categories in ``DEFAULT_STOP``.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
from sqlalchemy.orm import Session

from chainsleuth.attribution import service as attribution_service
from chainsleuth.chain import storage
from chainsleuth.chain.addresses import canonical_address, canonical_hash, display_address
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.enums import ChainKind
from chainsleuth.chain.keys import hex_of
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.config import Settings
from chainsleuth.core.db import Database
from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.tracing import engine
from chainsleuth.tracing import exposure as exposure_engine
from chainsleuth.tracing import paths as path_engine
from chainsleuth.tracing.config import CONFIG_FILE, Services, load_services
from chainsleuth.tracing.crosschain import KIND_BRIDGE, KINDS
from chainsleuth.tracing.flowsource import BASE
from chainsleuth.tracing.graph import FlowGraph, load_graph
from chainsleuth.tracing.schemas import (
    ExposureEntry,
    ExposureReport,
    PathBy,
    PathResult,
    TraceEdge,
    TraceGraph,
    TraceNode,
    TraceRequest,
)

LABELS_FILE = "tracing-labels.csv"
#: where a trace stops unless told otherwise: services, whose funds are pooled
DEFAULT_STOP = (
    "exchange", "otc_broker", "mixer", "coinjoin", "bridge", "dex", "defi", "gambling",
    "payment_processor",
)  # fmt: skip


class CategoryProvider(Protocol):
    def categories(self, reader: ChainReader, chain: str) -> dict[int, str]:
        """address id -> category of the labelled addresses of ``chain``."""
        ...


class MappingCategories:
    """Categories given by (chain, address text) -> category."""

    def __init__(self, mapping: Mapping[tuple[str, str], str]) -> None:
        self.mapping = {
            (get_chain(c).id, canonical_address(c, a)): v.strip().lower()
            for (c, a), v in mapping.items()
        }
        self._ids: dict[tuple[Path, str], dict[int, str]] = {}

    def categories(self, reader: ChainReader, chain: str) -> dict[int, str]:
        key = (Path(reader.root), chain)
        if key not in self._ids:
            # in bulk (one join for every address): one lookup per label took ~10 ms on a
            # large store, an hour for the labels of a 10-million-transaction world
            mine = [(a, category) for (c, a), category in self.mapping.items() if c == chain]
            ids = reader.address_ids(chain, [a for a, _ in mine]).tolist()
            self._ids[key] = {
                i: category for i, (_, category) in zip(ids, mine, strict=True) if i >= 0
            }
        return self._ids[key]


def categories_from_csv(path: Path) -> MappingCategories:
    """A CSV file with the columns ``chain``, ``address``, ``category``."""
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise InvalidInput(f"cannot read labels file {path}: {exc.strerror}") from exc
    mapping: dict[tuple[str, str], str] = {}
    for n, row in enumerate(rows, start=2):
        try:
            mapping[(row["chain"], row["address"])] = row["category"]
        except (KeyError, TypeError) as exc:
            raise InvalidInput(
                f"{path} line {n}: expected the columns chain, address, category"
            ) from exc
    return MappingCategories(mapping)


@dataclass
class TracingContext:
    services: Services = field(default_factory=Services)
    categories: CategoryProvider | None = None
    entity_of: dict[str, np.ndarray] = field(default_factory=dict)


class CombinedCategories:
    """Several providers; the first that names an address wins."""

    def __init__(self, *providers: CategoryProvider) -> None:
        self.providers = providers
        self._merged: dict[tuple[Path, str], tuple[tuple[dict[int, str], ...], dict[int, str]]]
        self._merged = {}

    def categories(self, reader: ChainReader, chain: str) -> dict[int, str]:
        parts = tuple(provider.categories(reader, chain) for provider in reversed(self.providers))
        key = (Path(reader.root), chain)
        known = self._merged.get(key)
        if known is not None and len(known[0]) == len(parts):
            if all(a is b for a, b in zip(known[0], parts, strict=True)):
                return known[1]  # the same parts (providers cache theirs): the same merge
        found: dict[int, str] = {}
        for part in parts:
            found.update(part)
        self._merged[key] = (parts, found)
        return found


def context_for(
    settings: Settings,
    *,
    services: Path | None = None,
    labels: Path | None = None,
    database: Database | None = None,
    session: Session | None = None,
) -> TracingContext:
    """The context of a data folder: its ``tracing.yaml`` and ``tracing-labels.csv``; with
    a ``database`` (or, inside a request, its ``session``), also the labels there (an
    address's and its entity's, see ``chainsleuth.attribution``) and the entities of the
    last clustering build."""
    files = _file_context(settings, services=services, labels=labels)
    if database is None and session is None:
        return files
    provider = attribution_service.LabelCategories(database, session=session)
    root = settings.data_dir / "chains"
    with _CONTEXTS_LOCK:
        maps = _ENTITY_MAPS.setdefault(root, attribution_service.EntityMaps(root))
    categories: CategoryProvider = provider
    if files.categories is not None:
        categories = CombinedCategories(files.categories, provider)
    return TracingContext(services=files.services, categories=categories, entity_of=maps)


_ENTITY_MAPS: dict[Path, attribution_service.EntityMaps] = {}


def _file_context(
    settings: Settings, *, services: Path | None = None, labels: Path | None = None
) -> TracingContext:
    """The context the data folder's files give."""
    services_path = services or settings.data_dir / CONFIG_FILE
    if services is not None and not services.exists():
        raise InvalidInput(f"no tracing configuration at {services}")
    labels_path = labels or settings.data_dir / LABELS_FILE
    if labels is not None and not labels.exists():
        raise InvalidInput(f"no labels file at {labels}")
    key = tuple(
        (str(path), path.stat().st_mtime_ns if path.exists() else None)
        for path in (services_path, labels_path)
    )
    with _CONTEXTS_LOCK:
        found = _CONTEXTS.get(key)
    if found is None:  # read once per version of the files: label ids resolve once
        found = TracingContext(
            services=load_services(services_path),
            categories=categories_from_csv(labels_path) if labels_path.exists() else None,
        )
        with _CONTEXTS_LOCK:
            _CONTEXTS[key] = found
    return found


_CONTEXTS: dict[tuple[tuple[str, int | None], ...], TracingContext] = {}
_CONTEXTS_LOCK = threading.Lock()


# --- inputs ----------------------------------------------------------------------------------


def _unix(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def _address_ids(reader: ChainReader, chain: str, addresses: Iterable[str]) -> list[int]:
    ids: list[int] = []
    for address in addresses:
        found = reader.address_id(chain, address)
        if found is None:
            shown = display_address(chain, canonical_address(chain, address))
            raise NotFound(f"no activity of {shown} on {get_chain(chain).name}")
        ids.append(found)
    return ids


def _asset_id(reader: ChainReader, chain: str, asset: str | None) -> int | None:
    if asset is None:
        return None
    info = get_chain(chain)
    text = asset.strip()
    if text.upper() == info.symbol:
        return storage.NATIVE_ASSET
    if info.kind is ChainKind.ACCOUNT and text.lower().startswith("0x"):
        found = reader.address_id(chain, text)
        if found is None:
            raise NotFound(f"no token {text} on {info.name}")
        return found
    assert reader.con is not None
    row = storage.one(
        reader.con,
        "SELECT token_id FROM tokens WHERE chain = ? AND upper(symbol) = ?",
        [info.id, text.upper()],
    )
    if row is None:
        raise InvalidInput(f"unknown asset {asset!r} on {info.name}")
    return int(row[0])


def _stop_nodes(
    reader: ChainReader,
    graph: FlowGraph,
    ctx: TracingContext,
    categories: Iterable[str],
    extra: dict[str, list[int]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nodes a trace stops at, sorted and distinct: the labelled nodes of these
    categories with the service nodes (the engine's ``stop_is_complete`` set: the same
    array while the labels stay the same), the ``extra`` addresses' nodes (its
    ``extra_stop``), and the labelled and extra ones (shown as stops)."""
    wanted = frozenset(c.strip().lower() for c in categories)
    every, chosen = _base_stops(reader, graph, ctx, wanted)
    parts = [
        graph.nodes_of(chain, np.array(sorted(set(ids)), dtype=np.int64))
        for chain in graph.chains
        if (ids := list(extra.get(chain, [])))
    ]
    if not parts:
        return every, np.empty(0, dtype=np.int64), chosen
    nodes = engine.sorted_union(*parts)
    return every, nodes, engine.sorted_union(chosen, nodes)


def _base_stops(
    reader: ChainReader, graph: FlowGraph, ctx: TracingContext, wanted: frozenset[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The labelled nodes of these categories with the service nodes, and without,
    sorted: the same arrays (kept on the graph) while the labels stay the same, so that
    the engine makes its stop mask once, not per trace (sorting every stop of a large
    world took longer than the trace)."""
    parts: list[np.ndarray] = []
    if ctx.categories is not None and wanted:
        for chain in graph.chains:
            labelled = ctx.categories.categories(reader, chain)
            parts.append(_category_stops(graph, chain, labelled, wanted))
    cache: dict[frozenset[str], tuple[list[np.ndarray], np.ndarray, np.ndarray]]
    cache = graph.__dict__.setdefault("_base_stops", {})
    known = cache.get(wanted)
    if (
        known is not None
        and len(known[0]) == len(parts)
        and all(x is y for x, y in zip(known[0], parts, strict=True))
    ):
        return known[1], known[2]
    chosen = engine.sorted_union(*parts) if parts else np.empty(0, dtype=np.int64)
    every = engine.sorted_union(graph.service_nodes(), chosen)
    cache[wanted] = (parts, every, chosen)
    return every, chosen


def _category_stops(
    graph: FlowGraph, chain: str, labelled: dict[int, str], wanted: frozenset[str]
) -> np.ndarray:
    """The nodes of the addresses of ``labelled`` whose category is ``wanted``, kept on the
    graph while the providers hand out the same mapping (they cache theirs): one pass over
    every label per version of the labels, not per trace (45 ms a trace at 1M transactions,
    growing with the world)."""
    cache: dict[tuple[str, frozenset[str]], tuple[dict[int, str], int, np.ndarray]]
    cache = graph.__dict__.setdefault("_category_stops", {})
    known = cache.get((chain, wanted))
    if known is not None and known[0] is labelled and known[1] == len(labelled):
        return known[2]
    ids = np.array(sorted(a for a, c in labelled.items() if c in wanted), dtype=np.int64)
    nodes = graph.nodes_of(chain, ids)
    cache[(chain, wanted)] = (labelled, len(labelled), nodes)
    return nodes


# --- output ----------------------------------------------------------------------------------


class _Render:
    """Node and edge records with address texts, hashes and asset symbols, in batches."""

    def __init__(self, reader: ChainReader, graph: FlowGraph, ctx: TracingContext) -> None:
        self.reader = reader
        self.graph = graph
        self.ctx = ctx
        self._texts: dict[tuple[str, int], str] = {}
        self._hashes: dict[tuple[str, int], str] = {}
        self._symbols: dict[tuple[str, int], str] = {}
        self._cats: dict[str, dict[int, str]] = {}
        self._ids: dict[int, str] = {}

    def prepare(self, nodes: Iterable[int], edges: Iterable[int]) -> None:
        g = self.graph
        edge_ids = np.asarray(list(edges), dtype=np.int64)
        every = np.unique(
            np.concatenate(
                [np.asarray(list(nodes), dtype=np.int64), g.e_src[edge_ids], g.e_dst[edge_ids]]
            )
        )
        chains = g.node_chain[every]
        addrs = g.node_addr[every]
        assets = g.node_asset[every]
        by_chain: dict[str, set[int]] = {}
        for c in np.unique(chains).tolist():
            mine = chains == c
            wanted = set(addrs[mine].tolist()) | set(assets[mine].tolist())
            by_chain[g.chains[int(c)]] = {i for i in wanted if i >= 0}
        for chain, ids in by_chain.items():
            wanted_ids = sorted(i for i in ids if (chain, i) not in self._texts)
            flat = storage.flat_files(self.reader.root, chain)
            for i, text in zip(wanted_ids, flat.addresses(wanted_ids), strict=True):
                self._texts[(chain, i)] = display_address(chain, text)
        txs: dict[str, set[int]] = {}
        src_chain = g.node_chain[g.e_src[edge_ids]]
        tx_ids = g.e_tx[edge_ids]
        for c in np.unique(src_chain).tolist():
            txs.setdefault(g.chains[int(c)], set()).update(tx_ids[src_chain == c].tolist())
        for e in edge_ids[g.e_kind[edge_ids] == KIND_BRIDGE].tolist():
            second = g.second_tx(e)
            if second is not None:
                other = g.chains[int(g.node_chain[g.e_dst[e]])]
                txs.setdefault(other, set()).add(second)
        for chain, ids in txs.items():
            wanted_tx = sorted(i for i in ids if (chain, i) not in self._hashes)
            flat = storage.flat_files(self.reader.root, chain)
            prefixed = get_chain(chain).kind is ChainKind.ACCOUNT
            found = hex_of(flat.tx_hashes(wanted_tx), prefixed=prefixed)
            for i, h in zip(wanted_tx, found, strict=True):
                self._hashes[(chain, i)] = h

    def symbol(self, chain: str, asset: int) -> str:
        if asset < 0:
            return get_chain(chain).symbol
        key = (chain, asset)
        if key not in self._symbols:
            assert self.reader.con is not None
            row = storage.one(
                self.reader.con,
                "SELECT symbol FROM tokens WHERE chain = ? AND token_id = ?",
                [chain, asset],
            )
            self._symbols[key] = (row[0] if row and row[0] else None) or self._texts.get(
                key, str(asset)
            )
        return self._symbols[key]

    def category(self, chain: str, address_id: int) -> str | None:
        if self.ctx.categories is None:
            return None
        if chain not in self._cats:
            self._cats[chain] = self.ctx.categories.categories(self.reader, chain)
        return self._cats[chain].get(address_id)

    def edges(
        self, edges: list[int], amount: list[int], amount_out: list[int], hops: np.ndarray
    ) -> list[TraceEdge]:
        """Edge records in bulk: the graph's arrays are read once per column."""
        g = self.graph
        ids = np.asarray(edges, dtype=np.int64)
        src = g.e_src[ids].tolist()
        dst = g.e_dst[ids].tolist()
        kinds = g.e_kind[ids].tolist()
        txs = g.e_tx[ids].tolist()
        times = g.e_time[ids].tolist()
        node_chain = g.node_chain
        src_chain = node_chain[g.e_src[ids]].tolist()
        dst_chain = node_chain[g.e_dst[ids]].tolist()
        values = [
            int(h) * BASE + int(lo)
            for h, lo in zip(g.e_hi[ids].tolist(), g.e_lo[ids].tolist(), strict=True)
        ]
        out: list[TraceEdge] = []
        for k, e in enumerate(edges):
            chain = g.chains[src_chain[k]]
            other = g.chains[dst_chain[k]]
            second = g.second_tx(e) if kinds[k] == KIND_BRIDGE else None
            s_id, d_id = self.node_id(src[k]), self.node_id(dst[k])
            out.append(
                TraceEdge(
                    source=s_id,
                    target=d_id,
                    kind=KINDS[kinds[k]],
                    chain=chain,
                    tx_hash=self._hashes[(chain, txs[k])],
                    release_tx_hash=(
                        self._hashes.get((other, second)) if second is not None else None
                    ),
                    time=datetime.fromtimestamp(times[k], UTC),
                    asset=s_id.rsplit(":", 1)[1],
                    asset_out=d_id.rsplit(":", 1)[1],
                    amount=amount[k],
                    amount_out=amount_out[k],
                    value=values[k],
                    hop=int(hops[k]),
                )
            )
        return out

    def node_id(self, v: int) -> str:
        found = self._ids.get(v)
        if found is None:
            found = self._ids[v] = self._node_id(v)
        return found

    def _node_id(self, v: int) -> str:
        g = self.graph
        chain = g.chains[int(g.node_chain[v])]
        addr = int(g.node_addr[v])
        text = self._texts.get((chain, addr), "coinbase" if addr < 0 else str(addr))
        return f"{chain}:{text}:{self.symbol(chain, int(g.node_asset[v]))}"

    def node(self, v: int, amount: int, hop: int, stop: bool) -> TraceNode:
        g = self.graph
        chain = g.chains[int(g.node_chain[v])]
        addr = int(g.node_addr[v])
        entity = None
        if chain in self.ctx.entity_of and 0 <= addr < self.ctx.entity_of[chain].size:
            entity = int(self.ctx.entity_of[chain][addr])
        return TraceNode(
            id=self.node_id(v),
            chain=chain,
            address=self._texts.get((chain, addr)) if addr >= 0 else None,
            asset=self.symbol(chain, int(g.node_asset[v])),
            entity=entity,
            category=self.category(chain, addr) if addr >= 0 else None,
            amount=amount,
            hop=hop,
            stop=stop,
        )

    def edge(self, e: int, amount: int, amount_out: int, hop: int) -> TraceEdge:
        g = self.graph
        s, d = int(g.e_src[e]), int(g.e_dst[e])
        chain = g.chains[int(g.node_chain[s])]
        other = g.chains[int(g.node_chain[d])]
        kind = int(g.e_kind[e])
        second = g.second_tx(e) if kind == KIND_BRIDGE else None
        return TraceEdge(
            source=self.node_id(s),
            target=self.node_id(d),
            kind=KINDS[kind],
            chain=chain,
            tx_hash=self._hashes[(chain, int(g.e_tx[e]))],
            release_tx_hash=self._hashes.get((other, second)) if second is not None else None,
            time=datetime.fromtimestamp(int(g.e_time[e]), UTC),
            asset=self.symbol(chain, int(g.node_asset[s])),
            asset_out=self.symbol(other, int(g.node_asset[d])),
            amount=amount,
            amount_out=amount_out,
            value=g.exact_amount(e),
            hop=hop,
        )

    def path(self, edges: list[int]) -> list[TraceEdge]:
        g = self.graph
        return [
            self.edge(e, g.exact_amount(e), g.exact_out(e), h) for h, e in enumerate(edges, start=1)
        ]


# --- traces -----------------------------------------------------------------------------------


def run_trace(reader: ChainReader, request: TraceRequest, ctx: TracingContext) -> TraceGraph:
    """A trace as the API and the CLI ask for it (see ``engine`` for the models)."""
    info = get_chain(request.chain)
    given = [x for x in (request.address, request.tx, request.addresses) if x]
    if len(given) != 1:
        raise InvalidInput("give exactly one of an address, a transaction or addresses")
    options = engine.TraceOptions(
        direction=request.direction,
        model=request.model,
        hops=request.hops,
        min_value=request.min_value,
        since=_unix(request.since),
        until=_unix(request.until),
        respect_time=request.respect_time,
        max_edges=request.max_edges,
        asset=_asset_id(reader, info.id, request.asset),
    )
    options.check()
    graph = load_graph(reader, ctx.services)
    stop_ids = _address_ids(reader, info.id, request.stop)
    categories = DEFAULT_STOP if request.stop_categories is None else request.stop_categories
    stop, extra, shown = _stop_nodes(reader, graph, ctx, categories, {info.id: stop_ids})
    if request.tx:
        tx_hash = canonical_hash(info.id, request.tx)
        tx_id = reader.tx_id(info.id, tx_hash)
        if tx_id is None:
            raise NotFound(f"no transaction {tx_hash} on {info.name}")
        seeds = engine.tx_seeds(graph, info.id, tx_id, options)
        result = engine.trace(
            graph, seeds, options, stop=stop, stop_is_complete=True, extra_stop=extra
        )
    else:
        addresses = [request.address] if request.address else list(request.addresses or [])
        subject = _address_ids(reader, info.id, addresses)
        nodes = graph.nodes_of(info.id, np.array(sorted(set(subject)), dtype=np.int64))
        result = engine.trace_nodes(
            graph, nodes, options, stop=stop, stop_is_complete=True, extra_stop=extra
        )
    return render_trace(reader, graph, ctx, result, info.id, shown)


def render_trace(
    reader: ChainReader,
    graph: FlowGraph,
    ctx: TracingContext,
    result: engine.TraceResult,
    chain: str,
    stop: np.ndarray,
) -> TraceGraph:
    r = _Render(reader, graph, ctx)
    node_list = result.nodes.tolist()
    edge_list = result.edges.tolist()
    r.prepare(node_list, edge_list)
    # ``stop`` (the nodes shown as stops) is sorted: a search per node, not a set of
    # every stop (hundreds of thousands on a large world)
    at = np.searchsorted(stop, result.nodes)
    found = stop[np.minimum(at, stop.size - 1)] == result.nodes if stop.size else at < 0
    nodes = [
        r.node(v, amount, h, s)
        for v, amount, h, s in zip(
            node_list, result.node_amount, result.node_hop.tolist(), found.tolist(), strict=True
        )
    ]
    return TraceGraph(
        chain=chain,
        direction=result.options.direction,
        model=result.options.model,
        hops=result.options.hops,
        origin=[n.id for n in nodes if n.hop == 0],
        nodes=nodes,
        edges=r.edges(edge_list, result.edge_amount, result.edge_amount_out, result.edge_hop),
        truncated=result.truncated,
    )


# --- paths ------------------------------------------------------------------------------------


def find_path(
    reader: ChainReader,
    chain: str,
    sources: list[str],
    targets: list[str],
    ctx: TracingContext,
    *,
    hops: int = 5,
    by: PathBy = PathBy.SHORTEST,
    min_value: int = 0,
    since: datetime | None = None,
    until: datetime | None = None,
) -> PathResult:
    """The shortest or the highest-value path of funds from ``sources`` to ``targets``."""
    info = get_chain(chain)
    if not 1 <= hops <= path_engine.MAX_PATH_HOPS:
        raise InvalidInput(f"hops must be between 1 and {path_engine.MAX_PATH_HOPS}")
    if min_value < 0:
        raise InvalidInput("min_value must not be negative")
    graph = load_graph(reader, ctx.services)
    src = graph.nodes_of(info.id, np.array(_address_ids(reader, info.id, sources)))
    dst = graph.nodes_of(info.id, np.array(_address_ids(reader, info.id, targets)))
    found = path_engine.find_path(
        graph,
        src,
        dst,
        hops=hops,
        by_value=by is PathBy.VALUE,
        min_value=min_value,
        since=_unix(since),
        until=_unix(until),
        stop=np.concatenate([engine.service_nodes(graph), dst]),
    )
    r = _Render(reader, graph, ctx)
    edges = found.edges.tolist()
    r.prepare([], edges)
    records = r.path(edges)
    return PathResult(
        chain=info.id,
        by=by,
        found=bool(edges),
        hops=len(edges),
        bottleneck=min((e.value for e in records), default=0),
        edges=records,
    )


# --- exposure ---------------------------------------------------------------------------------


def exposure(
    reader: ChainReader,
    chain: str,
    addresses: list[str],
    ctx: TracingContext,
    *,
    hops: int = 3,
    min_value: int = 0,
) -> ExposureReport:
    """Direct and indirect exposure per category of an address (or of a set of them)."""
    info = get_chain(chain)
    if not 1 <= hops <= engine.MAX_HOPS:
        raise InvalidInput(f"hops must be between 1 and {engine.MAX_HOPS}")
    if not addresses:
        raise InvalidInput("give an address")
    graph = load_graph(reader, ctx.services)
    subject = _address_ids(reader, info.id, addresses)
    nodes = graph.nodes_of(info.id, np.array(sorted(set(subject)), dtype=np.int64))
    names, node_category = category_nodes(reader, graph, ctx)
    r = _Render(reader, graph, ctx)
    entries: list[ExposureEntry] = []
    totals: dict[str, dict[str, int]] = {}
    for direction, forward in (("incoming", False), ("outgoing", True)):
        found, sums, _ = exposure_engine.exposure(
            graph, nodes, node_category, forward=forward, hops=hops, min_value=min_value
        )
        edges = [e for x in found for p in x.paths for e in p]
        r.prepare([], edges)
        totals[direction] = {r.symbol(info.id, a): v for a, v in sums.items()}
        for x in found:
            entries.append(
                ExposureEntry(
                    category=names[x.category],
                    direction=direction,
                    asset=r.symbol(graph.chains[x.chain], x.asset),
                    value=x.value,
                    share=x.share,
                    direct_value=x.direct,
                    indirect_value=x.indirect,
                    min_hops=x.min_hops,
                    paths=[r.path(p) for p in x.paths],
                )
            )
    shown = display_address(info.id, canonical_address(info.id, addresses[0]))
    return ExposureReport(
        chain=info.id,
        address=shown if len(addresses) == 1 else f"{shown} and {len(addresses) - 1} more",
        hops=hops,
        received=totals["incoming"],
        sent=totals["outgoing"],
        entries=entries,
    )


def category_nodes(
    reader: ChainReader, graph: FlowGraph, ctx: TracingContext
) -> tuple[list[str], dict[int, int]]:
    """The category names, and node -> category index of every labelled node."""
    names: list[str] = []
    index: dict[str, int] = {}
    node_category: dict[int, int] = {}
    if ctx.categories is None:
        return names, node_category
    for chain in graph.chains:
        labelled = ctx.categories.categories(reader, chain)
        if not labelled:
            continue
        ids = np.array(sorted(labelled), dtype=np.int64)
        nodes = graph.nodes_of(chain, ids)
        for v in nodes.tolist():
            category = labelled[int(graph.node_addr[v])]
            if category not in index:
                index[category] = len(names)
                names.append(category)
            node_category[v] = index[category]
    return names, node_category

"""Gathering the facts of a risk result: from the precomputed table, or on the fly.

``Scorer`` answers for an address, an entity (a set of addresses) or a transfer (a
transaction's flows). An address found in the chain's precomputed table (``risk.table``)
costs a few array lookups and one labels query (two more to name the largest illicit
counterparty the table stored); anything else is computed on the fly: a
haircut trace ``hops`` deep, at most ``max_edges`` edges (``tracing.engine``), with the
model and typology figures from the in-memory feature cache (``risk.model``) when allowed.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from chainsleuth.chain import storage
from chainsleuth.chain.addresses import canonical_address, canonical_hash, display_address
from chainsleuth.chain.chains import get_chain
from chainsleuth.chain.enums import ChainKind
from chainsleuth.chain.keys import hash_raw, raw_key
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.core.config import Settings
from chainsleuth.core.errors import InvalidInput, NotFound
from chainsleuth.entities import service as entity_service
from chainsleuth.labels import service as label_service
from chainsleuth.labels.enums import ILLICIT
from chainsleuth.risk import model as risk_model
from chainsleuth.risk import policy_store, registry
from chainsleuth.risk.features import FEATURES
from chainsleuth.risk.policy_store import PolicyVersion
from chainsleuth.risk.result import (
    DIRECTIONS,
    Contribution,
    Facts,
    LabelLine,
    ModelLine,
    empty_facts,
    feature_name,
    label_lines,
    model_line,
)
from chainsleuth.risk.table import (
    TYPOLOGIES,
    Table,
    category_arrays,
    node_prices,
    open_table,
    precompute,
    run_exposure,
)
from chainsleuth.tracing import engine
from chainsleuth.tracing import service as tracing_service
from chainsleuth.tracing.graph import FlowGraph, load_graph

#: an entity larger than this is scored from its members' table rows only
MAX_LIVE_MEMBERS = 5_000

_CACHE_LOCK = threading.Lock()
_CATS: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_PRICES: dict[tuple[Any, ...], tuple[FlowGraph, np.ndarray]] = {}


def _category_index(
    reader: ChainReader,
    graph: FlowGraph,
    ctx: tracing_service.TracingContext,
    dicts: list[dict[int, str]] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(sorted labelled nodes, their category codes, category names), kept while the
    graph and the labels stay the same (``dicts``: each graph chain's categories, when the
    caller has them)."""
    if ctx.categories is None:
        return np.empty(0, np.int64), np.empty(0, np.int64), []
    if dicts is None:
        dicts = [ctx.categories.categories(reader, c) for c in graph.chains]
    key = (id(graph), *(id(d) for d in dicts))
    with _CACHE_LOCK:
        hit = _CATS.get(key)
    if hit is not None:
        return hit[0], hit[1], hit[2]
    names, node_category = tracing_service.category_nodes(reader, graph, ctx)
    nodes = np.array(sorted(node_category), dtype=np.int64)
    codes = np.array([node_category[int(v)] for v in nodes], dtype=np.int64)
    with _CACHE_LOCK:
        _CATS.clear()  # one generation at a time; the references keep ids unique
        _CATS[key] = (nodes, codes, names, graph, dicts)
    return nodes, codes, names


_CODES: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _node_codes(graph: FlowGraph, cat_nodes: np.ndarray, cat_codes: np.ndarray) -> np.ndarray:
    """Each node's category code (-1: not labelled), one gather per lookup instead of a
    binary search per edge (a big trace has tens of thousands); kept with ``cat_nodes``."""
    with _CACHE_LOCK:
        hit = _CODES.get(id(cat_nodes))
    if hit is not None and hit[0] is cat_nodes:
        return hit[1]
    codes = np.full(graph.n_nodes, -1, dtype=np.int32)
    codes[cat_nodes] = cat_codes
    with _CACHE_LOCK:
        _CODES.clear()
        _CODES[id(cat_nodes)] = (cat_nodes, codes)
    return codes


def _prices(reader: ChainReader, graph: FlowGraph, prices_usd: dict[str, float]) -> np.ndarray:
    key = (id(graph), tuple(sorted(prices_usd.items())))
    with _CACHE_LOCK:
        hit = _PRICES.get(key)
    if hit is not None:
        return hit[1]
    found = node_prices(reader, graph, prices_usd)
    with _CACHE_LOCK:
        _PRICES.clear()
        _PRICES[key] = (graph, found)
    return found


_TIPS: dict[tuple[str, str], tuple[Any, int | None]] = {}
#: (store, services) -> (the store's stamp, the services, the graph loaded then)
_GRAPHS: dict[tuple[str, int], tuple[Any, Any, FlowGraph]] = {}


@functools.lru_cache(maxsize=64)
def _stamp_files(root: str) -> tuple[str, str]:
    return str(Path(root) / storage.DB_FILE), str(Path(root) / f"{storage.DB_FILE}.wal")


def _store_stamp(root: Path) -> tuple[int, ...] | None:
    """Changes whenever the store's database (or its write-ahead log) is written."""
    out: list[int] = []
    for name in _stamp_files(str(root)):  # asked on every screening: the paths made once
        try:
            st = os.stat(name)
        except FileNotFoundError:
            out += [0, 0]
            continue
        out += [st.st_mtime_ns, st.st_size]
    return tuple(out) if out[0] else None


class Scorer:
    """Facts for risk results, inside one request (or one CLI command)."""

    def __init__(
        self,
        *,
        session: Session,
        reader: ChainReader,
        settings: Settings,
        tracing: tracing_service.TracingContext,
        policy: PolicyVersion,
        viewer: label_service.Viewer | None = None,
        use_table: bool = True,
        live_model: bool = True,
        max_edges: int = 20_000,
    ) -> None:
        self.session = session
        self.reader = reader
        self.settings = settings
        self.tracing = tracing
        self.policy = policy
        self.viewer = viewer
        self.use_table = use_table
        self.live_model = live_model
        self.max_edges = max_edges
        self.categories = sorted(policy.body.categories)
        self._graph: FlowGraph | None = None
        self._labelled: dict[str, dict[int, str]] = {}

    # --- shared pieces -----------------------------------------------------------------

    @property
    def graph(self) -> FlowGraph:
        """The flow graph, kept per process while the store's files stay as they were
        (``load_graph`` asks the store for its state on every call: a query per request)."""
        if self._graph is None:
            root = Path(self.reader.root)
            stamp = _store_stamp(root)  # before the load: a write meanwhile reloads next time
            key = (str(root), id(self.tracing.services))
            with _CACHE_LOCK:
                hit = _GRAPHS.get(key)
            if hit is not None and stamp is not None and hit[0] == stamp:
                self._graph = hit[2]
            else:
                self._graph = load_graph(self.reader, self.tracing.services)
                with _CACHE_LOCK:
                    if len(_GRAPHS) > 8:
                        _GRAPHS.clear()
                    _GRAPHS[key] = (stamp, self.tracing.services, self._graph)
        return self._graph

    def _categories_of(self, chain: str) -> dict[int, str]:
        """Address id -> category on ``chain`` (``tracing.categories``), read once per
        scorer: one request sees one state of the labels."""
        found = self._labelled.get(chain)
        if found is None:
            assert self.tracing.categories is not None
            found = self._labelled[chain] = self.tracing.categories.categories(self.reader, chain)
        return found

    def _index(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        graph = self.graph
        if self.tracing.categories is None:
            return _category_index(self.reader, graph, self.tracing)
        dicts = [self._categories_of(c) for c in graph.chains]
        return _category_index(self.reader, graph, self.tracing, dicts)

    def _table(self, chain: str) -> Table | None:
        return open_table(self.settings.data_dir, chain) if self.use_table else None

    def _own(
        self, chain: str, address: str, address_id: int | None
    ) -> tuple[str | None, list[LabelLine]]:
        own = label_service.labels_of(
            self.session, chain=chain, address=address, viewer=self.viewer
        )
        lines = label_lines(own)
        category = None
        if address_id is not None and self.tracing.categories is not None:
            category = self._categories_of(chain).get(address_id)
        if category is None and lines:
            category = lines[0].category
        return category, lines

    def _model_threshold(self, version: str) -> float:
        _, fitted, _ = risk_model.load(registry.models_dir(self.settings.data_dir), version)
        return float(fitted.threshold)

    # --- subjects ------------------------------------------------------------------------

    def address(self, chain: str, address: str) -> Facts:
        info = get_chain(chain)
        text = canonical_address(info.id, address)
        shown = display_address(info.id, text)
        table = self._table(info.id)
        aid = self._table_id(table, info.id, text) if table is not None else None
        if aid is None and self.reader.con is not None:
            aid = self.reader.address_id(info.id, text)
        category, labels = self._own(info.id, text, aid)
        if aid is None:
            facts = empty_facts(info.id, "address", shown, self.categories)
            facts.own_category, facts.labels = category, labels
            facts.notes.append("the address has no activity on the chain")
            return facts
        if table is not None and table.has(aid):
            facts = self._from_table(table, info.id, shown, np.array([aid], dtype=np.int64))
        else:
            facts = self._live_subject(info.id, shown, "address", np.array([aid], np.int64))
            if table is not None:
                facts.notes.append(
                    "the address is newer than the precomputed table: exposure computed on the fly"
                )
        facts.own_category, facts.labels = category, labels
        return facts

    def entity(self, chain: str, entity_id: int) -> Facts:
        info = get_chain(chain)
        if entity_id < 0:
            raise InvalidInput("an entity id is a non-negative integer")
        members = entity_service.members(Path(self.reader.root), info.id, entity_id)
        if members.size == 0:
            raise NotFound(f"there is no entity {entity_id} on {info.id}")
        members = np.asarray(members, dtype=np.int64)
        table = self._table(info.id)
        subject = f"entity {entity_id}"
        if members.size > MAX_LIVE_MEMBERS:
            if table is None:
                raise InvalidInput(
                    f"entity {entity_id} has {members.size} addresses: run `chainsleuth risk "
                    "precompute` to score entities this large"
                )
            facts = self._from_table(table, info.id, subject, members[members < table.n])
            facts.subject_type = "entity"
        else:
            facts = self._live_subject(info.id, subject, "entity", members)
            if table is not None:
                self._add_table_model(facts, table, members[members < table.n])
        if self.tracing.categories is not None:
            cats = self._categories_of(info.id)
            found = [cats[int(a)] for a in members[:MAX_LIVE_MEMBERS] if int(a) in cats]
            facts.own_category = found[0] if found else None
        return facts

    def transfer(
        self, chain: str, tx_hash: str, *, forward: bool, address: str | None = None
    ) -> Facts:
        """The exposure of a transaction's funds: where they came from (a deposit,
        ``forward=False``) or where they went (a withdrawal). With ``address``, only the
        flows the transaction paid to it (a deposit's output, not the payer's change)."""
        info = get_chain(chain)
        text = canonical_hash(info.id, tx_hash)
        tx_id = self._tx_id(info.id, text)
        if tx_id is None:
            raise NotFound(f"no transaction {text} on {info.name}")
        graph = self.graph
        hops = self.policy.body.max_hops
        options = self._options(forward, hops)
        seeds = engine.tx_seeds(graph, info.id, tx_id, options)
        if address is not None:
            aid = self.reader.address_id(info.id, canonical_address(info.id, address))
            mine = graph.nodes_of(info.id, [aid] if aid is not None else [])
            seeds = seeds[np.isin(graph.e_dst[seeds], mine)]
            if seeds.size == 0:
                raise InvalidInput(
                    f"transaction {text} pays nothing to "
                    f"{display_address(info.id, canonical_address(info.id, address))}"
                )
        facts = empty_facts(info.id, "transfer", text, self.categories)
        facts.known = True
        direction = "outgoing" if forward else "incoming"
        values, total, parties, truncated = self._trace(info.id, seeds, np.empty(0, np.int64),
                                                        forward, hops)  # fmt: skip
        facts.hops = hops
        facts.values = {d: np.zeros((hops, len(self.categories))) for d in DIRECTIONS}
        facts.values[direction] = values
        facts.totals[direction] = total
        facts.counterparties = {(direction, c): p for c, p in parties.items()}
        if truncated:
            facts.notes.append(f"the trace stopped at {self.max_edges} edges")
        return facts

    # --- table -----------------------------------------------------------------------------

    def _tx_id(self, chain: str, text: str) -> int | None:
        """The transaction's id: from the table's tx index (its whole hash checked against
        the store's flat file), else (a newer transaction, or no index) from the store."""
        if self.reader.con is None:
            return None
        table = self._table(chain)
        if table is not None and table.txs:
            prefixed = get_chain(chain).kind is ChainKind.ACCOUNT
            wanted = hash_raw(text, prefixed=prefixed)
            found = table.find_tx(raw_key(wanted)[0])
            if found:
                flat = storage.flat_files(self.reader.root, chain)
                for tx_id, raw in zip(found, flat.tx_hashes(found), strict=True):
                    if bytes(raw) == wanted:
                        return tx_id
        return self.reader.tx_id(chain, text)

    def _table_id(self, table: Table, chain: str, text: str) -> int | None:
        """The address's id from the table's index, its text checked against the store's
        flat file (None when the table does not know it: the store is asked then)."""
        found = [i for i in table.find(text) if table.has(i)]
        if not found:
            return None
        flat = storage.flat_files(self.reader.root, chain)
        for aid, stored in zip(found, flat.addresses(found), strict=True):
            if stored == text:
                return aid
        return None

    def _from_table(self, table: Table, chain: str, subject: str, ids: np.ndarray) -> Facts:
        cats = table.categories
        want = [cats.index(c) if c in cats else -1 for c in self.categories]
        hops = table.hops
        values: dict[str, np.ndarray] = {}
        totals: dict[str, float] = {}
        for direction, key in (("incoming", "in"), ("outgoing", "out")):
            got = np.asarray(table.arrays[f"{key}_usd"][ids], dtype=np.float64).sum(axis=0)
            mine = np.zeros((hops, len(self.categories)))
            for j, k in enumerate(want):
                if k >= 0:
                    mine[:, j] = got[:, k]
            values[direction] = mine
            totals[direction] = float(np.asarray(table.arrays[f"{key}_total"][ids]).sum())
        typ = np.asarray(table.arrays["typ"][ids], dtype=np.int64).sum(axis=0)
        facts = Facts(
            chain=chain,
            subject_type="address",
            subject=subject,
            known=True,
            hops=hops,
            categories=self.categories,
            values=values,
            totals=totals,
            typologies={t: int(n) for t, n in zip(TYPOLOGIES, typ.tolist(), strict=True)},
            source="table",
        )
        self._add_table_model(facts, table, ids)
        if table.has_counterparties:
            self._stored_counterparties(facts, table, ids)
        else:  # a table written before the counterparties were kept
            self._table_counterparties(facts, chain, ids)
        tip = self._tip(chain)
        if tip is not None and tip > int(table.meta["tip"]):
            facts.notes.append(
                f"precomputed at height {table.meta['tip']} (the chain is at {tip}): run "
                "`chainsleuth risk precompute` again"
            )
        return facts

    def _stored_counterparties(self, facts: Facts, table: Table, ids: np.ndarray) -> None:
        """The largest illicit counterparty per direction and category, as the precompute
        stored it (for an entity: its members' largest, by value); named with its actor
        as a live trace names it. A direction without illicit exposure names none."""
        illicit = {x.value for x in ILLICIT}
        wanted = [c for c in self.categories if c in illicit]
        if not wanted or ids.size == 0:
            return
        live = {
            d
            for d in DIRECTIONS
            if float(np.sum(facts.values[d][:, [self.categories.index(c) for c in wanted]])) > 0
        }
        best: dict[tuple[str, str], tuple[float, str, int]] = {}
        totals = {
            "incoming": table.arrays["in_total"],
            "outgoing": table.arrays["out_total"],
        }
        for row in table.counterparties(ids[:MAX_LIVE_MEMBERS]):
            if row.direction not in live or row.category not in wanted:
                continue
            value = row.share * float(totals[row.direction][row.address_id])
            key = (row.direction, row.category)
            if value > best.get(key, (0.0, "", -1))[0]:
                best[key] = (value, row.chain, row.address)
        for key, (_, chain, address) in best.items():
            facts.counterparties[key] = self._party_at(chain, address)

    def _table_counterparties(self, facts: Facts, chain: str, ids: np.ndarray) -> None:
        """The table keeps value per category, not who: for a direction with exposure to
        an illicit category, a bounded trace (``max_edges``) names the largest labelled
        counterparty and its actor, so that a reason reads "... from ransomware (entity
        X)". Addresses without illicit exposure (most) cost nothing."""
        illicit = [j for j, c in enumerate(self.categories) if c in {x.value for x in ILLICIT}]
        if not illicit or ids.size == 0:
            return
        hops = min(facts.hops, self.policy.body.max_hops)
        nodes: np.ndarray | None = None
        for direction, forward in (("incoming", False), ("outgoing", True)):
            if float(np.sum(facts.values[direction][:, illicit])) <= 0:
                continue
            if nodes is None:
                nodes = self.graph.nodes_of(chain, ids)
            seeds = engine.address_seeds(self.graph, nodes, self._options(forward, hops))
            _, _, parties, _ = self._trace(chain, seeds, nodes, forward, hops)
            facts.counterparties.update({(direction, c): p for c, p in parties.items()})

    def _add_table_model(self, facts: Facts, table: Table, ids: np.ndarray) -> None:
        version = table.meta.get("model_version")
        if version is None or ids.size == 0:
            return
        probs = np.asarray(table.arrays["ml_prob"][ids], dtype=np.float64)
        if np.all(np.isnan(probs)):
            return
        k = int(np.nanargmax(probs))
        a = int(ids[k])
        feats = [
            (feature_name(int(f)), float(v), float(c))
            for f, v, c in zip(
                table.arrays["ml_feat"][a].tolist(),
                table.arrays["ml_value"][a].tolist(),
                table.arrays["ml_contrib"][a].tolist(),
                strict=True,
            )
            if f >= 0 and c != 0
        ]
        try:
            threshold = self._model_threshold(str(version))
        except NotFound:
            return
        facts.model = model_line(str(version), float(probs[k]), threshold, feats)

    def _tip(self, chain: str) -> int | None:
        """The chain's tip, asked of the store again only when its files have changed."""
        if self.reader.con is None:
            return None
        root = Path(self.reader.root)
        stamp = _store_stamp(root)
        key = (str(root), chain)
        with _CACHE_LOCK:
            hit = _TIPS.get(key)
        if hit is not None and stamp is not None and hit[0] == stamp:
            return hit[1]
        row = storage.one(
            self.reader.con, "SELECT tip_height FROM chain_state WHERE chain = ?", [chain]
        )
        tip = int(row[0]) if row and row[0] is not None else None
        with _CACHE_LOCK:
            _TIPS[key] = (stamp, tip)
        return tip

    # --- live ------------------------------------------------------------------------------

    def _options(self, forward: bool, hops: int) -> engine.TraceOptions:
        return engine.TraceOptions(
            direction=engine.TraceDirection.FORWARD if forward else engine.TraceDirection.BACKWARD,
            model=engine.Model.HAIRCUT,
            hops=hops,
            respect_time=False,
            max_edges=self.max_edges,
        )

    def _trace(
        self, chain: str, seeds: np.ndarray, members: np.ndarray, forward: bool, hops: int
    ) -> tuple[np.ndarray, float, dict[str, tuple[str, str | None]], bool]:
        """(USD per hop x category, total USD of the seeds, category -> its largest
        counterparty and actor, truncated)."""
        graph = self.graph
        prices = _prices(self.reader, graph, self.policy.body.typologies.prices_usd)
        cat_nodes, cat_codes, names = self._index()
        values = np.zeros((hops, len(self.categories)))
        if seeds.size == 0:
            return values, 0.0, {}, False
        src, dst = graph.e_src[seeds], graph.e_dst[seeds]
        if forward:
            total = float(np.sum(graph.e_amount[seeds] * prices[src]))
        else:
            total = float(np.sum(graph.e_out[seeds] * prices[dst]))
        # the labelled nodes as they are (sorted, distinct, the same array every time: the
        # tracer keeps its lookup mask), with the subject's own nodes only when there are any
        stop = engine.stop_set(graph, cat_nodes, members) if members.size else cat_nodes
        # floats only: the sums are in USD, the exact integers would be thrown away
        result = engine.trace_values(graph, seeds, self._options(forward, hops), stop=stop)
        # per edge, not per node: a node's hop is where it was first reached, and funds may
        # reach it again further out
        edges = np.asarray(result.edges, dtype=np.int64)
        hop = np.asarray(result.edge_hop, dtype=np.int64)
        if forward:
            nodes = np.asarray(graph.e_dst[edges], dtype=np.int64)
            amount = result.amount_out
        else:
            nodes = np.asarray(graph.e_src[edges], dtype=np.int64)
            amount = result.amount
        if cat_nodes.size == 0:  # nothing labelled: no exposure to any category
            return values, total, {}, bool(result.truncated)
        code = _node_codes(graph, cat_nodes, cat_codes)[nodes]
        labelled = (code >= 0) & (hop > 0)
        if members.size:
            labelled &= ~np.isin(nodes, members)
        index = {c: j for j, c in enumerate(self.categories)}
        # category code -> the policy's column (-1: a category the policy does not weigh)
        column = np.array([index.get(n, -1) for n in names], dtype=np.int64)
        ks = np.flatnonzero(labelled)
        col = column[code[ks]] if ks.size else np.empty(0, np.int64)
        ks, col = ks[col >= 0], col[col >= 0]
        usd = amount[ks] * prices[nodes[ks]]
        # in edge order into zeros: the same float sums as adding one edge at a time
        # (``np.bincount`` sums each bin's weights in input order, as ``np.add.at`` did)
        cell = (np.minimum(hop[ks], hops) - 1) * values.shape[1] + col
        values += np.bincount(cell, weights=usd, minlength=values.size).reshape(values.shape)
        parties: dict[str, tuple[str, str | None]] = {}
        for j in np.unique(col).tolist():
            mine = np.flatnonzero(col == j)
            # the first edge of the largest value (strictly larger replaced the best before)
            top = mine[int(np.argmax(usd[mine]))]
            if usd[top] > 0.0:
                parties[self.categories[j]] = self._party(int(nodes[ks[top]]))
        return values, total, parties, bool(result.truncated)

    def _party(self, node: int) -> tuple[str, str | None]:
        graph = self.graph
        chain = graph.chains[int(graph.node_chain[node])]
        return self._party_at(chain, int(graph.node_addr[node]))

    def _party_at(self, chain: str, addr: int) -> tuple[str, str | None]:
        """(the address as shown, its actor or label) of address id ``addr``."""
        text = storage.flat_files(self.reader.root, chain).addresses([addr])[0]
        shown = display_address(chain, text)
        labels = label_service.labels_of(
            self.session, chain=chain, address=text, viewer=self.viewer
        )
        actor = None
        if labels:
            actor = labels[0].actor.name if labels[0].actor else labels[0].label
        return shown, actor

    def _live_subject(self, chain: str, subject: str, kind: str, ids: np.ndarray) -> Facts:
        """Exposure per hop by the table's own loop (``table.exposure_by_hop``) for this
        one subject, and the largest counterparty per category from a bounded trace."""
        graph = self.graph
        hops = self.policy.body.max_hops
        nodes = graph.nodes_of(chain, ids)
        facts = empty_facts(chain, kind, subject, self.categories)
        facts.known = nodes.size > 0
        facts.hops = hops
        prices = _prices(self.reader, graph, self.policy.body.typologies.prices_usd)
        cat_nodes, cat_codes, names = self._index()
        wanted = category_arrays(names, dict(zip(cat_nodes.tolist(), cat_codes.tolist(),
                                                 strict=True)), self.categories)[1]  # fmt: skip
        ptr = np.array([0, nodes.size], dtype=np.int64)
        truncated = False
        for direction, forward in (("incoming", False), ("outgoing", True)):
            values, totals = run_exposure(
                graph, prices, nodes, ptr, cat_nodes, wanted, len(self.categories),
                forward=forward, hops=hops, threads=1,
            )  # fmt: skip
            facts.values[direction] = values[0]
            facts.totals[direction] = float(totals[0])
            seeds = engine.address_seeds(graph, nodes, self._options(forward, hops))
            _, _, parties, cut = self._trace(chain, seeds, nodes, forward, hops)
            facts.counterparties.update({(direction, c): p for c, p in parties.items()})
            truncated |= cut
        if truncated:
            facts.notes.append(
                f"the counterparties were looked for in the first {self.max_edges} edges"
            )
        if self.live_model:
            self._live_model(facts, chain, ids)
        return facts

    def _live_model(self, facts: Facts, chain: str, ids: np.ndarray) -> None:
        typologies = self.policy.body.typologies
        try:
            f_ids, x, _ = risk_model.chain_features(Path(self.reader.root), chain, typologies)
        except NotFound:
            return
        pos = np.searchsorted(f_ids, ids)
        found = (pos < f_ids.size) & (f_ids[np.minimum(pos, max(f_ids.size - 1, 0))] == ids)
        if not np.any(found):
            return
        rows = x[pos[found]]
        base = len(FEATURES) - len(TYPOLOGIES)
        counts = rows[:, base:].sum(axis=0)
        facts.typologies = {t: int(n) for t, n in zip(TYPOLOGIES, counts.tolist(), strict=True)}
        models = registry.models_dir(self.settings.data_dir)
        try:
            version, fitted, features = risk_model.load(models, None)
        except NotFound:
            facts.notes.append("no model has been trained: no illicit probability")
            return
        if features != list(FEATURES):
            facts.notes.append("the active model was trained on other features")
            return
        probs = fitted.proba(rows)
        k = int(np.argmax(probs))
        top = risk_model.top_contributions(fitted.contributions(rows[k : k + 1]), features,
                                           rows[k : k + 1], 3)[0]  # fmt: skip
        facts.model = ModelLine(
            version=version,
            probability=float(probs[k]),
            threshold=float(fitted.threshold),
            contributions=[
                Contribution(
                    feature=str(c["feature"]),
                    value=float(c["value"]),
                    contribution=float(c["contribution"]),
                )
                for c in top
            ],  # fmt: skip
        )


def precompute_tables(
    settings: Settings,
    session: Session,
    reader: ChainReader,
    *,
    threads: int = 2,
    progress: Any = None,
) -> list[Any]:
    """``chainsleuth risk precompute``: the per-address tables of every chain, for the
    active policy's categories and hop limit, with the labels and entities of now."""
    policy = policy_store.active(session)
    ctx = tracing_service.context_for(settings, session=session)
    graph = load_graph(reader, ctx.services)
    names, node_category = tracing_service.category_nodes(reader, graph, ctx)
    return precompute(
        reader,
        graph,
        data_dir=settings.data_dir,
        names=names,
        node_category=node_category,
        categories=sorted(policy.body.categories),
        typologies=policy.body.typologies,
        hops=policy.body.max_hops,
        versions={"policy": policy.version, "labelled_nodes": len(node_category)},
        threads=threads,
        progress=progress,
        entity_of=ctx.entity_of,
    )

"""Keeping a chain of the store in step with a source: incremental, resumable, re-org safe.

One loop for every source (Bitcoin Core, an Ethereum node, blockchain-etl files), each a
``Source``: its network's identity, its tip, the hashes of some of its blocks, and a
``BlockRange`` for any range of heights.

* **Incremental and resumable.** Loading starts at the store's tip + 1 (or ``from_block``
  on an empty chain) and goes in batches; each batch is one atomic ``ChainStore.append``,
  so a killed ingest leaves the store at its last committed batch and the next run goes
  on from there: no gap, no duplicate. With ``batch_blocks`` set, a batch is that many
  blocks. By default blocks are fetched ``FETCH_BLOCKS`` at a time, and consecutive
  fetches are appended as one batch until it holds ``APPEND_TXS`` transactions, was begun
  ``APPEND_S`` seconds ago, or ends the range: a dense chain (mainnet Bitcoin, recent
  Ethereum) appends every fetch, and a sparse one (early blocks, a test net) does not
  pay an append, its files and its index run, for every few hundred transactions. A
  range already stored is not fetched again (the same command twice changes nothing).
* **The right network.** The source's identity (Bitcoin: the genesis hash; Ethereum:
  chain id and genesis hash) is kept beside the store (``ingest/<chain>.json``); a source
  on another network is refused before anything is fetched, and so is one that does not
  hold the store's first block (a store loaded from the world generator, say).
* **Re-orgs.** Before each round, and whenever a batch does not link to the stored tip,
  the stored tip's hash is compared with the source's at that height. On a mismatch the
  stored blocks are walked back (16, 32, ... up to ``max_reorg`` blocks) to the last one
  the source agrees with, everything above it is rolled back with
  ``ChainStore.truncate_after`` (which also restores the spent outputs), and the new
  branch is loaded.
* **Following.** With ``follow`` the loop polls the tip every ``poll_s`` seconds until
  stopped (Ctrl-C, or ``stop`` set), or until ``to_block`` is stored.

Fetching runs up to ``PREFETCH`` batches ahead of appending, in ``FETCH_THREADS`` threads
of its own (a source's ``fetch`` is called from several threads at once; the batches are
appended in order). The compiled passes that read a node's answers release the GIL, so
two fetches parse side by side while the store appends.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa

from chainsleuth.chain.batch import BlockRange
from chainsleuth.chain.store import ChainStore
from chainsleuth.core.errors import Conflict, InvalidInput
from chainsleuth.ingest import status as sync_status
from chainsleuth.ingest.progress import SyncProgress
from chainsleuth.ingest.rpc import CredentialsRefused, NodeUnreachable

PREFETCH = 3  # batches fetched ahead of the one being appended
FETCH_THREADS = 2
FETCH_BLOCKS = 100  # blocks a fetch, by default
APPEND_TXS = 100_000  # by default, fetches are appended together up to this many txs
APPEND_S = 5.0  # ... or for this long


class Source(Protocol):
    chain: str
    label: str

    def network(self) -> str:
        """The identity of the source's network ("" where it has none, as files)."""
        ...

    def tip(self) -> int: ...

    def block_hashes(self, heights: Sequence[int]) -> Sequence[str | None]:
        """Hashes of its blocks at ``heights`` (None where it does not hold one: files)."""
        ...

    def fetch(self, first: int, last: int) -> BlockRange: ...


@dataclass
class SyncOptions:
    from_block: int | None = None
    to_block: int | None = None
    follow: bool = False
    #: blocks a batch (one fetch, one append); None: FETCH_BLOCKS a fetch, appended together
    #: up to APPEND_TXS transactions or APPEND_S seconds
    batch_blocks: int | None = None
    poll_s: float = 5.0
    max_reorg: int = 1000
    stop: threading.Event | None = None
    #: called after each stored batch with (chain, first height, last height): the watch list
    on_append: Callable[[str, int, int], None] | None = None


@dataclass
class Reorg:
    fork_height: int  # the last block both agree on
    rolled_back: int  # blocks removed


@dataclass
class SyncReport:
    chain: str
    blocks: int = 0
    txs: int = 0
    first_height: int | None = None
    last_height: int | None = None
    tip: int | None = None
    node_tip: int | None = None
    reorgs: list[Reorg] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def txs_per_second(self) -> float:
        return self.txs / self.seconds if self.seconds > 0 else 0.0


class _Relink(Exception):
    """A batch did not link to the stored tip: reconcile and go on."""


class Syncer:
    def __init__(
        self,
        store: ChainStore,
        source: Source,
        options: SyncOptions | None = None,
        *,
        progress: SyncProgress | None = None,
    ) -> None:
        self.store = store
        self.source = source
        self.options = options or SyncOptions()
        self.chain = source.chain
        self.progress = progress
        self.report = SyncReport(self.chain)
        self._status = sync_status.load(store.root, self.chain)
        self._started = time.perf_counter()
        if self.options.batch_blocks is not None and self.options.batch_blocks < 1:
            raise InvalidInput("--batch-blocks must be at least 1")

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> SyncReport:
        started = self._started = time.perf_counter()
        opts = self.options
        if opts.from_block is not None and opts.from_block < 0:
            raise InvalidInput("--from-block must be 0 or more")
        if opts.to_block is not None and opts.from_block is not None:
            if opts.to_block < opts.from_block:
                raise InvalidInput("--to-block is below --from-block")
        try:
            self._check_network()
            while True:
                done = self._round()
                self.report.seconds = time.perf_counter() - started
                if not opts.follow or done:
                    break
                self._save_status("following")
                if opts.stop is not None:
                    if opts.stop.wait(opts.poll_s):
                        break
                else:
                    time.sleep(opts.poll_s)
        except KeyboardInterrupt:
            self.report.seconds = time.perf_counter() - started
            self._save_status("stopped")
            raise
        except BaseException as exc:
            self.report.seconds = time.perf_counter() - started
            message = getattr(exc, "message", None) or type(exc).__name__
            self._save_status("failed", error=str(message))
            raise
        self.report.seconds = time.perf_counter() - started
        self.report.tip = self.store.tip(self.chain)
        self._save_status("stopped" if opts.follow else "done")
        return self.report

    def _round(self) -> bool:
        """Load what the source has beyond the store; True when ``to_block`` is stored."""
        opts = self.options
        relinks = 0
        while True:
            node_tip = self.source.tip()
            self.report.node_tip = node_tip
            self._reconcile(node_tip)
            tip = self.store.tip(self.chain)
            if tip is None:
                # an empty chain: from --from-block, else the source's first block (files)
                first = int(getattr(self.source, "first_available", 0))
                start = first if opts.from_block is None else opts.from_block
            else:
                if opts.from_block is not None and opts.from_block > tip + 1:
                    raise InvalidInput(
                        f"the store holds {self.chain} up to block {tip}: loading from "
                        f"{opts.from_block} would leave a gap (use --from-block {tip + 1})"
                    )
                start = tip + 1
            end = node_tip if opts.to_block is None else min(opts.to_block, node_tip)
            if start > end:
                return opts.to_block is not None and tip is not None and tip >= opts.to_block
            try:
                self._load(start, end)
            except _Relink:
                relinks += 1
                if relinks > 2:
                    raise InvalidInput(
                        f"block {(self.store.tip(self.chain) or -1) + 1} of {self.chain} from "
                        f"{self.source.label} does not link to the stored tip, and the source "
                        "does not hold the stored block to compare: nothing was written"
                    ) from None
                continue
            tip = self.store.tip(self.chain)
            return opts.to_block is not None and tip is not None and tip >= opts.to_block

    def _load(self, start: int, end: int) -> None:
        explicit = self.options.batch_blocks is not None
        size = self.options.batch_blocks or FETCH_BLOCKS
        ranges = [(a, min(a + size - 1, end)) for a in range(start, end + 1, size)]
        if self.progress is not None:
            self.progress.start(self.chain, start, end)
        # FETCH_THREADS fetching threads, PREFETCH batches ahead of the append: the node always
        # has work while the store appends (the batches are taken in order)
        with ThreadPoolExecutor(FETCH_THREADS, thread_name_prefix="fetch") as pool:
            pending: deque[Future[BlockRange]] = deque(
                pool.submit(self._fetch, *r) for r in ranges[:PREFETCH]
            )
            held: list[BlockRange] = []
            held_txs, held_since = 0, 0.0
            try:
                for i in range(len(ranges)):
                    batch = pending.popleft().result()
                    if i + PREFETCH < len(ranges):
                        pending.append(pool.submit(self._fetch, *ranges[i + PREFETCH]))
                    if not held:
                        held_since = time.perf_counter()
                    held.append(batch)
                    held_txs += batch.tables["txs"].num_rows
                    stop = self.options.stop is not None and self.options.stop.is_set()
                    if not (
                        explicit
                        or stop
                        or i + 1 == len(ranges)
                        or held_txs >= APPEND_TXS
                        or time.perf_counter() - held_since >= APPEND_S
                    ):
                        continue
                    self._append(joined(held))
                    held, held_txs = [], 0
                    if stop:
                        return
            finally:
                for future in pending:  # stopped, re-linking or failed: fetch no further
                    future.cancel()

    def _append(self, batch: BlockRange) -> None:
        try:
            result = self.store.append(batch)
        except Conflict:
            raise _Relink() from None
        if self.options.on_append is not None and not result.skipped:
            self.options.on_append(self.chain, batch.first_height, batch.last_height)
        r = self.report
        r.blocks += result.blocks
        r.txs += result.txs
        if r.first_height is None:
            r.first_height = batch.first_height
        r.last_height = batch.last_height
        if self.progress is not None:
            self.progress.advance(batch.last_height - batch.first_height + 1, result.txs)
        self._save_status("syncing")

    def _fetch(self, first: int, last: int) -> BlockRange:
        """A checked batch; fetched a second time if the first was inconsistent (a re-org on
        the node between two calls looks so), an error if that one is too."""
        for attempt in (1, 2):
            try:
                batch = self.source.fetch(first, last)
                batch.validate()
                _check_links(batch)
                return batch
            except (NodeUnreachable, CredentialsRefused):
                raise  # retried by the client already
            except InvalidInput:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # --- network and re-orgs -----------------------------------------------------------------

    def _check_network(self) -> None:
        network = self.source.network()
        state = self.store.state(self.chain)
        recorded = self._status.network
        if state.tip_height is None:
            if network:
                self._status.network = network
            return
        if network and recorded and recorded != network:
            raise InvalidInput(
                f"the source {self.source.label} is on network {network}, but the store's "
                f"{self.chain} chain was loaded from {recorded}"
            )
        if network and not recorded:
            first = state.first_height if state.first_height is not None else 0
            ours = self._stored_hash(first)
            theirs = self.source.block_hashes([first])[0] if first <= self.source.tip() else None
            if ours != theirs:
                raise InvalidInput(
                    f"the source {self.source.label} does not hold the store's block {first} of "
                    f"{self.chain} ({ours}): it is another network, or the store was loaded "
                    "from elsewhere (the world generator?)"
                )
            self._status.network = network

    def _stored_hash(self, height: int) -> str:
        with self.store.reader() as reader:
            return reader.block(self.chain, height, limit=1).hash

    def _stored_hashes(self, lo: int, hi: int) -> dict[int, str]:
        with self.store.reader() as reader:
            rows = reader.latest_blocks(self.chain, limit=hi - lo + 1 + self._above(hi))
        return {h: block_hash for h, block_hash, _t, _n in rows if lo <= h <= hi}

    def _above(self, hi: int) -> int:
        tip = self.store.tip(self.chain)
        return 0 if tip is None else max(0, tip - hi)

    def _reconcile(self, node_tip: int) -> None:
        """Roll back the stored blocks the source no longer has (a re-org)."""
        state = self.store.state(self.chain)
        if state.tip_height is None:
            return
        tip, first = state.tip_height, state.first_height or 0
        top = min(tip, node_tip)
        theirs_top = self.source.block_hashes([top])[0]
        if theirs_top is None:
            return  # files that do not hold the stored tip: the parent links must tell
        if top == tip and theirs_top == state.tip_hash:
            return
        if top < tip and theirs_top == self._stored_hash(top):
            return  # the node is behind the store (still syncing?): wait for it
        depth = 16
        while True:
            lo = max(first, top - depth + 1)
            stored = self._stored_hashes(lo, top)
            heights = list(range(lo, top + 1))
            theirs = self.source.block_hashes(heights)
            for h, their_hash in zip(reversed(heights), reversed(theirs), strict=True):
                if their_hash is not None and stored.get(h) == their_hash:
                    removed = self.store.truncate_after(self.chain, h)
                    self.report.reorgs.append(Reorg(h, tip - h))
                    del removed
                    return
            if lo == first:
                raise InvalidInput(
                    f"the source {self.source.label} agrees with none of the stored {self.chain} "
                    f"blocks {first}..{top}: another network, or a re-org below the store's "
                    "first block"
                )
            if tip - lo + 1 >= self.options.max_reorg:
                raise InvalidInput(
                    f"a re-org of {self.chain} deeper than {self.options.max_reorg} blocks: "
                    "refusing to roll back that far (raise --max-reorg to allow it)"
                )
            depth *= 2

    # --- status ------------------------------------------------------------------------------

    def _save_status(self, state: str, *, error: str | None = None) -> None:
        s = self._status
        s.source = self.source.label
        s.state = state
        s.error = error
        s.node_tip = self.report.node_tip
        s.store_tip = self.store.tip(self.chain)
        traces = getattr(self.source, "traces", None)  # account sources only
        if traces is not None:
            s.traces = traces
        if self.report.blocks:
            elapsed = max(time.perf_counter() - self._started, 1e-9)
            s.blocks_per_s = round(self.report.blocks / elapsed, 2)
            s.txs_per_s = round(self.report.txs / elapsed, 2)
        sync_status.save(self.store.root, s)


def joined(batches: Sequence[BlockRange]) -> BlockRange:
    """Consecutive batches of a chain as one (each table's parts, in order; a token named
    by several, as files' sources name every token in each, once)."""
    if len(batches) == 1:
        return batches[0]
    names = dict.fromkeys(name for b in batches for name in b.tables)
    tables = {
        name: pa.concat_tables([b.table(name) for b in batches]).combine_chunks() for name in names
    }
    tokens = tables.get("tokens")
    if tokens is not None and tokens.num_rows > 1:
        addresses = tokens["address"].to_numpy(zero_copy_only=False)
        _unique, firsts = np.unique(addresses, return_index=True)
        if firsts.size < tokens.num_rows:
            tables["tokens"] = tokens.take(np.sort(firsts))
    first, last = batches[0], batches[-1]
    return BlockRange(first.chain, first.first_height, last.last_height, tables)


def _check_links(batch: BlockRange) -> None:
    """Each block of a batch names the one before it as its parent."""
    blocks = batch.tables["blocks"]
    hashes = blocks["hash"].to_pylist()
    parents = blocks["prev_hash"].to_pylist()
    for i in range(1, len(hashes)):
        if parents[i] != hashes[i - 1]:
            raise InvalidInput(
                f"block {batch.first_height + i} of {batch.chain} does not link to block "
                f"{batch.first_height + i - 1} (its parent hash is {parents[i]}, not "
                f"{hashes[i - 1]}): nothing was written for blocks "
                f"{batch.first_height}..{batch.last_height}"
            )

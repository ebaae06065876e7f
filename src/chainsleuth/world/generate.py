"""``generate_world``: plan, both chains (in two processes for big worlds), records, manifest.

The world is written into a hidden sibling folder and renamed into place at the end, so a
failed or interrupted run never leaves a half-written world where a complete one is
expected.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chainsleuth import __version__
from chainsleuth.core.errors import InvalidInput
from chainsleuth.world import manifest as mf
from chainsleuth.world.account import AccountChain
from chainsleuth.world.plan import WorldPlan, build_plan
from chainsleuth.world.presets import WorldParams
from chainsleuth.world.utxo import UtxoChain
from chainsleuth.world.writer import ChainOutput, ChainWriter, FileRecord, file_record

Progress = Callable[[str, int], None]
#: worlds from this size on generate their two chains in two processes
PARALLEL_FROM_TXS = 300_000


def run_chain(chain: str, plan: WorldPlan, root: Path, on_progress: Progress | None) -> ChainOutput:
    """Generate one chain into ``root``; returns what was written."""
    from chainsleuth.world.crime import attach_schemes  # noqa: PLC0415 - avoids an import cycle

    started = time.perf_counter()
    kind = "utxo" if chain == "btc" else "account"
    writer = ChainWriter(root, plan.params, chain, kind, on_progress)
    engine: UtxoChain | AccountChain
    try:
        engine = UtxoChain(plan, writer) if chain == "btc" else AccountChain(plan, writer)
        recorder = attach_schemes(engine, plan)
        summary = engine.run()
        output = writer.close()
    except BaseException:
        writer.abort()
        raise
    output.summary = asdict(summary)
    output.extra["truth"] = recorder.export()
    from chainsleuth.world.exchange_money import write_chain_records  # noqa: PLC0415

    output.extra["customers"] = write_chain_records(plan, root, chain)
    output.extra["seconds"] = time.perf_counter() - started
    output.extra["cpu_seconds"] = time.process_time()
    return output


def _worker(chain: str, plan: WorldPlan, root: str, results: Any) -> None:
    """Child-process entry point: progress and the result go back through ``results``."""
    pending = 0

    def progress(name: str, txs: int) -> None:
        nonlocal pending
        pending += txs
        if pending >= 20_000:
            results.put(("progress", name, pending))
            pending = 0

    try:
        output = run_chain(chain, plan, Path(root), progress)
        results.put(("progress", chain, pending))
        results.put(("done", chain, output))
    except BaseException as exc:
        results.put(("error", chain, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def _run_parallel(plan: WorldPlan, root: Path, on_progress: Progress | None) -> list[ChainOutput]:
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(c, plan, str(root), results)) for c in ("btc", "eth")
    ]
    for p in procs:
        p.start()
    # while the chains are made, the parent prepares the identity pools (Faker is slow to load)
    from chainsleuth.world.people import warm_up  # noqa: PLC0415

    warm = threading.Thread(target=warm_up, args=(plan.params.seed,), daemon=True)
    warm.start()
    outputs: dict[str, ChainOutput] = {}
    try:
        while len(outputs) < len(procs):
            try:
                kind, chain, payload = results.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(
                        f"a chain generator died (exit code {dead[0].exitcode})"
                    ) from None
                continue
            if kind == "progress" and on_progress is not None:
                on_progress(chain, int(payload))
            elif kind == "done":
                outputs[chain] = payload
            elif kind == "error":
                raise RuntimeError(f"generating {chain} failed: {payload}")
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()
        warm.join()
    return [outputs["btc"], outputs["eth"]]


def generate_world(
    out: Path,
    params: WorldParams,
    *,
    jobs: int | None = None,
    on_progress: Progress | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Write a world folder at ``out`` (which must not exist or be empty); returns the manifest.

    ``timings``, when given, receives the seconds each phase took (for benchmarks)."""
    clock = timings if timings is not None else {}
    out = out.resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} exists and is not an empty folder")
    tmp = out.with_name(f".{out.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    started = time.perf_counter()
    try:
        plan = build_plan(params)
        from chainsleuth.world.crime import plan_schemes  # noqa: PLC0415

        plan_schemes(plan)
        clock["plan"] = time.perf_counter() - started
        parallel = (jobs if jobs is not None else (2 if params.txs >= PARALLEL_FROM_TXS else 1)) > 1
        if parallel:
            outputs = _run_parallel(plan, tmp, on_progress)
        else:
            outputs = [run_chain(c, plan, tmp, on_progress) for c in ("btc", "eth")]
        clock["chains"] = time.perf_counter() - started - clock["plan"]
        for o in outputs:
            clock[f"chain_{o.chain}"] = o.extra["seconds"]
            clock[f"chain_{o.chain}_cpu"] = o.extra["cpu_seconds"]
            clock[f"chain_{o.chain}_writer"] = o.extra.get("writer_seconds", 0.0)
            for phase, cpu in o.summary.get("extra", {}).get("phases_cpu", {}).items():
                clock[f"{o.chain}.{phase}_cpu"] = cpu
        mark = time.perf_counter()
        extra_files = _post_process(plan, tmp, outputs, clock)
        clock["records"] = time.perf_counter() - mark
        manifest = _manifest(plan, outputs, extra_files)
        mf.write_manifest(tmp, manifest)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _post_process(
    plan: WorldPlan, root: Path, outputs: list[ChainOutput], clock: dict[str, float]
) -> list[FileRecord]:
    """Ground truth, the exchange's records, agencies, and the folder's documentation.

    The exchange's records are made on a second thread while the truth and the labels are
    written (the two read and write different files and share no state: Faker, the only
    shared object, is used by the exchange alone until it is done); the agencies read the
    exchange's customers, so they follow it. Both cores are free by now, and most of this
    is Arrow, numpy and hashing, which release the GIL."""
    from chainsleuth.world import agencies, docs, exchange, labels, truth  # noqa: PLC0415

    written: list[Path] = []
    mark = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="world-records") as pool:
        customers = [o.extra["customers"] for o in outputs]
        exchange_files = pool.submit(exchange.write_exchange, plan, root, customers)
        truth_data = truth.merge([o.extra["truth"] for o in outputs])
        named = truth.named_addresses(plan, root)
        written += truth.write_truth(plan, root, truth_data, named)
        written += labels.write_labels(plan, root, named)
        clock["truth"] = time.perf_counter() - mark
        written += exchange_files.result()
        clock["exchange"] = time.perf_counter() - mark  # from the same start: overlapped
        mark = time.perf_counter()
        written += agencies.write_agencies(plan, root, truth_data)
        written += docs.write_docs(plan, root, outputs)
        records = list(pool.map(lambda p: file_record(root, p, 0), written))
    clock["agencies_docs_checksums"] = time.perf_counter() - mark
    return records


def _manifest(
    plan: WorldPlan, outputs: list[ChainOutput], extra: list[FileRecord]
) -> dict[str, Any]:
    params = plan.params
    files: dict[str, dict[str, Any]] = {}
    for record in [*(f for o in outputs for f in o.files), *extra]:
        files[record.path] = {"sha256": record.sha256, "bytes": record.bytes}
    chains: dict[str, Any] = {}
    for o in outputs:
        ranges = sorted(o.ranges, key=lambda r: r.first)
        chains[o.chain] = {
            "kind": "utxo" if o.chain == "btc" else "account",
            "first_height": ranges[0].first if ranges else 0,
            "last_height": ranges[-1].last if ranges else -1,
            "counts": {
                name: sum(r.rows[name] for r in ranges)
                for name in (ranges[0].rows if ranges else {})
            },
            "ranges": [
                {"first": r.first, "last": r.last, "files": r.files, "rows": r.rows} for r in ranges
            ],
        }
    return {
        "format": mf.FORMAT,
        "format_version": mf.FORMAT_VERSION,
        "created_with": f"chainsleuth {__version__}",
        "seed": params.seed,
        "preset": params.preset,
        "params": params.describe(),
        "start": params.start,
        "days": params.days,
        "counts": {
            "transactions": sum(c["counts"].get("txs", 0) for c in chains.values()),
            "actors": len(plan.actors),
            "users": plan.users.n,
            "schemes": len(plan.schemes),
        },
        "chains": chains,
        "files": dict(sorted(files.items())),
    }

"""Benchmark of real-time screening: ``POST /api/v1/screenings`` under a steady load.

Prepares a world's data folder (see ``bulk_scoring.prepare``; default 1,000,000
transactions, or ``--world DIR``), runs ``chainsleuth risk precompute``, creates an
investigator with an API token, starts the app with uvicorn on loopback (``--workers``
processes, access log off, PostgreSQL by default or SQLite in the data folder, the API rate
limit raised for the run) and drives it with an
open-loop asyncio load generator (``httpx2``): ``--rate`` requests per second for
``--seconds``, each a deposit screening of a random address of the world with its own
idempotency key. Latency runs from each request's scheduled time to its response (no
coordinated omission). Printed: p50, p95, p99, max, errors, and the CPU-seconds the
server's processes spent per screening (the machine may be shared: judge latency by it).

**Baseline**, in the same run: the same load for ``--baseline-seconds`` with the
precomputed table moved away, i.e. every screening computed on the fly (bounded traces).

    .venv/bin/python bench/screening.py                         # 1M txs, 200/s for 60 s
    .venv/bin/python bench/screening.py --txs 10000000          # the target's size
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
from bulk_scoring import prepare

from chainsleuth.audit.service import Actor
from chainsleuth.auth import service as user_service
from chainsleuth.auth import tokens as token_service
from chainsleuth.auth.enums import ROLE_PERMISSIONS, Role
from chainsleuth.auth.schemas import UserCreate
from chainsleuth.chain import storage
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.risk.table import table_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def drive(url: str, token: str, addresses: list[str], rate: float, seconds: float,
                tag: str) -> tuple[list[float], int, int]:  # fmt: skip
    """(latencies of the good answers, errors, requests)."""
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    samples: list[str] = []
    errors = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=30.0) as client:  # fmt: skip
        rng = random.Random(11)
        n = int(rate * seconds)
        start = time.perf_counter() + 0.2
        tasks = []

        async def one(k: int, at: float) -> None:
            nonlocal errors
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = {"chain": "btc", "direction": "deposit", "address": rng.choice(addresses),
                    "amount": rng.randint(10_000, 50_000_000)}  # fmt: skip
            try:
                r = await client.post("/api/v1/screenings", json=body,
                                      headers={"Idempotency-Key": f"{tag}-{k}"})  # fmt: skip
                ok = r.status_code == 201
                why = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                ok = False
                why = repr(exc)
            if not ok and len(samples) < 3:
                samples.append(why)
            if ok:
                latencies.append(time.perf_counter() - at)
            else:
                errors += 1

        for k in range(n):
            tasks.append(asyncio.create_task(one(k, start + k / rate)))
        await asyncio.gather(*tasks)
    for why in samples:
        print(f"  error: {why}")
    return latencies, errors, n


def report(name: str, lat: list[float], errors: int, n: int, seconds: float) -> None:
    ms = [x * 1000 for x in lat]
    print(
        f"{name}: {n} requests in {seconds:.0f} s, {errors} errors; latency p50 "
        f"{pct(ms, 0.5):.1f} ms, p95 {pct(ms, 0.95):.1f} ms, p99 {pct(ms, 0.99):.1f} ms, "
        f"max {max(ms, default=float('nan')):.1f} ms"
        + (f", mean {statistics.mean(ms):.1f} ms" if ms else "")
    )


def serve(data: Path, port: int, database_url: str | None, workers: int) -> subprocess.Popen[bytes]:
    """The app as production runs it: uvicorn's worker processes on one socket, access log
    off (the audit log records every screening)."""
    env = {**os.environ, "CHAINSLEUTH_DATA_DIR": str(data), "CHAINSLEUTH_ENV": "development",
           "CHAINSLEUTH_RATE_LIMIT_API": "1000000/minute"}  # fmt: skip
    if database_url:
        env["CHAINSLEUTH_DATABASE_URL"] = database_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "chainsleuth.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning", "--no-access-log",
         # a loaded machine may take long to import the app: no restart loop meanwhile
         "--timeout-worker-healthcheck", "300"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise SystemExit(f"the server did not start: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    stop(proc)
    raise SystemExit("the server did not start within 300 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        import psutil

        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
        proc.kill()
        proc.wait()


def server_cpu(proc: subprocess.Popen[bytes]) -> float:
    """CPU-seconds (user + system) of the server and its worker processes so far."""
    import psutil

    total = 0.0
    root = psutil.Process(proc.pid)
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def warm(url: str, token: str, addresses: list[str], n: int) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                      timeout=600) as c:  # fmt: skip
        for k in range(n):
            address = addresses[k % len(addresses)]
            body = {"chain": "btc", "direction": "deposit", "address": address, "amount": 1000}
            r = c.post("/api/v1/screenings", json=body)
            if r.status_code != 201:
                raise SystemExit(f"warm-up screening failed: {r.status_code} {r.text[:500]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--txs", type=int, default=1_000_000)
    ap.add_argument("--world", type=Path, help="reuse a generated world folder")
    ap.add_argument("--data", type=Path, help="the data folder (kept; default: temporary)")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--baseline-seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                    help="uvicorn worker processes")  # fmt: skip
    ap.add_argument(
        "--db", choices=("postgresql", "sqlite"), default="postgresql",
        help="postgresql: a throwaway server (tests/harness); sqlite: the data folder's",
    )  # fmt: skip
    args = ap.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="bench-screening-"))
    with contextlib.ExitStack() as stack:
        url = None
        if args.db == "postgresql":
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            from harness.postgres import PostgresServer

            server = stack.enter_context(PostgresServer())
            server.create_database("bench")
            url = server.url("bench")
        return run(args, data, url)


def run(args: argparse.Namespace, data: Path, database_url: str | None) -> int:
    settings, db, _ = prepare(args.world, args.txs, data, database_url)
    print(f"database: {(settings.database_url or 'SQLite in the data folder').split('@')[-1]}")
    from chainsleuth.risk.facts import precompute_tables

    root = data / "chains"
    with db.session() as session:
        if not (table_dir(data) / "btc" / "meta.json").exists():
            with ChainReader(storage.connect(root, read_only=True), root) as r:
                t0 = time.perf_counter()
                precompute_tables(settings, session, r, threads=args.threads)
                print(f"precompute: {time.perf_counter() - t0:.0f} s")
        name = f"bench{random.randrange(10**6)}"
        user = user_service.create_user(
            session, actor=Actor.system("bench"),
            data=UserCreate(username=name, email=f"{name}@example.org", full_name="Bench User",
                            role=Role.INVESTIGATOR, password="bench-password-2026-x"),
        )  # fmt: skip
        token = token_service.create(
            session, actor=Actor.system("bench"), user=user, name="bench",
            scopes=sorted(ROLE_PERMISSIONS[Role.INVESTIGATOR]), days=1,
        ).token  # fmt: skip
    db.dispose()
    count = int(
        __import__("json").loads((table_dir(data) / "btc" / "meta.json").read_text())["addresses"]
    )
    rng = random.Random(5)
    addresses = storage.FlatFiles(root / "btc").addresses(
        sorted(rng.sample(range(count), min(5000, count)))
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    for label, seconds, with_table in (
        ("ours (precomputed table)", args.seconds, True),
        ("baseline (on the fly, no table)", args.baseline_seconds, False),
    ):
        moved = data / "risk" / "table.off"
        if not with_table:
            shutil.move(table_dir(data), moved)
        proc = serve(data, port, database_url, args.workers)
        try:
            warm(url, token, addresses, 20 * args.workers)
            cpu0, own0 = server_cpu(proc), time.process_time()
            lat, errors, n = asyncio.run(
                drive(url, token, addresses, args.rate, seconds, f"{label[:4]}{time.time()}")
            )
            cpu, own = server_cpu(proc) - cpu0, time.process_time() - own0
            report(label, lat, errors, n, seconds)
            print(f"  server CPU: {cpu:.1f} s in all, {cpu / max(n, 1) * 1000:.2f} ms per "
                  f"screening ({args.workers} workers); load generator CPU {own:.1f} s; "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
        finally:
            stop(proc)
            if not with_table:
                shutil.move(moved, table_dir(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())

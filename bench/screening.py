"""Benchmark of real-time screening: ``POST /api/v1/screenings`` under a steady load.

Prepares a world's data folder (see ``bulk_scoring.prepare``; default 1,000,000
transactions, or ``--world DIR``), runs ``chainsleuth risk precompute``, creates an
investigator with an API token, starts the app with uvicorn on loopback (``--workers``
processes, access log off, PostgreSQL by default or SQLite in the data folder, the API rate
limit raised for the run) and drives it with ``wrk`` (the Debian package; ``make
bench-deps``) running ``screening.lua``: open loop at a constant ``--rate`` for
``--seconds``, each request a deposit or a withdrawal of a random address or transaction
(``--tx-share``) of the world with its own idempotency key. Latency runs from each
request's due time to its answer (no coordinated omission: a late request counts from when
it was due). Printed: p50, p95, p99, max, errors (any answer but 201, and requests without
an answer), the CPU-seconds the server's processes spent per screening (the machine may be
shared: judge latency by it) and the load generator's CPU-seconds.

**Baseline**, in the same run: the same load for ``--baseline-seconds`` with the
precomputed table moved away, i.e. every screening computed on the fly (bounded traces).

    .venv/bin/python bench/screening.py                         # 1M txs, 200/s for 60 s
    .venv/bin/python bench/screening.py --txs 10000000          # the target's size
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
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
from chainsleuth.chain.keys import hex_of
from chainsleuth.chain.lookups import ChainReader
from chainsleuth.risk.table import table_dir, tabled_chains


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


WRK_SCRIPT = Path(__file__).with_name("screening.lua")
#: seconds the load generator waits past the last due request for the answers still out
GRACE_S = 10


def drive(url: str, token: str, targets: list[tuple[str, str, str]], rate: float,
          seconds: float, tag: str, *, threads: int, connections: int,
          ) -> tuple[list[float], int, int, float]:  # fmt: skip
    """Run ``wrk`` with ``screening.lua``: (latencies in seconds of the good answers,
    errors, requests, the load generator's CPU-seconds). An error is any answer but 201 and
    any request without an answer within ``GRACE_S`` of the end."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: `make bench-deps` (the Debian package wrk)")
    n = int(rate * seconds)
    with tempfile.TemporaryDirectory(prefix="bench-screening-wrk-") as tmp:
        listing = Path(tmp) / "targets.txt"
        listing.write_text("".join(f"{c} {k} {v}\n" for c, k, v in targets))
        out = Path(tmp) / "answers"
        start = time.time() + 1.0  # the connections open meanwhile
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [wrk, f"-t{threads}", f"-c{connections}", f"-d{int(seconds + GRACE_S + 1)}s",
             f"--timeout={GRACE_S}s", "-s", str(WRK_SCRIPT), url, "--", str(listing), str(out),
             repr(rate), str(n), repr(start), tag, token, str(threads)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
        latencies: list[float] = []
        samples: list[str] = []
        answered = 0
        for part in sorted(Path(tmp).glob("answers.*")):
            for line in part.read_text().splitlines():
                status, _, rest = line.partition(" ")
                answered += 1
                ms = float(rest.split(" ", 1)[0])
                if status == "201" and ms >= 0:
                    latencies.append(ms / 1000)
                elif len(samples) < 3:  # (a 201 without its due time: resent on a new connection)
                    samples.append(line[:300])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if answered < n:
        samples.append(f"{n - answered} requests had no answer within {GRACE_S} s")
    for why in samples:
        print(f"  error: {why}")
    return latencies, n - len(latencies), n, cpu


def report(name: str, lat: list[float], errors: int, n: int, seconds: float) -> None:
    ms = [x * 1000 for x in lat]
    print(
        f"{name}: {n} requests in {seconds:.0f} s, {errors} errors; latency p50 "
        f"{pct(ms, 0.5):.1f} ms, p95 {pct(ms, 0.95):.1f} ms, p99 {pct(ms, 0.99):.1f} ms, "
        f"max {max(ms, default=float('nan')):.1f} ms"
        + (f", mean {statistics.mean(ms):.1f} ms" if ms else "")
    )


def serve(
    data: Path, port: int, database_url: str | None, workers: int, log: Path
) -> subprocess.Popen[bytes]:
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
        # a file, not a pipe: a pipe nobody reads fills up and stalls the server's logging
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"),
    )  # fmt: skip
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                time.sleep(0.3)
            # uvicorn's supervisor outlives a worker whose start-up failed: read its log
            if proc.poll() is not None or "Application startup failed" in log_tail(log):
                raise SystemExit(f"the server did not start: {log_tail(log)}")
        raise SystemExit("the server did not start within 300 s")
    except BaseException:
        stop(proc)
        raise


def log_tail(log: Path, chars: int = 2000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


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


def sample_targets(data: Path, tx_share: float, n: int = 5000) -> list[tuple[str, str, str]]:
    """(chain, "address" or "tx", text): random addresses of the precomputed table and
    random transactions of the store, ``tx_share`` of them transactions, of each chain
    with a table (seeded: the same on every run)."""
    rng = random.Random(5)
    out: list[tuple[str, str, str]] = []
    chains = tabled_chains(data)
    for chain in chains:
        flat = storage.FlatFiles(data / "chains" / chain)
        count = int(json.loads((table_dir(data) / chain / "meta.json").read_text())["addresses"])
        n_tx = round(n * tx_share)
        ids = sorted(rng.sample(range(count), min(n - n_tx, count)))
        out += [(chain, "address", a) for a in flat.addresses(ids)]
        txs = flat.tx_path.stat().st_size // storage.TX_RECORD
        if n_tx and txs:
            tx_ids = sorted(rng.sample(range(txs), min(n_tx, txs)))
            prefixed = chain == "eth"
            out += [(chain, "tx", h) for h in hex_of(flat.tx_hashes(tx_ids), prefixed=prefixed)]
    rng.shuffle(out)
    return out


def warm(url: str, token: str, targets: list[tuple[str, str, str]], n: int) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                      timeout=600) as c:  # fmt: skip
        for k in range(n):
            chain, kind, value = targets[k % len(targets)]
            field = "tx_hash" if kind == "tx" else "address"
            body = {"chain": chain, "direction": "deposit", field: value, "amount": 1000}
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
    ap.add_argument("--baseline-workers", type=int,
                    help="the baseline's worker processes (default --workers; on 10M each "
                         "on-the-fly worker holds ~13 GB)")  # fmt: skip
    ap.add_argument(
        "--tx-share",
        type=float,
        default=0.5,
        help="share of the screenings by transaction hash (the rest by address)",
    )
    ap.add_argument(
        "--connections",
        type=int,
        default=100,
        help="wrk's connections: the most requests in flight at once",
    )
    ap.add_argument("--wrk-threads", type=int, default=1)
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
    targets = sample_targets(data, args.tx_share)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    for label, seconds, with_table in (
        ("ours (precomputed table)", args.seconds, True),
        ("baseline (on the fly, no table)", args.baseline_seconds, False),
    ):
        moved = data / "risk" / "table.off"
        if not with_table:
            shutil.move(table_dir(data), moved)
        log = data / f"bench-screening-server-{label[:4]}.log"
        log.unlink(missing_ok=True)
        workers = args.workers if with_table else (args.baseline_workers or args.workers)
        proc = serve(data, port, database_url, workers, log)
        try:
            warm(url, token, targets, 20 * workers)
            cpu0 = server_cpu(proc)
            lat, errors, n, own = drive(
                url,
                token,
                targets,
                args.rate,
                seconds,
                f"{label[:4]}{int(time.time())}",
                threads=args.wrk_threads,
                connections=args.connections,
            )
            cpu = server_cpu(proc) - cpu0
            report(label, lat, errors, n, seconds)
            print(f"  server CPU: {cpu:.1f} s in all, {cpu / max(n, 1) * 1000:.2f} ms per "
                  f"request, {cpu / max(len(lat), 1) * 1000:.2f} ms per good answer "
                  f"({workers} workers); load generator (wrk) CPU {own:.1f} s; "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
            if errors:
                print(f"  the server's log ({log}) ends:\n{log_tail(log, 1500)}")
        finally:
            stop(proc)
            if not with_table:
                shutil.move(moved, table_dir(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())

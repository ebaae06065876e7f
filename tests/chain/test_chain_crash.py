"""Atomic appends: a writer killed (SIGKILL) anywhere leaves the store as it was, or fully
advanced, never in between."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chainsleuth.chain import storage
from chainsleuth.chain.store import PAUSE_ENV, PAUSE_POINTS, ChainStore

BATCH_TXS = 1500
WRITER = f"""
import sys
from pathlib import Path
from chainsleuth.chain.store import ChainStore
from chainsleuth.chain.synthetic import UtxoSynth

root, batches = Path(sys.argv[1]), int(sys.argv[2])
synth = UtxoSynth(seed=7, txs_per_block=300)
with ChainStore(root) as store:
    for _ in range(batches):
        store.append(synth.batch({BATCH_TXS}))
print("DONE", flush=True)
"""


def writer(root: Path, batches: int, pause: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != PAUSE_ENV}
    if pause:
        env[PAUSE_ENV] = pause
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), str(batches)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def run_writer(root: Path, batches: int) -> None:
    proc = writer(root, batches)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "DONE" in out


def check_store(root: Path) -> tuple[int | None, int]:
    """Open the store (which clears orphans) and check that every part agrees."""
    with ChainStore(root, durable=False) as store:
        con = store.con
        state = store.state("btc")
        segments = {p for (p,) in con.execute("SELECT path FROM segments").fetchall()}
        files = {str(p.relative_to(root)) for p in storage.parquet_files(root, ["btc", "eth"])}
        assert files == segments, "a Parquet file outside the manifest, or one missing"

        def one(sql: str) -> int:
            return int(con.execute(sql).fetchall()[0][0])

        assert (
            one("SELECT coalesce(sum(rows), 0) FROM segments WHERE tbl = 'txs'") == state.tx_count
        )
        assert one("SELECT count(*) FROM tx_keys") == state.tx_count
        assert one("SELECT count(DISTINCT tx_id) FROM tx_keys") == state.tx_count
        assert one("SELECT count(*) FROM btc_txs") == state.tx_count
        assert one("SELECT coalesce(max(tx_id), -1) FROM utxo_address_txs") < state.tx_count
        blocks = one("SELECT count(*) FROM blocks")
        assert blocks == one("SELECT count(DISTINCT height) FROM blocks")
        if state.tip_height is not None:
            assert blocks == state.tip_height + 1
        assert one("SELECT count(*) FROM addresses") == state.address_count
        assert one("SELECT count(*) FROM btc_addresses") == state.address_count
        unspent = one(
            "SELECT count(*) FROM btc_outputs_spent "
            "WHERE spent_by_tx_id IS NULL AND script_type <> 'nulldata'"
        )
        assert one("SELECT count(*) FROM utxos") == unspent
        flat = store.flat("btc")
        assert flat.tx_path.stat().st_size == storage.TX_RECORD * state.tx_count
        with store.reader() as reader:
            stats = reader.stats().chains[0]
            assert stats.txs == state.tx_count
            if state.tx_count:
                top = con.execute(
                    "SELECT address_id FROM utxo_address_txs GROUP BY 1 ORDER BY count(*) DESC "
                    "LIMIT 1"
                ).fetchall()[0][0]
                text = flat.addresses([top])[0]
                summary = reader.address_summary("btc", text)
                page = reader.address_txs("btc", text, limit=500)
                assert page.txs[0].entries[0].balance == summary.assets[0].balance
        return state.tip_height, state.tx_count


@pytest.fixture(scope="module")
def two_batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash") / "chains"
    run_writer(root, 2)
    return root


@pytest.mark.parametrize("point", PAUSE_POINTS)
def test_writer_killed_at_each_step(two_batches: Path, tmp_path: Path, point: str) -> None:
    root = tmp_path / "chains"
    shutil.copytree(two_batches, root)
    tip_before, txs_before = check_store(root)
    proc = writer(root, 3, pause=point)
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    line = ""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if line.startswith("PAUSED") or not line:
            break
    assert line.strip() == f"PAUSED {point}", line
    kill(proc)
    tip, txs = check_store(root)
    if point == "after-commit":
        assert tip is not None and tip_before is not None and tip > tip_before
        assert txs == txs_before + BATCH_TXS
    else:
        assert (tip, txs) == (tip_before, txs_before)
    run_writer(root, 3)  # the same batch again: appended, or skipped as already there
    assert check_store(root)[1] == txs_before + BATCH_TXS


def test_writer_killed_at_random_times(tmp_path: Path) -> None:
    root = tmp_path / "chains"
    rng = random.Random(11)
    seen: list[int] = []
    for _ in range(3):
        proc = writer(root, 6)
        time.sleep(rng.uniform(1.0, 3.5))
        kill(proc)
        _, txs = check_store(root)
        assert txs % BATCH_TXS == 0
        seen.append(txs)
    run_writer(root, 6)
    assert check_store(root)[1] == 6 * BATCH_TXS
    assert seen == sorted(seen)

"""A real local Ethereum node for tests: ganache (from npm, ``node_modules/.bin/ganache``).

``Ganache()`` starts one on a free 127.0.0.1 port with the deterministic accounts
(mnemonic "myth like bonus scare ..."), instamine (every transaction mined at once, in a
block of its own) and chain id 1337, waits until it answers, and stops it on ``stop()`` or
at the end of a ``with`` block. ``make test`` installs ganache (``npm ci``) when
``node_modules`` is missing or older than ``package-lock.json``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GANACHE = ROOT / "node_modules" / ".bin" / "ganache"
CHAIN_ID = 1337


class GanacheError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Ganache:
    def __init__(
        self,
        *,
        accounts: int = 10,
        block_gas_limit: int | None = None,
        extra_args: tuple[str, ...] = (),
        start_timeout_s: float = 60.0,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._args = [
            str(GANACHE),
            "--server.host",
            "127.0.0.1",
            "--server.port",
            str(self.port),
            "--wallet.deterministic",
            "--wallet.totalAccounts",
            str(accounts),
            "--chain.chainId",
            str(CHAIN_ID),
            "--miner.instamine",
            "eager",
            "--logging.quiet",
            *(["--miner.blockGasLimit", hex(block_gas_limit)] if block_gas_limit else []),
            *extra_args,
        ]
        self._timeout = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = None
        self._id = 0

    def start(self) -> Ganache:
        if not GANACHE.exists():
            raise GanacheError(
                f"{GANACHE} is missing: run `npm ci` in {ROOT} (or `make node`) to install "
                "ganache from package-lock.json"
            )
        self._proc = subprocess.Popen(
            self._args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + self._timeout
        while True:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise GanacheError(f"ganache exited with {self._proc.returncode}: {err[-2000:]}")
            try:
                if int(self.rpc("eth_chainId"), 16) == CHAIN_ID:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise GanacheError(f"ganache did not answer on {self.url} in {self._timeout} s")
            time.sleep(0.1)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()

    def __enter__(self) -> Ganache:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- JSON-RPC ----------------------------------------------------------------------------

    def rpc(self, method: str, *params: Any) -> Any:
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        return self._post(body.encode(), method)

    def rpc_batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        body = json.dumps(
            [
                {"jsonrpc": "2.0", "id": i, "method": m, "params": p}
                for i, (m, p) in enumerate(calls)
            ]
        )
        req = urllib.request.Request(
            self.url, body.encode(), {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            answers = sorted(json.loads(resp.read()), key=lambda a: a["id"])
        for a in answers:
            if "error" in a:
                raise GanacheError(f"{calls[a['id']][0]}: {a['error'].get('message')}")
        return [a["result"] for a in answers]

    def _post(self, body: bytes, method: str) -> Any:
        req = urllib.request.Request(
            self.url, body, {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            answer = json.loads(resp.read())
        if "error" in answer:
            raise GanacheError(f"{method}: {answer['error'].get('message')}")
        return answer["result"]

    # --- helpers -----------------------------------------------------------------------------

    def accounts(self) -> list[str]:
        return list(self.rpc("eth_accounts"))

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def send(self, **tx: Any) -> str:
        """``eth_sendTransaction`` from an unlocked account; the transaction's hash."""
        fields = {k: (hex(v) if isinstance(v, int) else v) for k, v in tx.items()}
        if "from_" in fields:
            fields["from"] = fields.pop("from_")
        return str(self.rpc("eth_sendTransaction", fields))

    def receipt(self, tx_hash: str) -> dict[str, Any]:
        return dict(self.rpc("eth_getTransactionReceipt", tx_hash))

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> bool:
        return bool(self.rpc("evm_revert", snapshot_id))

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc("evm_mine")

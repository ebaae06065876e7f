"""Helpers for the ingest tests: fixture paths, a Bitcoin Core stand-in, ERC-20 calls.

Bitcoin Core cannot be installed here, so ``FakeBitcoind`` is a real HTTP server on
127.0.0.1 that answers Bitcoin Core's JSON-RPC (``getblockcount``, ``getblockhash``,
``getblock``; single calls and batches; Basic auth) from a list of blocks: the real
mainnet responses of the fixtures, and blocks built in Core's format by ``core_block``. It
fakes the node only at the transport: the client under test speaks real HTTP to it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import base58
import bech32m

FIXTURES = Path(__file__).parent / "fixtures"
BTC_FIX = FIXTURES / "bitcoin-etl" / "test_export_blocks_job" / "bitcoin"
ETH_FIX = FIXTURES / "ethereum-etl"
GENESIS = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(), parse_float=Decimal)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def response(folder: Path, prefix: str) -> Any:
    """The result stored in the one fixture file of ``folder`` whose name starts so."""
    (path,) = [p for p in folder.iterdir() if p.name.startswith(prefix)]
    data = read_json(path)
    if isinstance(data, dict) and "jsonrpc" in data:
        return data["result"]
    return data


def core_fixture_block(case: str, height: int) -> dict[str, Any]:
    folder = BTC_FIX / case
    block_hash = response(folder, f"rpc_response_getblockhash_{height}.")
    return dict(response(folder, f"rpc_response_getblock_{block_hash}"))


# --- Bitcoin addresses and blocks in Core's format --------------------------------------------


def _h(seed: str, n: int = 32) -> bytes:
    return hashlib.sha256(seed.encode()).digest()[:n]


def p2pkh(seed: str) -> str:
    return str(base58.b58encode_check(b"\x00" + _h(seed, 20)).decode())


def p2sh(seed: str) -> str:
    return str(base58.b58encode_check(b"\x05" + _h(seed, 20)).decode())


def segwit(seed: str, version: int, size: int) -> str:
    return str(bech32m.encode("bc", version, list(_h(seed, size))))


def out(n: int, value: str, core_type: str, address: str | None = None) -> dict[str, Any]:
    spk: dict[str, Any] = {"type": core_type, "hex": "00", "asm": ""}
    if address is not None:
        spk["address"] = address
    return {"n": n, "value": Decimal(value), "scriptPubKey": spk}


def tx(txid_seed: str, vin: list[dict[str, Any]], vout: list[dict[str, Any]]) -> dict[str, Any]:
    txid = _h(txid_seed).hex()
    return {
        "txid": txid,
        "hash": txid,
        "version": 2,
        "size": 200,
        "vsize": 150,
        "locktime": 0,
        "vin": vin,
        "vout": vout,
    }


def coinbase(seed: str, address: str, value: str = "50") -> dict[str, Any]:
    return tx(seed, [{"coinbase": "04ffff", "sequence": 0}], [out(0, value, "pubkeyhash", address)])


def core_block(height: int, prev: str, txs: list[dict[str, Any]], seed: str = "") -> dict[str, Any]:
    block_hash = _h(f"block {height} {prev} {seed}").hex()
    return {
        "hash": block_hash,
        "height": height,
        "previousblockhash": prev,
        "time": 1231006505 + 600 * height,
        "tx": txs,
        "nTx": len(txs),
    }


def extend(blocks: list[dict[str, Any]], count: int, seed: str = "") -> list[dict[str, Any]]:
    """``count`` more coinbase-only blocks on top of ``blocks`` (returns the longer list)."""
    chain = list(blocks)
    for _ in range(count):
        height = chain[-1]["height"] + 1
        cb = coinbase(f"cb {height} {seed}", p2pkh(f"miner {height} {seed}"))
        chain.append(core_block(height, chain[-1]["hash"], [cb], seed))
    return chain


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value))


class FakeBitcoind:
    """Bitcoin Core's JSON-RPC over real HTTP, answering from ``self.blocks`` (by height)."""

    def __init__(self, blocks: list[dict[str, Any]], *, user: str = "", password: str = "") -> None:
        self.blocks = blocks
        self.auth = (
            "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else None
        )
        self.requests = 0
        #: test switches: answer the next N POSTs with 503; cut bodies; garble bodies
        self.fail_next = 0
        self.truncate = False
        self.garble = False
        self.delay_s = 0.0
        self.reverse_batches = False  # answer each batch's calls last first
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                with fake.lock:
                    fake.requests += 1
                    if fake.fail_next:
                        fake.fail_next -= 1
                        self._send(503, b"busy")
                        return
                if fake.auth is not None and self.headers.get("Authorization") != fake.auth:
                    self._send(401, b"")
                    return
                request = json.loads(body)
                if isinstance(request, list):
                    answers = [fake.answer(r) for r in request]
                    if fake.reverse_batches:
                        answers.reverse()
                    payload = json.dumps(answers, default=_encode)
                else:
                    payload = json.dumps(fake.answer(request), default=_encode)
                data = payload.encode()
                if fake.garble:
                    data = b"<html>proxy error</html>"
                if fake.truncate:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                self._send(200, data)

            def _send(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        method, params, rid = request["method"], request.get("params") or [], request["id"]
        by_height = {b["height"]: b for b in self.blocks}
        by_hash = {b["hash"]: b for b in self.blocks}
        result: Any
        if method == "getblockcount":
            result = max(by_height)
        elif method == "getblockhash" and params[0] in by_height:
            result = by_height[params[0]]["hash"]
        elif method == "getblock" and params[0] in by_hash:
            result = by_hash[params[0]]
        elif method in ("getblockhash", "getblock"):
            return {"result": None, "error": {"code": -8, "message": "Block not found"}, "id": rid}
        else:
            return {
                "result": None,
                "error": {"code": -32601, "message": "Method not found"},
                "id": rid,
            }
        return {"result": result, "error": None, "id": rid}

    def __enter__(self) -> FakeBitcoind:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- ERC-20 calls ------------------------------------------------------------------------------

TOKENS = json.loads((FIXTURES / "tokens.json").read_text())["contracts"]
TRANSFER = "0xa9059cbb"


def word(value: int | str) -> str:
    if isinstance(value, str):
        return value.lower().removeprefix("0x").rjust(64, "0")
    return f"{value:064x}"


def abi_string(text: str) -> str:
    raw = text.encode().hex()
    return word(len(text.encode())) + raw.ljust((len(raw) + 63) // 64 * 64, "0")


def deploy_test_token(name: str, symbol: str, decimals: int, supply: int) -> str:
    """TestToken's creation code with its constructor arguments, ABI-encoded."""
    head_size = 4 * 32
    name_part = abi_string(name)
    head = word(head_size) + word(head_size + len(name_part) // 2) + word(decimals) + word(supply)
    return str(TOKENS["TestToken"]["bytecode"]) + head + name_part + abi_string(symbol)


def deploy_bytes32_token(supply: int) -> str:
    return str(TOKENS["Bytes32Token"]["bytecode"]) + word(supply)


def transfer_data(to: str, amount: int) -> str:
    return TRANSFER + word(to) + word(amount)

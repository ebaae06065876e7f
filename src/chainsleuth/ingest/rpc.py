"""A JSON-RPC 2.0 client for Bitcoin Core and Ethereum nodes.

Requests go out in **batches** (one HTTP POST carries up to ``batch_size`` calls), up to
``concurrency`` POSTs at a time, each on a kept-alive connection of its own thread. A POST
that times out, loses its connection or gets HTTP 5xx/429 is retried ``retries`` times
with exponential backoff; every other failure is final. Errors, all ``InvalidInput``
subclasses with a one-line message (the CLI prints it and exits 2)::

    RpcFailure                 any failure talking to the node
     +-- NodeUnreachable       connection refused, DNS, TLS, timeouts after all retries
     +-- CredentialsRefused    HTTP 401/403
     +-- MalformedResponse     not JSON-RPC, missing or duplicate ids, truncated body
     +-- RpcError              the node answered a call with a JSON-RPC error object

Credentials come from settings or a cookie file (``Credentials``), never from a URL: a URL
with ``user:password@`` is refused, so that no secret lands in a shell history.

With ``result_type`` (a ``msgspec.Struct``, or a list of one) a batch's answers are decoded
by msgspec straight into typed records, reading only the fields the type names: no Python
dict per object, and a field of the wrong type is a ``MalformedResponse`` at once.

The standard library's ``http.client`` is the transport: ``httpx`` is not a runtime
dependency of chainsleuth (only ``httpx2`` in the dev group), and one keep-alive
connection per worker thread is all a JSON-RPC client needs.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from chainsleuth.core.errors import InvalidInput
from chainsleuth.ingest.columns import gc_paused

Call = tuple[str, Sequence[Any]]


class RpcFailure(InvalidInput):
    code = "rpc_failure"


class NodeUnreachable(RpcFailure):
    code = "node_unreachable"


class CredentialsRefused(RpcFailure):
    code = "credentials_refused"


class MalformedResponse(RpcFailure):
    code = "malformed_response"


class RpcError(RpcFailure):
    """The node's JSON-RPC error for one call (``rpc_code``, ``rpc_message``, ``data``)."""

    code = "rpc_error"

    def __init__(self, method: str, rpc_code: int, rpc_message: str, data: Any = None) -> None:
        super().__init__(f"the node answered {method} with error {rpc_code}: {rpc_message}")
        self.method = method
        self.rpc_code = rpc_code
        self.rpc_message = rpc_message
        self.data = data


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str

    @classmethod
    def from_cookie_file(cls, path: Path) -> Credentials:
        """Bitcoin Core's ``.cookie``: one line ``__cookie__:<password>``."""
        try:
            text = Path(path).read_text().strip()
        except OSError as exc:
            raise InvalidInput(f"cannot read the RPC cookie file {path}: {exc.strerror}") from exc
        user, sep, password = text.partition(":")
        if not sep or not user or not password:
            raise InvalidInput(f"the RPC cookie file {path} is not of the form user:password")
        return cls(user, password)

    def header(self) -> str:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


_RETRY_STATUS = {429, 500, 502, 503, 504}
_ENCODER = msgspec.json.Encoder()


class _Retryable(Exception):
    pass


_DECODERS: dict[Any, tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]] = {}
_DECODERS_LOCK = threading.Lock()


def _decoders(result_type: Any) -> tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]:
    """Decoders of a batch of replies, and of one bare reply, whose results are typed."""
    found = _DECODERS.get(result_type)
    if found is None:
        # msgspec.Raw: each result's JSON bytes, undecoded (a Raw cannot be in a union: an
        # empty one stands for a reply without a result)
        result = (
            ("result", msgspec.Raw, msgspec.Raw())
            if result_type is msgspec.Raw
            else ("result", result_type | None | msgspec.UnsetType, msgspec.UNSET)
        )
        reply = msgspec.defstruct("Reply", [("id", Any, None), result, ("error", Any, None)])
        found = (msgspec.json.Decoder(list[reply]), msgspec.json.Decoder(reply))  # type: ignore[valid-type]
        with _DECODERS_LOCK:
            _DECODERS[result_type] = found
    return found


class RpcClient:
    """A JSON-RPC client for one node URL. Thread-safe; ``close()`` when done."""

    def __init__(
        self,
        url: str,
        *,
        credentials: Credentials | None = None,
        timeout_s: float = 30.0,
        retries: int = 4,
        backoff_s: float = 0.25,
        concurrency: int = 4,
        batch_size: int = 100,
        parse_float: Callable[[str], Any] | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"{url!r} is not an http:// or https:// node URL")
        if parts.username or parts.password:
            raise InvalidInput(
                "the node URL carries credentials: put them in the settings "
                "(CHAINSLEUTH_BTC_RPC_USER/PASSWORD, a cookie file) instead"
            )
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if credentials is not None:
            self._headers["Authorization"] = credentials.header()
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.concurrency = max(1, concurrency)
        self.batch_size = max(1, batch_size)
        self._parse_float = parse_float
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        self._conn_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._next_id = 0
        self._id_lock = threading.Lock()
        #: POSTs sent and calls made, for benchmarks and progress
        self.posts = 0
        self.calls = 0

    # --- public ------------------------------------------------------------------------------

    def call(self, method: str, *params: Any) -> Any:
        """One call; its result, or RpcError."""
        return self.batch([(method, list(params))])[0]

    def batch(
        self, calls: Sequence[Call], *, tolerate: bool = False, result_type: Any = None
    ) -> list[Any]:
        """The results of ``calls``, in order. With ``tolerate`` a failed call's place holds
        its ``RpcError`` instead of raising it (transport failures always raise). With
        ``result_type`` the results are decoded into that type (a ``msgspec.Struct``; None
        where the node answered null; ``msgspec.Raw``: each result's JSON bytes)."""
        if not calls:
            return []
        chunks = [
            list(calls[i : i + self.batch_size]) for i in range(0, len(calls), self.batch_size)
        ]
        if len(chunks) == 1 or self.concurrency == 1:
            parts = [self._post_batch(chunk, result_type) for chunk in chunks]
        else:
            parts = list(
                self._executor().map(lambda chunk: self._post_batch(chunk, result_type), chunks)
            )
        results = [r for part in parts for r in part]
        if not tolerate:
            for r in results:
                if isinstance(r, RpcError):
                    raise r
        return results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._conn_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ---------------------------------------------------------------------------

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="rpc")
        return self._pool

    def _ids(self, n: int) -> int:
        with self._id_lock:
            first = self._next_id
            self._next_id += n
            return first

    def _post_batch(self, chunk: list[Call], result_type: Any = None) -> list[Any]:
        first = self._ids(len(chunk))
        body = _ENCODER.encode(
            [
                {
                    "jsonrpc": "2.0",
                    "id": first + i,
                    "method": m,
                    "params": p if isinstance(p, list | tuple) else list(p),
                }
                for i, (m, p) in enumerate(chunk)
            ]
        )
        raw = self._post(body)
        out = (
            self._replies(raw, chunk, first)
            if result_type is None
            else self._typed_replies(raw, chunk, first, result_type)
        )
        with self._id_lock:
            self.posts += 1
            self.calls += len(chunk)
        return out

    def _replies(self, raw: bytes, chunk: list[Call], first: int) -> list[Any]:
        try:
            decoded = json.loads(raw, parse_float=self._parse_float)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedResponse(
                f"the node at {self.url} sent a malformed or truncated response "
                f"({len(raw)} bytes): {exc}"
            ) from exc
        if isinstance(decoded, dict) and len(chunk) == 1:
            decoded = [decoded]  # some nodes answer a one-call batch with a bare object
        if not isinstance(decoded, list):
            err = decoded.get("error") if isinstance(decoded, dict) else None
            if isinstance(err, dict):
                raise RpcError(chunk[0][0], int(err.get("code", 0)), str(err.get("message")))
            raise MalformedResponse(f"the node at {self.url} did not answer with a JSON-RPC batch")
        by_id: dict[int, Any] = {}
        for item in decoded:
            if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                raise MalformedResponse(f"the node at {self.url} sent a reply without an id")
            by_id[item["id"]] = item
        out: list[Any] = []
        for i, (method, _params) in enumerate(chunk):
            item = by_id.get(first + i)
            if item is None:
                raise MalformedResponse(
                    f"the node at {self.url} left call {method} unanswered (truncated response?)"
                )
            err = item.get("error")
            if err is not None:
                if not isinstance(err, dict):
                    raise MalformedResponse(f"the node at {self.url} sent a malformed error")
                out.append(
                    RpcError(
                        method, int(err.get("code", 0)), str(err.get("message")), err.get("data")
                    )
                )
            elif "result" not in item:
                raise MalformedResponse(f"the node's reply to {method} has no result")
            else:
                out.append(item["result"])
        return out

    def _typed_replies(
        self, raw: bytes, chunk: list[Call], first: int, result_type: Any
    ) -> list[Any]:
        many, one = _decoders(result_type)
        bare = raw.lstrip()[:1] == b"{"
        try:
            with gc_paused():
                replies = [one.decode(raw)] if bare else many.decode(raw)
        except msgspec.ValidationError as exc:
            raise MalformedResponse(
                f"the node at {self.url} sent a malformed response to {chunk[0][0]}: {exc}"
            ) from exc
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise MalformedResponse(
                f"the node at {self.url} sent a malformed or truncated response "
                f"({len(raw)} bytes): {exc}"
            ) from exc
        if bare and len(chunk) > 1:
            err = replies[0].error
            if isinstance(err, dict):
                raise RpcError(chunk[0][0], int(err.get("code", 0)), str(err.get("message")))
            raise MalformedResponse(f"the node at {self.url} did not answer with a JSON-RPC batch")
        fast = self._in_order(replies, first, len(chunk), result_type)
        if fast is not None:
            return fast
        by_id: dict[int, Any] = {}
        for item in replies:
            if not isinstance(item.id, int) or isinstance(item.id, bool):
                raise MalformedResponse(f"the node at {self.url} sent a reply without an id")
            by_id[item.id] = item
        out: list[Any] = []
        for i, (method, _params) in enumerate(chunk):
            item = by_id.get(first + i)
            if item is None:
                raise MalformedResponse(
                    f"the node at {self.url} left call {method} unanswered (truncated response?)"
                )
            err = item.error
            if err is not None:
                if not isinstance(err, dict):
                    raise MalformedResponse(f"the node at {self.url} sent a malformed error")
                out.append(
                    RpcError(
                        method, int(err.get("code", 0)), str(err.get("message")), err.get("data")
                    )
                )
            elif item.result is msgspec.UNSET or (
                isinstance(item.result, msgspec.Raw) and not len(item.result)
            ):
                raise MalformedResponse(f"the node's reply to {method} has no result")
            else:
                out.append(item.result)
        return out

    @staticmethod
    def _in_order(replies: list[Any], first: int, n: int, result_type: Any) -> list[Any] | None:
        """The results of a batch answered in order, with no error and every result there
        (the common case, checked a column at a time); None otherwise (the general path
        then matches ids and says what is wrong)."""
        ids = [r.id for r in replies]
        if ids != list(range(first, first + n)) or any(type(i) is bool for i in ids):
            return None
        if [r.error for r in replies].count(None) != n:
            return None
        results = [r.result for r in replies]
        if result_type is msgspec.Raw:
            if n and min(map(len, results)) == 0:
                return None
        elif any(r is msgspec.UNSET for r in results):
            return None
        return results

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._https:
                conn = http.client.HTTPSConnection(
                    self._host,
                    self._port,
                    timeout=self.timeout_s,
                    context=ssl.create_default_context(),
                )
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout_s)
            self._local.conn = conn
            with self._conn_lock:
                self._connections.append(conn)
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _post(self, body: bytes) -> bytes:
        delay = self.backoff_s
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(delay)
                delay *= 2
            try:
                return self._post_once(body)
            except _Retryable as exc:
                last = exc
                self._drop_connection()
        raise NodeUnreachable(
            f"cannot reach the node at {self.url} after {self.retries + 1} attempts: {last}"
        )

    def _post_once(self, body: bytes) -> bytes:
        conn = self._connection()
        try:
            conn.request("POST", self._path, body=body, headers=self._headers)
            resp = conn.getresponse()
            status = resp.status
            data = resp.read()
        except TimeoutError as exc:
            raise _Retryable(f"timed out after {self.timeout_s:g} s") from exc
        except http.client.IncompleteRead as exc:
            self._drop_connection()
            raise MalformedResponse(
                f"the node at {self.url} sent a truncated response ({len(exc.partial)} bytes)"
            ) from exc
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            # a kept-alive connection the server closed, or nobody listening
            raise _Retryable(str(exc) or type(exc).__name__) from exc
        if status in (401, 403):
            raise CredentialsRefused(
                f"the node at {self.url} refused the credentials (HTTP {status}): check the "
                "RPC user/password or cookie file in the settings"
            )
        if status == 200:
            return data
        if data.lstrip().startswith((b"{", b"[")) and status not in (429, 502, 503, 504):
            return data  # Bitcoin Core answers a failed call with HTTP 500/404 and JSON
        if status in _RETRY_STATUS:
            raise _Retryable(f"HTTP {status}")
        raise RpcFailure(f"the node at {self.url} answered HTTP {status}")

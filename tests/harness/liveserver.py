"""Serve an ASGI app on 127.0.0.1 from a background thread, for browser tests.

    with LiveServer(app) as server:
        page.goto(f"{server.url}/login")

The listening socket is bound before the server starts (port 0: the kernel picks a free
port), so there is no race for the port and ``url`` is known at once.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import uvicorn

HOST = "127.0.0.1"


class LiveServerError(RuntimeError):
    """The server did not start (or stop) in time."""


class LiveServer:
    """Run ``app`` with uvicorn in a daemon thread for the duration of a ``with`` block."""

    def __init__(
        self,
        app: Callable[..., Any],
        *,
        startup_timeout: float = 30.0,
        shutdown_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.port = 0

    @property
    def url(self) -> str:
        if self._server is None:
            raise LiveServerError("LiveServer is not running")
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._server is not None:
            raise LiveServerError("LiveServer already started")
        self._error = None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            host=HOST,
            port=self.port,
            log_level="warning",
            lifespan="on",
        )
        server = uvicorn.Server(config)
        self._server = server
        thread = threading.Thread(
            target=self._serve, args=(server, sock), name=f"liveserver-{self.port}", daemon=True
        )
        self._thread = thread
        thread.start()

        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not thread.is_alive():
                self.stop()
                reason = repr(self._error) if self._error is not None else "server thread exited"
                raise LiveServerError(f"uvicorn did not start: {reason}")
            if time.monotonic() > deadline:
                self.stop()
                raise LiveServerError(f"uvicorn did not start within {self.startup_timeout}s")
            time.sleep(0.01)

    def stop(self) -> None:
        server, thread, sock = self._server, self._thread, self._socket
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(self.shutdown_timeout)
            if thread.is_alive():
                raise LiveServerError(f"uvicorn did not stop within {self.shutdown_timeout}s")
        if sock is not None:
            sock.close()
        self._server = self._thread = self._socket = None

    def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit on a failed lifespan startup, among others
            self._error = exc

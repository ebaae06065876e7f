"""Fresh PostgreSQL databases cloned from a migrated template, made ahead of time.

Every database test gets a database of its own (``CREATE DATABASE ... TEMPLATE``), and the
server's work of cloning and dropping costs more than many of the tests themselves. A
background thread does it instead, while a test runs: it keeps ``ahead`` clones ready and
drops the ones handed back, so that a test waits only for what is not ready yet::

    clones = TemplateClones(server, "chainsleuth_template").start()
    name = clones.take()     # a fresh clone nobody has used
    ...
    clones.give_back(name)   # dropped in the background
    clones.stop()            # drops what is left

A clone is made only after the template is complete (``start`` is called once the template
is migrated), and nothing connects to the template, so every clone equals the template.
"""

from __future__ import annotations

import queue
import threading
import uuid

from .postgres import PostgresServer

_TAKE_TIMEOUT_S = 300.0


class TemplateClones:
    """Clones of ``template`` on ``server``, made and dropped by one background thread."""

    def __init__(self, server: PostgresServer, template: str, *, ahead: int = 2) -> None:
        self.server = server
        self.template = template
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._drops: queue.Queue[str] = queue.Queue()
        self._wanted = threading.Semaphore(ahead)  # clones the thread may make before a take
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._work, name="pg-clones", daemon=True)

    def start(self) -> TemplateClones:
        self._thread.start()
        return self

    def take(self) -> str:
        """The name of a fresh clone (waits for the thread if none is ready)."""
        item = self._ready.get(timeout=_TAKE_TIMEOUT_S)
        self._wanted.release()
        self._wake.set()
        if isinstance(item, BaseException):
            raise item
        return item

    def give_back(self, name: str) -> None:
        """Drop ``name`` (in the background: its sessions are ended first)."""
        self._drops.put(name)
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread; drop the clones nobody took and the ones handed back."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        while True:
            try:
                item = self._ready.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, str):
                self._drops.put(item)
        self._drain_drops()
        if self._errors:
            raise self._errors[0]

    # -- the thread ------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            self._drain_drops()
            if self._wanted.acquire(blocking=False):
                name = "t_" + uuid.uuid4().hex[:16]
                try:
                    self.server.create_database(name, template=self.template)
                except BaseException as exc:  # handed to the test that takes it
                    self._ready.put(exc)
                else:
                    self._ready.put(name)
                continue
            self._wake.wait(timeout=1.0)

    def _drain_drops(self) -> None:
        while True:
            try:
                name = self._drops.get_nowait()
            except queue.Empty:
                return
            try:
                self.server.drop_database(name)
            except Exception as exc:  # reported by stop(); the thread carries on
                self._errors.append(exc)

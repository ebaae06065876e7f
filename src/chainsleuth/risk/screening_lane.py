"""The fast lane of ``POST /api/v1/screenings``: the KYT hot path, answered in one step.

A screening is asked for every deposit and withdrawal, hundreds a second. Through
FastAPI it passes the route table (hundreds of routes matched in order), a dozen
dependencies (each sync one a hop to the thread pool) and the middleware: several
milliseconds of CPU before any screening work. This ASGI middleware answers the common
case directly:

* ``POST /api/v1/screenings`` with ``Authorization: Bearer <token>``, a JSON body of a
  declared length and no cookie (a browser's request takes the full path, with its CSRF
  check);
* the same steps, in the same order, as the route: the API rate limit, the token
  (``tokens.check``: ``authenticate``'s rules in one query, which also reads the
  screening stored under the idempotency key, the labels' version and the active
  policy's head), the permission, the body (``ScreeningCreate``), the screening
  (``screening.screen``: one transaction with its alert and audit event) and the answer
  (``ScreeningRead``), in one trip to the thread pool.

Anything else, and **every refusal** (a bad token, a missing permission, a malformed
body, a screening the service refuses, the store busy), goes to the full FastAPI path with
the body replayed: the refusal is made, audited and worded there, exactly as before.
Nothing is written by a refused attempt (the screening's transaction is rolled back), so
the full path sees the database as it was. ``CHAINSLEUTH_SCREENING_LANE=0`` turns the
lane off (the same answers come from the route).
"""

from __future__ import annotations

import os
from typing import Any

import anyio
import anyio.to_thread
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chainsleuth.audit.enums import Channel
from chainsleuth.audit.service import Actor
from chainsleuth.auth import tokens as token_service
from chainsleuth.auth.enums import Permission
from chainsleuth.core.errors import ChainsleuthError, ConfigurationError
from chainsleuth.labels import service as label_service
from chainsleuth.risk import policy_store
from chainsleuth.risk import screening as screening_service
from chainsleuth.risk.screening_schemas import ScreeningCreate, ScreeningRead

PATH = "/api/v1/screenings"
#: the Idempotency-Key header's longest accepted value (the route's Header(max_length))
MAX_KEY = 128
#: the response header that says the lane answered (operators and tests can tell the paths apart)
LANE_HEADER = b"x-screening-path"


def enabled() -> bool:
    return os.environ.get("CHAINSLEUTH_SCREENING_LANE", "1").strip() not in ("0", "false", "no")


#: screenings one server process works on at once (``CHAINSLEUTH_SCREENING_THREADS``); the
#: others wait in the event loop. A screening is mostly Python (the GIL) with a few round
#: trips to the database and a trace that releases the GIL: two threads keep a core busy,
#: and more only trade the GIL back and forth, which costs CPU and the latency tail (10M
#: world, 200 screenings/s on 2 cores, 2 processes: p99 42 ms with 2 threads, 72 ms with 4;
#: the thread pool's default of 40 is far worse). A database farther away than loopback may
#: want more.
DEFAULT_THREADS = 2


def threads_setting() -> int:
    raw = os.environ.get("CHAINSLEUTH_SCREENING_THREADS", "").strip()
    if not raw:
        return DEFAULT_THREADS
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(
            f"CHAINSLEUTH_SCREENING_THREADS must be a positive whole number, not {raw!r}"
        )
    return int(raw)


class ScreeningLane:
    """ASGI middleware: see the module's docstring."""

    def __init__(self, app: ASGIApp, threads: int = DEFAULT_THREADS) -> None:
        self.app = app
        self.on = enabled()
        self.threads = threads
        self._limiter: anyio.CapacityLimiter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            not self.on
            or scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != PATH
        ):
            await self.app(scope, receive, send)
            return
        wanted = _wanted(scope["headers"])
        if wanted is None:
            await self.app(scope, receive, send)
            return
        token, key = wanted
        body, messages = await _read(receive)
        answer = None
        if body is not None:
            client = scope.get("client")
            ip = client[0] if client else None
            if self._limiter is None:  # made in the event loop that uses it
                self._limiter = anyio.CapacityLimiter(self.threads)
            answer = await anyio.to_thread.run_sync(
                _screen, scope["app"], token, key, body, ip, limiter=self._limiter
            )
        if answer is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        status, content = answer
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                    (LANE_HEADER, b"lane"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


def _wanted(headers: list[tuple[bytes, bytes]]) -> tuple[str, str | None] | None:
    """(the bearer token, the idempotency key) of a request the lane takes, else None."""
    token = key = None
    json_body = sized = False
    for name, value in headers:
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not rest.strip() or token is not None:
                return None
            token = rest.strip()
        elif name == b"cookie":
            return None
        elif name == b"content-type":
            media = value.decode("latin-1").split(";", 1)[0].strip().lower()
            json_body = media == "application/json"
        elif name == b"content-length":
            sized = True
        elif name == b"idempotency-key":
            if key is not None:
                return None
            key = value.decode("latin-1")
            if len(key) > MAX_KEY:
                return None
    # a streamed body (no Content-Length) is left to the route, where the body limit's
    # refusal (raised while the body is read) becomes its 413
    if token is None or not json_body or not sized:
        return None
    return token, key


async def _read(receive: Receive) -> tuple[bytes | None, list[Message]]:
    """The whole body (None when the client went away) and the messages it came in."""
    messages: list[Message] = []
    parts: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, messages
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts), messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def again() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return again


_HEADS = token_service.check_statement(
    screening_service.key_column(), label_service.version_column(), *policy_store.head_columns()
)


def _screen(
    app: Any, token: str, key: str | None, body: bytes, ip: str | None
) -> tuple[int, bytes] | None:
    """The answer (status, JSON), or None for the full path to answer instead."""
    from chainsleuth.risk.screening_views import make_scorer

    state = app.state
    limits = state.rate_limits
    try:
        limits.hit(limits.api, "api", ip or "unknown")
        data = ScreeningCreate.model_validate_json(body)
        key = screening_service.effective_key(data, key)
    except (ChainsleuthError, ValidationError):
        return None
    with state.db.session() as session:
        try:
            # the token, the idempotency key's screening, the labels' version and the
            # active policy: one round trip
            bearer = token_service.check(
                session, token=token, statement=_HEADS,
                params={screening_service.KEY_PARAM: key},
            )  # fmt: skip
            if bearer is None or Permission.SCREENINGS_CREATE not in bearer.permissions:
                session.rollback()
                return None
            stored_id, labels_version, *policy_head = bearer.extra
            stored = screening_service.Stored(None if stored_id is None else int(stored_id))
            label_service.remember_version(session, labels_version)
            policy = policy_store.active(session, head=policy_head)
            actor = Actor(user_id=bearer.id, name=bearer.username, channel=Channel.API, ip=ip)
            with state.chain_store.reader() as reader:
                scorer = make_scorer(state, state.settings, session, reader, bearer, policy)
                found, created = screening_service.screen(
                    session, scorer=scorer, actor=actor, data=data, key=key, stored=stored
                )
                content = ScreeningRead.model_validate(found).model_dump_json().encode()
        except ChainsleuthError:
            session.rollback()
            return None
    return (201 if created else 200), content

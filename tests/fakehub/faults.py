"""Faults a test programs into the fake: GitHub failing, limiting, stalling, hanging up.

Each fault answers the next `times` calls matching a method and a glob on the
path, the way GitHub answers when it fails: its status, headers and JSON body.
With `applied`, the call takes effect first and only its answer is lost, as
when GitHub creates a pull request and a proxy then answers 502.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Send

from fakehub.calls import DOCS

RATE_DOCS = (
    "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
)
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before "
    "you try again. If you reach out to GitHub Support for help, please include "
    "the request ID {request_id}."
)
PRIMARY_MESSAGE = "API rate limit exceeded for installation ID {installation}."
SERVER_MESSAGES = {
    500: "Server Error",
    502: (
        "We couldn't respond to your request in time. Sorry about that. Please "
        "try resubmitting your request and contact us if the problem persists."
    ),
    503: "Service Unavailable",
}
HOURLY_LIMIT = 5000
# A stall gives up on its own after this long: a client without a timeout
# would otherwise hang the test, and is reported as a violation instead.
LONGEST_STALL_SECONDS = 20.0


class Kind(StrEnum):
    """What the client gets: an error answer, nothing for a while, or a cut."""

    ANSWER = "answer"
    STALL = "stall"
    DROP = "drop"


@dataclass
class Fault:
    """One programmed fault, matched by method and a glob on the path."""

    method: str
    path: str
    kind: Kind
    times: int = 1
    status: int = 0
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    applied: bool = False
    # A stall ends when the client hangs up, when this is set, or at its limit.
    released: threading.Event = field(default_factory=threading.Event)
    seconds: float = LONGEST_STALL_SECONDS
    taken: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.method == method and fnmatch.fnmatch(path, self.path)

    @property
    def label(self) -> str:
        shown = f"{self.status}" if self.kind is Kind.ANSWER else str(self.kind)
        return f"{shown} after applying" if self.applied else shown

    def body(self) -> dict[str, Any]:
        docs = RATE_DOCS if self.status in (403, 429) else DOCS
        return {"message": self.message, "documentation_url": docs}


@dataclass
class Faults:
    """The faults waiting for their calls; the server takes one per call."""

    pending: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def server_error(
        self, method: str, path: str, status: int = 502, **options: Any
    ) -> Fault:
        """500, 502 or 503 with GitHub's message for it."""
        message = SERVER_MESSAGES.get(status, "Server Error")
        return self.answer(method, path, status, message, **options)

    def secondary_rate_limit(
        self, method: str, path: str, retry_after: int = 60, **options: Any
    ) -> Fault:
        """403 with `retry-after`, as for too many requests or too much content
        created at once; the hourly budget is not spent."""
        headers = _rate_headers(remaining=HOURLY_LIMIT - 1)
        headers["retry-after"] = str(retry_after)
        message = SECONDARY_MESSAGE.format(request_id=headers["x-github-request-id"])
        return self.answer(method, path, 403, message, headers=headers, **options)

    def too_many_requests(
        self, method: str, path: str, retry_after: int = 60, **options: Any
    ) -> Fault:
        """429 with `retry-after`, GitHub's other answer to a secondary limit."""
        headers = _rate_headers(remaining=HOURLY_LIMIT - 1)
        headers["retry-after"] = str(retry_after)
        message = SECONDARY_MESSAGE.format(request_id=headers["x-github-request-id"])
        return self.answer(method, path, 429, message, headers=headers, **options)

    def primary_rate_limit(
        self, method: str, path: str, reset_in: int = 60, **options: Any
    ) -> Fault:
        """403 with the hour's budget spent until `x-ratelimit-reset`."""
        headers = _rate_headers(remaining=0, reset_in=reset_in)
        message = PRIMARY_MESSAGE.format(installation=secrets.randbelow(10**8))
        return self.answer(method, path, 403, message, headers=headers, **options)

    def answer(
        self,
        method: str,
        path: str,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> Fault:
        """Any error answer: `status`, GitHub's JSON body with `message`."""
        chosen = _rate_headers() | (headers or {})
        fault = Fault(method.upper(), path, Kind.ANSWER, status=status, **options)
        fault.message, fault.headers = message, chosen
        return self._add(fault)

    def stall(self, method: str, path: str, **options: Any) -> Fault:
        """No answer until the client hangs up (or `released` is set)."""
        return self._add(Fault(method.upper(), path, Kind.STALL, **options))

    def drop(self, method: str, path: str, **options: Any) -> Fault:
        """The headers of an answer, then the connection closed mid-body."""
        return self._add(Fault(method.upper(), path, Kind.DROP, **options))

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this call, if one is waiting; it counts one use."""
        with self._lock:
            for fault in self.pending:
                if fault.matches(method, path):
                    fault.taken += 1
                    if fault.taken == fault.times:
                        self.pending.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            for fault in self.pending:
                fault.released.set()
            self.pending.clear()

    def _add(self, fault: Fault) -> Fault:
        with self._lock:
            self.pending.append(fault)
        return fault


async def meet(
    fault: Fault, server: Any, request: Request, raw: bytes, send: Send
) -> None:
    """Answer a call of `server`'s (a FakeGitHub) as `fault` says; log it once."""
    method, path = request.method, request.url.path
    real = server.answer(request, raw, log=False) if fault.applied else None
    if fault.kind is Kind.ANSWER:
        server.check_error(method, path, fault.status, fault.body())
        status, body, headers = fault.status, fault.body(), fault.headers
    else:
        status, body, headers = real or server.answer(request, raw, log=False)
    if fault.kind is Kind.STALL:
        hung_up, waited = await stall(fault, request.receive)
        if hung_up:
            status = 0
        elif not fault.released.is_set():
            server.violations.append(
                f"{method} {path} stalled {waited:.0f} s and the client "
                "still waited: it has no timeout"
            )
    server.record(method, path, status, raw, fault.label)
    if status == 0:
        return
    data = b"" if body is None else json.dumps(body).encode()
    response = Response(data, status, headers, "application/json; charset=utf-8")
    if fault.kind is Kind.DROP:
        # The headers go out, then the connection closes before the body.
        start = {"type": "http.response.start", "status": status}
        await send({**start, "headers": response.raw_headers})
        return
    await response(request.scope, request.receive, send)


async def stall(fault: Fault, receive: Any) -> tuple[bool, float]:
    """Wait as the fault says; whether the client hung up, and after how long."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    hung_up = asyncio.ensure_future(_disconnect(receive))
    try:
        while not hung_up.done():
            waited = loop.time() - started
            if fault.released.is_set() or waited > fault.seconds:
                return False, waited
            await asyncio.sleep(0.01)
        return True, loop.time() - started
    finally:
        hung_up.cancel()


async def _disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _rate_headers(
    remaining: int = HOURLY_LIMIT - 1, reset_in: int = 3600
) -> dict[str, str]:
    """The headers GitHub puts on every REST answer, errors included."""
    return {
        "x-github-request-id": secrets.token_hex(4).upper()
        + ":"
        + secrets.token_hex(6).upper(),
        "x-github-media-type": "github.v3; format=json",
        "x-ratelimit-limit": str(HOURLY_LIMIT),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-used": str(HOURLY_LIMIT - remaining),
        "x-ratelimit-reset": str(int(time.time()) + reset_in),
        "x-ratelimit-resource": "core",
    }

"""The web app: GitHub's deliveries verified, routed and queued; health checks."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.metrics import CONTENT_TYPE, Metrics
from bot.queue import Handlers, JobQueue, flow_handlers, open_queue
from bot.request import Request
from bot.settings import Settings
from bot.store import Store, open_store
from bot.webhooks import (
    KNOWN_EVENTS,
    Delivery,
    Ignored,
    InstallationChange,
    MalformedPayload,
    route,
    signature_is_valid,
)

logger = logging.getLogger(__name__)

# GitHub caps a delivery's payload at 25 MB and drops larger ones itself.
MAX_BODY_BYTES = 25 * 1024 * 1024
# Deliveries counted in memory reach the shared store this often, and at a scrape.
FLUSH_SECONDS = 5.0


class _BodyTooLarge(Exception):
    pass


@dataclass(frozen=True)
class _Answer:
    status: int
    outcome: str
    reason: str = ""
    # The kind of rejection, for the metrics: a label, unlike `reason`.
    kind: str = ""


def create_app(
    settings: Settings, *, workers: int = 0, handlers: Handlers | None = None
) -> Starlette:
    """The app; with `workers`, that many job threads run inside it."""
    store = open_store(settings)
    metrics = Metrics(store)
    handlers = handlers or flow_handlers(settings, metrics)
    queue = open_queue(settings, handlers, metrics=metrics)
    webhook = _WebhookEndpoint(settings, store, queue, metrics)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        consumer = queue.start_in_process(workers) if workers else None
        flusher = asyncio.create_task(_flush_every(metrics, FLUSH_SECONDS))
        try:
            yield
        finally:
            flusher.cancel()
            with suppress(asyncio.CancelledError):
                await flusher
            if consumer is not None:
                await run_in_threadpool(consumer.shut_down)
            await run_in_threadpool(_flush, metrics)
            store.close()
            queue.close()

    async def ready(request: HttpRequest) -> Response:
        try:
            await run_in_threadpool(queue.check)
            await run_in_threadpool(store.check)
        except Exception as error:
            logger.warning("not ready", exc_info=True)
            reason = f"queue unreachable: {type(error).__name__}"
            return PlainTextResponse(reason, status_code=503)
        return PlainTextResponse("ready")

    return Starlette(
        routes=[
            Route("/webhook", webhook.receive, methods=["POST"]),
            Route("/healthz", _healthy, methods=["GET"]),
            Route("/readyz", ready, methods=["GET"]),
            Route("/metrics", _MetricsPage(metrics).show, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


async def _healthy(request: HttpRequest) -> Response:
    return PlainTextResponse("ok")


class _MetricsPage:
    """GET /metrics: what every process on the queue did, for Prometheus."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def show(self, request: HttpRequest) -> Response:
        try:
            text = await run_in_threadpool(self.metrics.exposition)
        except Exception as error:
            logger.warning("metrics unavailable", exc_info=True)
            reason = f"metrics store unreachable: {type(error).__name__}"
            return PlainTextResponse(reason, status_code=503)
        return Response(text, media_type=CONTENT_TYPE)


async def _flush_every(metrics: Metrics, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        await run_in_threadpool(_flush, metrics)


def _flush(metrics: Metrics) -> None:
    try:
        metrics.flush()
    except Exception:
        logger.warning("metrics not stored; kept for the next try", exc_info=True)


class _WebhookEndpoint:
    """POST /webhook: answer within GitHub's 10 s, having queued what it asks."""

    def __init__(
        self, settings: Settings, store: Store, queue: JobQueue, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.store = store
        self.queue = queue
        self.metrics = metrics

    async def receive(self, request: HttpRequest) -> Response:
        headers = request.headers
        context: dict[str, object] = {
            "delivery": headers.get("x-github-delivery", ""),
            "event": headers.get("x-github-event", ""),
        }
        logger.debug("delivery received", extra=context)
        try:
            answer = await self._answer(request, context)
        except Exception:
            logger.exception("webhook failed", extra=context)
            answer = _Answer(500, "error", "could not queue it; redeliver it later")
        self._count(str(context["event"]), answer)
        level = logging.WARNING if answer.status >= 400 else logging.INFO
        logger.log(
            level,
            "webhook answered",
            extra={**context, "status": answer.status, "outcome": answer.outcome}
            | ({"reason": answer.reason} if answer.reason else {}),
        )
        body = {"outcome": answer.outcome, "reason": answer.reason}
        return JSONResponse(body, status_code=answer.status)

    def _count(self, event: str, answer: _Answer) -> None:
        # The event header is not signed: any other value counts as one label.
        label = event if event in KNOWN_EVENTS else "other"
        self.metrics.delivery(label, answer.outcome.replace(" ", "_"), answer.kind)

    async def _answer(
        self, request: HttpRequest, context: dict[str, object]
    ) -> _Answer:
        try:
            body = await _read_body(request)
        except _BodyTooLarge:
            too_large = f"larger than {MAX_BODY_BYTES} bytes"
            return _Answer(413, "rejected", too_large, "too_large")
        signature = request.headers.get("x-hub-signature-256")
        if not signature_is_valid(self.settings.webhook_secret, body, signature):
            unsigned = "missing or wrong X-Hub-Signature-256"
            return _Answer(401, "rejected", unsigned, "bad_signature")
        problem = _header_problem(request, context)
        if problem:
            return _Answer(400, "rejected", problem, "bad_headers")
        try:
            payload = json.loads(body)
        # ValueError covers bad JSON, bad UTF-8 and integers too long to read;
        # RecursionError, arrays nested past Python's stack.
        except (ValueError, RecursionError):
            return _Answer(400, "rejected", "the body is not JSON", "not_json")
        if not isinstance(payload, dict):
            return _Answer(400, "rejected", "the body is not a JSON object", "not_json")
        delivery = Delivery(str(context["delivery"]), str(context["event"]), payload)
        context.update(repo=delivery.repository, installation=delivery.installation)
        try:
            outcome = route(delivery, self.settings.bot_login)
        except MalformedPayload as error:
            return _Answer(400, "rejected", str(error), "malformed_payload")
        if isinstance(outcome, Ignored):
            return _Answer(200, "ignored", outcome.reason)
        return await run_in_threadpool(self._record, delivery, outcome)

    def _record(
        self, delivery: Delivery, outcome: Request | InstallationChange
    ) -> _Answer:
        """Queue the request or store the change, once per delivery or comment."""
        claim = _claim(delivery, outcome)
        if not self.store.claim_delivery(claim):
            return _Answer(200, "duplicate", "this delivery was handled before")
        try:
            if isinstance(outcome, Request):
                self.queue.enqueue(outcome)
                return _Answer(202, "queued")
            self.store.apply(outcome)
        except Exception:
            # Unclaim it, so that a redelivery gets another chance.
            self.store.release_delivery(claim)
            raise
        return _Answer(200, "installation updated")


def _claim(delivery: Delivery, outcome: Request | InstallationChange) -> str:
    """What makes a delivery a repeat: its comment for a command, else its id.

    The signature covers the body but not the headers, so a signed comment
    replayed under a new delivery id must not run the job again; GitHub sends
    one `created` per comment, and a redelivery keeps both. A label has no id
    of its own to claim: a labeled body replayed under a new id runs again.
    """
    if isinstance(outcome, Request) and outcome.comment_id is not None:
        return f"comment {outcome.comment_id}"
    return delivery.id


def _header_problem(request: HttpRequest, context: dict[str, object]) -> str | None:
    if not context["delivery"] or not context["event"]:
        return "missing X-GitHub-Delivery or X-GitHub-Event"
    media_type = request.headers.get("content-type", "").partition(";")[0]
    if media_type.strip().lower() != "application/json":
        return "the webhook's content type must be application/json"
    return None


async def _read_body(request: HttpRequest) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)

"""Registration mode: create the GitHub App from app.yml by GitHub's manifest flow."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from githubkit import GitHub
from githubkit.exception import RequestError, RequestFailed
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot import registration_pages as pages
from bot.credentials import Credentials, store_credentials
from bot.manifest import filled_manifest
from bot.settings import RegistrationSettings

logger = logging.getLogger(__name__)

STATE_COOKIE = "wandb_inject_registration"
# GitHub's code lives an hour; a state older than that has nothing to meet.
STATE_SECONDS = 3600.0
# Each page view issues one; a reloading crowd must not grow memory for ever.
MAX_STATES = 64
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
# The code goes into the API's path: nothing but what GitHub's codes hold.
_CODE = re.compile(r"[A-Za-z0-9_-]{1,128}")

# The paths the registration app keeps once the registered app runs.
REGISTRATION_PATHS = ("/", "/register", "/register/callback")
# Called with the new credentials once stored; True when the app now runs.
Registered = Callable[[Credentials], Awaitable[bool]]


class States:
    """The `state` values the page handed out: each good once, for an hour."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._issued: dict[str, float] = {}

    def issue(self) -> str:
        state = secrets.token_urlsafe(32)
        if len(self._issued) >= MAX_STATES:
            del self._issued[next(iter(self._issued))]
        self._issued[state] = self._clock() + STATE_SECONDS
        return state

    def take(self, state: str) -> bool:
        expires = self._issued.pop(state, None)
        return expires is not None and self._clock() < expires


class _Refused(Exception):
    def __init__(self, status: int, title: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.title, self.reason = status, title, reason


def create_registration_app(
    setup: RegistrationSettings, registered: Registered, states: States | None = None
) -> Starlette:
    """The page, its callback, and answers saying the app is not registered yet."""
    flow = _Flow(setup, registered, states or States())
    return Starlette(
        routes=[
            Route("/", flow.start, methods=["GET"]),
            Route("/register", flow.start, methods=["GET"]),
            Route("/register/callback", flow.callback, methods=["GET"]),
            Route("/webhook", _unregistered_webhook, methods=["POST"]),
            Route("/healthz", _healthy, methods=["GET"]),
            Route("/readyz", _not_ready, methods=["GET"]),
        ]
    )


class _Flow:
    def __init__(
        self, setup: RegistrationSettings, registered: Registered, states: States
    ) -> None:
        self.setup = setup
        self.registered = registered
        self.states = states
        # One exchange at a time: a second callback must see the first's result.
        self.lock = asyncio.Lock()
        self.done: Credentials | None = None
        self.running = False

    async def start(self, request: Request) -> Response:
        org = request.query_params.get("org", "").strip() or None
        if org is not None and not _LOGIN.fullmatch(org):
            reason = f"{org!r} is not an organization name on GitHub"
            return pages.problem_page("Not an organization", reason, 400)
        if self.done is not None:
            return self._finished_page(self.done, self.running)
        public_url = self.setup.public_url or str(request.base_url).rstrip("/")
        manifest = filled_manifest(public_url)
        state = self.states.issue()
        web = self.setup.github_url
        where = f"/organizations/{org}" if org else ""
        action = f"{web}{where}/settings/apps/new?{urlencode({'state': state})}"
        body = pages.start_page(action, manifest, org)
        response = pages.page("Register the GitHub App", body, github=web)
        response.set_cookie(
            STATE_COOKIE,
            state,
            max_age=int(STATE_SECONDS),
            path="/register",
            secure=public_url.startswith("https://"),
            httponly=True,
            samesite="lax",
        )
        return response

    async def callback(self, request: Request) -> Response:
        try:
            credentials, running = await self._complete(request)
        except _Refused as refused:
            logger.warning("registration refused", extra={"reason": refused.reason})
            return pages.problem_page(refused.title, refused.reason, refused.status)
        return self._finished_page(credentials, running)

    async def _complete(self, request: Request) -> tuple[Credentials, bool]:
        code = self._checked_code(request)
        async with self.lock:
            if self.done is not None:
                raise _Refused(409, "Already registered", "this server has its app")
            credentials = await _exchange(self.setup.github_api_url, code)
            path = self._store(credentials)
            self.done = credentials
            logger.info(
                "app registered",
                extra={"app": credentials.slug, "path": path},
            )
            self.running = await self.registered(credentials)
        return credentials, self.running

    def _store(self, credentials: Credentials) -> str:
        try:
            return str(store_credentials(self.setup.data_dir, credentials))
        except OSError as error:
            # The code is spent: this app's key exists nowhere else now.
            raise _Refused(
                500,
                "Could not store the credentials",
                f"writing to {self.setup.data_dir} failed ({error.strerror}). Delete "
                f"the app {credentials.slug} in GitHub's settings, fix the folder, "
                "and start again.",
            ) from None

    def _checked_code(self, request: Request) -> str:
        query = request.query_params
        state = query.get("state", "")
        cookie = request.cookies.get(STATE_COOKIE, "")
        if not state or not hmac.compare_digest(state.encode(), cookie.encode()):
            raise _Refused(
                400,
                "Registration not started here",
                "the state GitHub sent back does not match this browser's",
            )
        if not self.states.take(state):
            raise _Refused(
                400, "Registration expired", "this registration was used or expired"
            )
        code = query.get("code", "")
        if not _CODE.fullmatch(code):
            raise _Refused(400, "No code from GitHub", "GitHub sent back no code")
        return code

    def _finished_page(self, credentials: Credentials, running: bool) -> Response:
        install = f"{credentials.html_url}/installations/new"
        body = pages.done_page(credentials.slug, credentials.app_id, install, running)
        return pages.page("The GitHub App is registered", body)


async def _exchange(api_url: str, code: str) -> Credentials:
    """The app GitHub created for `code`; the code works once, within the hour."""
    github = GitHub(base_url=api_url, auto_retry=False)
    try:
        response = await github.rest.apps.async_create_from_manifest(code)
    except RequestFailed as failed:
        status = failed.response.status_code
        logger.warning("manifest code refused", extra={"status": status})
        raise _Refused(
            400,
            "GitHub refused the code",
            f"GitHub answered {status}: the code was used already or is over an "
            "hour old",
        ) from None
    except RequestError as error:
        raise _Refused(
            502, "GitHub unreachable", f"could not reach GitHub: {type(error).__name__}"
        ) from None
    app = response.parsed_data
    if not app.webhook_secret:
        raise _Refused(502, "No webhook secret", "GitHub gave the app no secret")
    slug = app.slug or ""
    return Credentials(app.id, slug, app.pem, app.webhook_secret, app.html_url)


async def _unregistered_webhook(request: Request) -> Response:
    reason = "the app is not registered yet: open this server's /register page"
    return JSONResponse({"outcome": "rejected", "reason": reason}, status_code=503)


async def _healthy(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _not_ready(request: Request) -> Response:
    return PlainTextResponse("not registered: open /register", status_code=503)

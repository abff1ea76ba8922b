"""The fake GitHub REST server: routes, auth, fault injection, every call checked."""

from __future__ import annotations

import fnmatch
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from fakehub import apps, faults, issues, objects, pulls, repos, schema, users
from fakehub.calls import Context, Handler, Refusal, not_found
from fakehub.state import App, World

ROUTE_TABLES = (
    apps.ROUTES,
    issues.ROUTES,
    objects.ROUTES,
    pulls.ROUTES,
    repos.ROUTES,
    users.ROUTES,
)
# Path arguments that may hold slashes, as GitHub's own router allows.
SLASHED = {"path", "ref"}
# Calls an installation's token may make in an hour, as GitHub allows.
RATE_LIMIT = 5000


@dataclass(frozen=True)
class Logged:
    """One request the server answered, for assertions such as 'one PR created'."""

    method: str
    path: str
    status: int
    body: Any = None
    # The programmed fault the call met, as Fault.label says it; 0 status for
    # a stall or a cut connection, which send no status.
    fault: str = ""


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    matcher: re.Pattern[str]
    handler: Handler


@dataclass
class FakeGitHub:
    """An ASGI app answering as GitHub would, from `world`.

    Every request and response is checked against GitHub's REST description;
    whatever fails lands in `violations`, which the fixture turns into a failure.
    """

    world: World
    url: str = ""
    requests: list[Logged] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    faults: faults.Faults = field(default_factory=faults.Faults)
    routes: list[Route] = field(default_factory=lambda: list(_routes()))
    # Calls made with each installation's tokens, against RATE_LIMIT.
    spent: Counter[int] = field(default_factory=Counter)

    def reset(self, world: World) -> None:
        """Start a new test: a fresh world, no log, violations or pending faults."""
        self.world = world
        self.requests.clear()
        self.violations.clear()
        self.faults.clear()
        self.spent.clear()

    def rate_limit_remaining(self, installation_id: int) -> int:
        return RATE_LIMIT - self.spent[installation_id]

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        status: int = 502,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` matching calls with `status` (glob on the path);
        `faults` has the other kinds of failure."""
        chosen = {"retry-after": "1"} if headers is None else headers
        message = faults.SERVER_MESSAGES.get(status, "Forbidden")
        self.faults.answer(
            method, path_pattern, status, message, headers=chosen, times=times
        )

    def called(self, method: str, path_pattern: str) -> list[Logged]:
        """The logged requests matching `method` and a glob on the path."""
        return [
            each
            for each in self.requests
            if each.method == method.upper()
            and fnmatch.fnmatch(each.path, path_pattern)
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        raw = await request.body()
        fault = self.faults.take(request.method, request.url.path)
        if fault is not None:
            await faults.meet(fault, self, request, raw, send)
            return
        status, body, headers = self.answer(request, raw)
        await json_response(status, body, headers)(scope, receive, send)

    def record(
        self, method: str, path: str, status: int, raw: bytes, fault: str
    ) -> None:
        """Log a call that met a fault, as `fault` labels it."""
        self.requests.append(Logged(method, path, status, _json(raw), fault))

    def check_error(self, method: str, path: str, status: int, body: Any) -> None:
        """Check an error answer to a routed call, if the description has it."""
        found = self._route(method, path)
        if found is None:
            return
        route, arguments = found
        call = schema.Call(
            method.lower(),
            path,
            route.pattern,
            None,
            "application/json",
            arguments,
            [],
            {},
        )
        self._check_refusal(call, status, body)

    def answer(
        self, request: Request, raw: bytes, *, log: bool = True
    ) -> tuple[int, Any, dict[str, str]]:
        method, path = request.method, request.url.path
        parsed = _json(raw)
        found = self._route(method, path)
        if found is None:
            self.violations.append(f"not implemented here: {method} {path}")
            if not log:
                return 404, not_found().body(), {}
            return self._log(method, path, parsed, 404, not_found().body(), {})
        route, arguments = found
        call = schema.Call(
            method.lower(),
            path,
            route.pattern,
            raw or None,
            request.headers.get("content-type", "application/json"),
            arguments,
            list(request.query_params.multi_items()),
            dict(request.headers),
        )
        context = Context(
            self.world,
            arguments,
            dict(request.query_params),
            parsed,
            url=f"{self.url}{path}",
        )
        status, body, headers = self._run(route, call, context, request)
        if context.token is not None:
            limit = self._rate_limit(context.token.installation.id)
            headers = {**headers, **limit}
        if not log:
            return status, body, headers
        return self._log(method, path, parsed, status, body, headers)

    def _rate_limit(self, installation_id: int) -> dict[str, str]:
        """The headers GitHub sends with each answer to an installation's token."""
        self.spent[installation_id] += 1
        used = self.spent[installation_id]
        return {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(RATE_LIMIT - used),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-resource": "core",
        }

    def _run(
        self, route: Route, call: schema.Call, context: Context, request: Request
    ) -> tuple[int, Any, dict[str, str]]:
        try:
            self._authenticate(route, context, request.headers.get("authorization", ""))
            problems = schema.request_errors(call)
            if problems:
                self.violations.append(f"{call.method.upper()} {call.path}: {problems}")
                # GitHub says what is wrong in the message; `errors` holds objects.
                raise Refusal(422, "Invalid request.\n\n" + "\n".join(problems))
            reply = route.handler(context)
        except Refusal as refusal:
            body = refusal.body()
            self._check_refusal(call, refusal.status, body)
            return refusal.status, body, refusal.headers
        shaped = schema.shape(
            schema.response_schema(route.method, route.pattern, reply.status),
            reply.body,
        )
        self._check(call, reply.status, shaped, reply.headers)
        return reply.status, shaped, reply.headers

    def _check_refusal(self, call: schema.Call, status: int, body: Any) -> None:
        # The description omits many error statuses GitHub does send (401, most
        # 404s); an error it documents must still have the documented shape.
        operation = schema.description()["paths"][call.path_pattern][call.method]
        if str(status) in operation["responses"]:
            self._check(call, status, body, {})

    def _check(
        self, call: schema.Call, status: int, body: Any, headers: dict[str, str]
    ) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        answer = schema.Answer(status, data, headers)
        problems = schema.response_errors(call, answer)
        if problems:
            self.violations.append(
                f"response to {call.method.upper()} {call.path} ({status}): {problems}"
            )

    def _authenticate(self, route: Route, context: Context, header: str) -> None:
        if route.pattern in apps.UNAUTHENTICATED:
            return
        scheme, _, credential = header.partition(" ")
        if scheme.lower() not in ("bearer", "token") or not credential:
            raise Refusal(401, "Requires authentication")
        if route.pattern.startswith("/app"):
            context.app = self._check_jwt(credential)
            return
        token = self.world.live_token(credential)
        if token is None:
            raise Refusal(401, "Bad credentials")
        context.token = token
        if "owner" in context.arguments and "repo" in context.arguments:
            full_name = f"{context.arguments['owner']}/{context.arguments['repo']}"
            # GitHub hides what a token cannot reach rather than forbidding it.
            if full_name not in self.world.repos or not token.covers(full_name):
                raise not_found()
            context.repo = self.world.repos[full_name]

    def _check_jwt(self, credential: str) -> App:
        """The app that signed `credential`, any app GitHub knows of."""
        try:
            unverified = jwt.decode(credential, options={"verify_signature": False})
            app = self.world.apps.get(int(unverified.get("iss", 0)))
        except (jwt.PyJWTError, TypeError, ValueError):
            app = None
        if app is None:
            raise Refusal(401, "'Issuer' claim ('iss') must be an Integer")
        try:
            jwt.decode(
                credential,
                app.public_key,
                algorithms=["RS256"],
                options={"require": ["exp", "iat", "iss"], "verify_iat": False},
            )
        except jwt.PyJWTError as error:
            raise Refusal(
                401, f"A JSON web token could not be decoded: {error}"
            ) from None
        return app

    def _route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            matched = route.matcher.fullmatch(path)
            if route.method == method and matched:
                return route, matched.groupdict()
        return None

    def _log(
        self,
        method: str,
        path: str,
        parsed: Any,
        status: int,
        body: Any,
        headers: dict[str, str],
    ) -> tuple[int, Any, dict[str, str]]:
        self.requests.append(Logged(method, path, status, parsed))
        return status, body, headers


def json_response(status: int, body: Any, headers: dict[str, str]) -> Response:
    data = b"" if body is None else json.dumps(body).encode()
    return Response(data, status, headers, "application/json; charset=utf-8")


def _routes() -> list[Route]:
    routes = []
    for table in ROUTE_TABLES:
        for method, pattern, handler in table:
            routes.append(Route(method, pattern, _matcher(pattern), handler))
    return routes


def _matcher(pattern: str) -> re.Pattern[str]:
    def group(match: re.Match[str]) -> str:
        name = match.group(1)
        allowed = ".+" if name in SLASHED else "[^/]+"
        return f"(?P<{name}>{allowed})"

    return re.compile(re.sub(r"\{(\w+)\}", group, pattern))


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")

"""The fake's git remote: `git http-backend` serving the world's bare repositories."""

from __future__ import annotations

import base64
import binascii
import os
import re
import subprocess
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from fakehub.state import Token, World

# The user name GitHub expects with an installation token as the password.
TOKEN_USER = "x-access-token"
REPO_PATH = re.compile(r"/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+)\.git(?P<rest>/.*)")
# Request headers git sends that http-backend reads as HTTP_* variables. The
# Authorization header is not one: the backend never sees the token.
CGI_HEADERS = ("content-encoding", "git-protocol")
CHALLENGE = {"www-authenticate": 'Basic realm="GitHub"'}


@dataclass(frozen=True)
class GitRequest:
    """One request the remote received: its target as sent, and the verdict."""

    method: str
    target: str
    authorised: bool
    status: int


@dataclass(frozen=True)
class CgiAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class GitRemote:
    """An ASGI app serving `{owner}/{name}.git` of `world` to a live token's holder.

    Mounted under a prefix, it reads its own part of the path from the scope,
    while `requests` keeps the whole target the client sent.
    """

    world: World
    requests: list[GitRequest] = field(default_factory=list)

    def reset(self, world: World) -> None:
        self.world = world
        self.requests.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        token = self._caller(request.headers.get("authorization", ""))
        reachable = token is not None and self._reaches(token, scope["path"])
        if token is None:
            answer = CgiAnswer(401, CHALLENGE, b"Invalid username or token.\n")
        # As GitHub does, a repository the token cannot reach does not exist.
        elif not reachable:
            answer = CgiAnswer(404, {}, b"Repository not found.\n")
        else:
            body = await request.body()
            answer = await run_in_threadpool(self._backend, request, body)
        self._record(scope, reachable, answer.status)
        response = Response(answer.body, answer.status, answer.headers)
        await response(scope, receive, send)

    def _reaches(self, token: Token, path: str) -> bool:
        matched = REPO_PATH.fullmatch(path)
        if matched is None:
            return False
        full_name = f"{matched['owner']}/{matched['name']}"
        return full_name in self.world.repos and token.covers(full_name)

    def _caller(self, header: str) -> Token | None:
        value = _token_value(header)
        return None if value is None else self.world.live_token(value)

    def _backend(self, request: Request, body: bytes) -> CgiAnswer:
        environment = self._cgi_environment(request, len(body))
        done = subprocess.run(
            ["git", "http-backend"],
            input=body,
            env=environment,
            capture_output=True,
            check=False,
        )
        if not done.stdout:
            return CgiAnswer(500, {}, done.stderr)
        return _parse_cgi(done.stdout)

    def _cgi_environment(self, request: Request, length: int) -> dict[str, str]:
        environment = {
            "PATH": os.environ.get("PATH", os.defpath),
            # The user's git config must not change what the remote serves.
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_PROJECT_ROOT": str(self.world.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": request.method,
            "PATH_INFO": request.scope["path"],
            "QUERY_STRING": request.url.query,
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "CONTENT_LENGTH": str(length),
            "REMOTE_ADDR": "127.0.0.1",
            # Pushes need an authenticated user; the token was checked above.
            "REMOTE_USER": TOKEN_USER,
        }
        for name in CGI_HEADERS:
            if name in request.headers:
                variable = "HTTP_" + name.upper().replace("-", "_")
                environment[variable] = request.headers[name]
        return environment

    def _record(self, scope: Scope, authorised: bool, status: int) -> None:
        target = scope.get("raw_path", scope["path"].encode()).decode()
        query = scope.get("query_string", b"").decode()
        if query:
            target += f"?{query}"
        self.requests.append(GitRequest(scope["method"], target, authorised, status))


def _token_value(header: str) -> str | None:
    """The password of a Basic header for TOKEN_USER, else None."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return password if user == TOKEN_USER and password else None


def _parse_cgi(output: bytes) -> CgiAnswer:
    """Split a CGI answer into its `Status`, its other headers and its body."""
    head, _, body = output.partition(b"\r\n\r\n")
    status, headers = 200, {}
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name:
            headers[name.lower()] = value.strip()
    return CgiAnswer(status, headers, body)

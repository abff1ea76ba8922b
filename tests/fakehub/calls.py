"""What a handler of the fake receives and gives back, and GitHub's error answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fakehub.state import App, Repo, Token, World

DOCS = "https://docs.github.com/rest"


class Refusal(Exception):
    """An error answer as GitHub gives it: a status, a message and maybe details."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "documentation_url": DOCS}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def not_found() -> Refusal:
    return Refusal(404, "Not Found")


def invalid(resource: str, field: str, code: str = "invalid", **more: str) -> Refusal:
    error = {"resource": resource, "field": field, "code": code, **more}
    return Refusal(422, "Validation Failed", [error])


@dataclass
class Context:
    """One routed call: its path arguments, query, JSON body and caller."""

    world: World
    arguments: dict[str, str]
    query: dict[str, str]
    body: Any
    # The request's absolute URL without its query, for Link headers.
    url: str = ""
    token: Token | None = None
    repo: Repo | None = None
    # The app whose JWT signed the call, on the /app routes.
    app: App | None = None

    @property
    def the_repo(self) -> Repo:
        # Routes under /repos/{owner}/{repo} always have one once auth passed.
        assert self.repo is not None
        return self.repo

    def number(self, name: str) -> int:
        try:
            return int(self.arguments[name])
        except ValueError:
            raise not_found() from None


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Context], Reply]


def paginate(context: Context, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` by the `page` and `per_page` query, with a Link header
    that repeats the rest of the query (the list's filters), as GitHub's does."""
    per_page = min(int(context.query.get("per_page", 30)), 100)
    page = int(context.query.get("page", 1))
    start = (page - 1) * per_page
    headers = {}
    if start + per_page < len(items):
        query = {**context.query, "per_page": per_page, "page": page + 1}
        headers["link"] = f'<{context.url}?{urlencode(query)}>; rel="next"'
    return items[start : start + per_page], headers

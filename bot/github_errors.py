"""GitHub's failures sorted into kinds: worth retrying, gone, or refused for good."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from githubkit.exception import RequestError, RequestFailed

# GitHub names no wait at all in some rate-limit answers: wait a minute then.
DEFAULT_RETRY_AFTER = 60.0


class Transient(Exception):
    """A failure worth retrying later: GitHub unreachable, failing or rate limiting."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class GitHubError(Exception):
    """GitHub refused a call for good (not found, invalid); retrying will not help."""


class NotFound(GitHubError):
    """GitHub answered 404: the thing is gone, or the app may not see it."""


@contextmanager
def errors_mapped(action: str) -> Iterator[None]:
    """Turn githubkit's failures while doing `action` into Transient or GitHubError.

    The messages name the action and the status, never a header or a token.
    """
    try:
        yield
    except RequestFailed as error:
        raise _failure(action, error) from error
    except RequestError as error:
        # Timeouts and connection failures: GitHub or the network may recover.
        raise Transient(f"GitHub could not be reached while {action}") from error


def _failure(action: str, error: RequestFailed) -> Exception:
    response = error.response
    status = response.status_code
    headers = response.headers
    limited = (
        "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or "rate limit" in _message(error).lower()
    )
    if status == 429 or (status == 403 and limited):
        return Transient(
            f"GitHub's rate limit was hit while {action}", _retry_after(headers)
        )
    if status >= 500:
        return Transient(f"GitHub answered {status} while {action}")
    if status == 404:
        return NotFound(f"not found (404) while {action}")
    return GitHubError(f"GitHub refused ({status}) {action}: {_message(error)}")


def _retry_after(headers: httpx.Headers) -> float:
    """Seconds to wait: `retry-after`, else until `x-ratelimit-reset` when the
    hour's budget is spent, else a minute.

    GitHub sends `x-ratelimit-reset` on every answer: on a secondary limit it
    names the end of the hour, not the end of the wait.
    """
    retry_after = headers.get("retry-after")
    if retry_after and retry_after.isdigit():
        return float(retry_after)
    reset = headers.get("x-ratelimit-reset")
    spent = headers.get("x-ratelimit-remaining") == "0"
    if spent and reset and reset.isdigit():
        return max(float(reset) - time.time(), 1.0)
    return DEFAULT_RETRY_AFTER


def _message(error: RequestFailed) -> str:
    """GitHub's own one-line reason for refusing, from the error body."""
    try:
        body = error.response.json()
    except ValueError:
        return "no reason given"
    if not isinstance(body, dict):
        return "no reason given"
    details = [
        str(item.get("message") or item.get("code"))
        for item in body.get("errors") or []
        if isinstance(item, dict)
    ]
    return "; ".join([str(body.get("message") or "no reason given"), *details])

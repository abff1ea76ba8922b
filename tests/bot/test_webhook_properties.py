"""Signed deliveries of any shape: never a 5xx, and only real triggers are queued.

Every body here is signed with the app's secret, so it gets past the signature
check and reaches parsing and routing, where a broken payload must be refused
or ignored rather than crash the app or queue a job that cannot run.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import webhook_payloads as payloads
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from test_app import Recorder, settings_for

from bot.app import create_app
from bot.queue import open_queue
from bot.request import Request
from bot.webhooks import COMMAND, LABEL, Delivery, MalformedPayload, Outcome, route

PROPERTY_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    max_examples=150,
    # One app serves every example: building one per example is the slow part.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TRIGGERS = {("issue_comment", "created"), ("issues", "labeled")}
EVENTS = [
    "issue_comment",
    "issues",
    "installation",
    "installation_repositories",
    "ping",
    "push",
]
# What GitHub's ids and numbers fit in: SQLite's INTEGER, a signed 64-bit int.
MAX_ID = 2**63 - 1


def _examples() -> dict[str, Callable[[], dict[str, Any]]]:
    return {
        "issue_comment": lambda: payloads.comment_created(COMMAND),
        "issue_comment/pr": lambda: payloads.comment_created(
            COMMAND + " dry-run", on_pull_request=True
        ),
        "issues": lambda: payloads.issue_labeled(LABEL),
        "installation": payloads.installation_created,
        "installation/deleted": payloads.installation_deleted,
        "installation_repositories": lambda: payloads.repositories_changed("added"),
        "installation_repositories/removed": lambda: payloads.repositories_changed(
            "removed"
        ),
    }


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
# Values that look like what a field holds, to get past one guard to the next.
likely_values: st.SearchStrategy[Any] = st.sampled_from(
    [
        None,
        True,
        0,
        -1,
        MAX_ID + 1,
        "",
        COMMAND,
        LABEL,
        "Bot",
        [],
        {},
        {"pull_request": None},
        {"login": 7},
    ]
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path into a JSON tree, the root excluded."""
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in children:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


@st.composite
def mutated_examples(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A real example with some fields removed or given a value of another type."""
    name = draw(st.sampled_from(sorted(_examples())))
    payload = _examples()[name]()
    if "comment" in payload:
        # A comment is queued once: each example is a comment of its own.
        payload["comment"]["id"] = draw(st.integers(1, MAX_ID))
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(payload))
        if not paths:
            break
        *parents, last = draw(st.sampled_from(paths))
        holder = payload
        for key in parents:
            holder = holder[key]
        if draw(st.booleans()):
            del holder[last]
        else:
            holder[last] = draw(likely_values | json_values)
    return name.partition("/")[0], payload


header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=20
)
content_types = st.sampled_from(
    ["application/json", "application/JSON; charset=utf-8", "text/plain", ""]
) | header_text.map(lambda text: "application/" + text)


@pytest.fixture
def webhook(tmp_path: Path) -> Iterator[Callable[..., tuple[int, str, int]]]:
    """Posts a signed body; returns its status, outcome and the queue's length.

    Fails on the spot if the app logged an unexpected error.
    """
    settings_ = settings_for(tmp_path)
    app = create_app(settings_, workers=0, handlers=Recorder().handlers())
    queue = open_queue(settings_, Recorder().handlers())
    errors = _ErrorRecords()
    logging.getLogger("bot.app").addHandler(errors)
    count = iter(range(10**9))

    def post(body: bytes, event: str, headers: dict[str, str] | None = None) -> Any:
        signed = payloads.signed_headers(body, event, f"delivery-{next(count)}")
        response = client.post(
            "/webhook", content=body, headers=signed | (headers or {})
        )
        assert errors.records == [], errors.records[0].getMessage()
        assert response.status_code < 500, response.text
        return response.status_code, response.json()["outcome"], _pending(queue)

    try:
        with TestClient(app) as client:
            yield post
    finally:
        logging.getLogger("bot.app").removeHandler(errors)
        queue.huey.storage.close()


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _pending(queue: Any) -> int:
    return int(queue.huey.pending_count())


def _queued_request(queue_length_before: int, answer: tuple[int, str, int]) -> bool:
    status, outcome, length = answer
    assert (status == 202) == (outcome == "queued")
    assert length == queue_length_before + (status == 202)
    return status == 202


def _check_well_formed_trigger(event: str, payload: dict[str, Any]) -> None:
    """What a payload that got queued must hold, checked apart from the router."""
    assert (event, payload.get("action")) in TRIGGERS
    for number in (("installation", "id"), ("issue", "number")):
        value = _at(payload, number)
        assert type(value) is int and 0 < value <= MAX_ID, number
    for text in (("repository", "owner", "login"), ("repository", "name")):
        assert isinstance(_at(payload, text), str), text
    if event == "issue_comment":
        assert _at(payload, ("comment", "body")).split()[0] == COMMAND
        assert _at(payload, ("comment", "user", "type")) != "Bot"
    else:
        assert _at(payload, ("label", "name")) == LABEL


def _at(payload: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        assert isinstance(payload, dict) and key in payload, path
        payload = payload[key]
    return payload


def _route(event: str, payload: Any) -> Outcome | None:
    """The outcome, or None for a payload refused as malformed."""
    try:
        return route(Delivery("delivery-1", event, payload), "wandb-inject[bot]")
    except MalformedPayload:
        return None


@PROPERTY_SETTINGS
@given(example=mutated_examples())
def test_routing_a_mutated_example_raises_nothing_but_malformed_payload(
    example: tuple[str, dict[str, Any]],
) -> None:
    event, payload = example
    original = copy.deepcopy(payload)

    outcome = _route(event, payload)

    assert payload == original, "routing must not change the payload"
    if isinstance(outcome, Request):
        _check_well_formed_trigger(event, payload)
        assert Request.from_json(json.loads(json.dumps(outcome.to_json()))) == outcome


@PROPERTY_SETTINGS
@given(
    event=st.sampled_from(EVENTS) | header_text,
    payload=st.dictionaries(st.text(max_size=12), json_values, max_size=6),
)
def test_routing_any_json_object_raises_nothing_but_malformed_payload(
    event: str, payload: dict[str, Any]
) -> None:
    outcome = _route(event, payload)

    if isinstance(outcome, Request):
        _check_well_formed_trigger(event, payload)


@PROPERTY_SETTINGS
@given(example=mutated_examples())
def test_a_mutated_example_is_queued_only_when_it_is_a_real_trigger(
    webhook: Callable[..., tuple[int, str, int]], example: tuple[str, dict[str, Any]]
) -> None:
    event, payload = example
    before = webhook(b"{}", "ping")[2]

    answer = webhook(payloads.encode(payload), event)

    assert answer[0] in (200, 202, 400)
    hypothesis.event(f"{answer[0]} {answer[1]}")
    if _queued_request(before, answer):
        _check_well_formed_trigger(event, payload)


@PROPERTY_SETTINGS
@given(
    event=st.sampled_from(EVENTS) | header_text,
    body=json_values.map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=60),
    content_type=content_types,
    extra=st.dictionaries(
        st.sampled_from(["X-GitHub-Hook-ID", "User-Agent", "X-Other"]), header_text
    ),
)
def test_any_signed_body_and_headers_get_an_answer_below_500(
    webhook: Callable[..., tuple[int, str, int]],
    event: str,
    body: bytes,
    content_type: str,
    extra: dict[str, str],
) -> None:
    before = webhook(b"{}", "ping")[2]

    answer = webhook(body, event, {"Content-Type": content_type, **extra})

    if _queued_request(before, answer):
        _check_well_formed_trigger(event, json.loads(body))


@pytest.mark.parametrize(
    ("body", "says"),
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "not JSON", id="deep-nesting"),
        pytest.param(b'{"n": ' + b"9" * 5000 + b"}", "not JSON", id="huge-integer"),
        pytest.param(b'{"action": "created", "a": NaN', "not JSON", id="cut-short"),
    ],
)
def test_json_python_cannot_load_is_a_bad_request(
    webhook: Callable[..., tuple[int, str, int]], body: bytes, says: str
) -> None:
    status, outcome, length = webhook(body, "issue_comment")

    assert (status, outcome, length) == (400, "rejected", 0)


@pytest.mark.parametrize(
    "field",
    [
        pytest.param(("installation", "id"), id="installation"),
        pytest.param(("issue", "number"), id="number"),
        pytest.param(("comment", "id"), id="comment"),
    ],
)
@pytest.mark.parametrize("value", [0, -5, MAX_ID + 1])
def test_an_id_github_never_sends_is_a_bad_request(
    webhook: Callable[..., tuple[int, str, int]], field: tuple[str, str], value: int
) -> None:
    payload = payloads.comment_created(COMMAND)
    payload[field[0]][field[1]] = value

    assert webhook(payloads.encode(payload), "issue_comment")[:2] == (400, "rejected")


def test_an_installation_id_past_64_bits_is_refused_not_stored(
    webhook: Callable[..., tuple[int, str, int]],
) -> None:
    payload = payloads.installation_created()
    payload["installation"]["id"] = MAX_ID + 1

    assert webhook(payloads.encode(payload), "installation")[:2] == (400, "rejected")

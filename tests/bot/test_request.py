"""A request survives the queue: JSON out, JSON in, the same request."""

from __future__ import annotations

import json

from bot.request import Arguments, Request, Trigger


def test_request_round_trips_through_json() -> None:
    request = Request(
        "delivery-1",
        42,
        "octo",
        "models",
        Trigger.PR_COMMENT,
        7,
        "alice",
        comment_id=99,
        arguments=Arguments(dry_run=True, paths=("src/**",), project="digits"),
    )

    again = Request.from_json(json.loads(json.dumps(request.to_json())))

    assert again == request
    assert again.trigger is Trigger.PR_COMMENT
    assert again.full_name == "octo/models"

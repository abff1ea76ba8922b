"""A scan's findings on the repository's dashboard issue, for the dashboard mode."""

from __future__ import annotations

from bot import dashboard
from bot.limits import Limits
from bot.org import AppApi

CONTENT_LIMIT = "GitHub's limit on creating content"


class Paced(Exception):
    """A new issue must wait `delay` seconds for GitHub's content limit."""

    def __init__(self, delay: float) -> None:
        super().__init__(CONTENT_LIMIT)
        self.delay = delay


def show_dashboard(
    app: AppApi,
    installation_id: int,
    full_name: str,
    paths: list[str],
    limits: Limits,
) -> int:
    """Open or update the dashboard issue listing `paths`; its number.

    Boxes people ticked stay ticked. Raises Paced before opening a new issue
    past GitHub's content limit.
    """
    owner, _, name = full_name.partition("/")
    found = app.dashboard(installation_id, owner, name)
    if found is not None:
        number, old = found
        body = dashboard.render(paths, dashboard.ticked(old))
        # An unchanged body is left alone: each edit notifies the issue's watchers.
        if body != old:
            app.update_issue(installation_id, owner, name, number, body)
        return number
    wait = limits.take_content_slot()
    if wait > 0:
        raise Paced(wait)
    body = dashboard.render(paths)
    return app.create_issue(installation_id, owner, name, dashboard.TITLE, body)

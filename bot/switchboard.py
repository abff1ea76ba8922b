"""An ASGI app that serves one app, then hands over to another without a restart."""

from __future__ import annotations

from contextlib import AsyncExitStack

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send


class Switchboard:
    """Serves `first` until `switch_to`; then the next app, its lifespan running.

    The paths `first` keeps stay with it after the switch. The server's own
    lifespan events stop here: the apps' lifespans run when each is switched to,
    and end, last first, when the server shuts down.
    """

    def __init__(self, first: Starlette, keeps: tuple[str, ...] = ()) -> None:
        self.first = first
        self.current = first
        self.keeps = keeps
        self._lifespans = AsyncExitStack()

    async def switch_to(self, app: Starlette) -> None:
        """Start `app`'s lifespan, then send every new request to it."""
        await self._lifespans.enter_async_context(app.router.lifespan_context(app))
        self.current = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        app = self.first if scope.get("path") in self.keeps else self.current
        await app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._lifespans.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

"""Local stand-ins for services that cannot be reached here, speaking their real wire formats over HTTP.

`serving` runs an app on a free loopback port; `LocalServer` is the base of the fakes, which record each call:
`slack_api.FakeSlackApi` (Slack's Web API) and `bot_connector.FakeConnector` (the Bot Framework connector).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port for the duration of the block; yields its base URL."""
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


class LocalServer:
    """An aiohttp app on 127.0.0.1 with a free port, recording every call it receives."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        self._server: TestServer | None = None
        self.url = ""

    async def start(self) -> LocalServer:
        self._server = TestServer(self.app, host="127.0.0.1")
        await self._server.start_server()
        self.url = f"http://127.0.0.1:{self._server.port}"
        return self

    async def stop(self) -> None:
        if self._server:
            await self._server.close()

    async def record(self, request: web.Request, name: str) -> dict[str, Any]:
        raw = await request.read()
        if request.content_type == "application/json":
            payload = json.loads(raw or b"{}")
        else:
            payload = {k: v for k, v in (await request.post()).items()} if raw else {}
            for key in ("blocks", "view"):
                if isinstance(payload.get(key), str):
                    payload[key] = json.loads(payload[key])
        self.calls.append((name, payload))
        self.headers.append(dict(request.headers))
        return payload

    def named(self, name: str) -> list[dict[str, Any]]:
        return [payload for call, payload in self.calls if call == name]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out; calls so far: {[c for c, _ in self.calls]}")
            await asyncio.sleep(0.02)

"""Local stand-ins for services that cannot be reached here, speaking their real wire formats over HTTP.

`FakeSlackApi` is Slack's Web API (`/api/<method>`) plus `response_url` endpoints; `FakeConnector` is the Bot
Framework connector a Teams bot replies to (`/v3/conversations/{id}/activities/{replyToId}`).
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


class FakeSlackApi(LocalServer):
    TEAM_ID = "T0FAKE"
    BOT_USER = "UBOTFAKE"

    def __init__(self, post_delay: float = 0.0) -> None:
        super().__init__()
        self.post_delay = post_delay  # a slow Slack: chat.postMessage answers after this many seconds
        self.app.router.add_post("/api/{method}", self.api)
        self.app.router.add_post("/response/{id}", self.response_url)

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        payload = await self.record(request, method)
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "url": "https://fake.slack.com/",
                    "team": "Fake",
                    "user": "policybot",
                    "team_id": self.TEAM_ID,
                    "user_id": self.BOT_USER,
                    "bot_id": "BFAKE",
                    "is_enterprise_install": False,
                }
            )
        if method == "chat.postMessage":
            await asyncio.sleep(self.post_delay)
            return web.json_response(
                {
                    "ok": True,
                    "channel": payload.get("channel"),
                    "ts": f"{len(self.calls)}.000100",
                    "message": payload,
                }
            )
        if method == "views.publish":
            return web.json_response({"ok": True, "view": payload.get("view", {})})
        return web.json_response({"ok": True})

    async def response_url(self, request: web.Request) -> web.Response:
        await self.record(request, "response_url")
        return web.Response(text="ok")


class FakeConnector(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.app.router.add_post("/v3/conversations/{conversation}/activities/{reply_to}", self.reply)
        self.app.router.add_post("/v3/conversations/{conversation}/activities", self.send)

    async def reply(self, request: web.Request) -> web.Response:
        payload = await self.record(request, "reply")
        payload["_path"] = request.path
        return web.json_response({"id": f"reply-{len(self.calls)}"})

    async def send(self, request: web.Request) -> web.Response:
        payload = await self.record(request, "send")
        payload["_path"] = request.path
        return web.json_response({"id": f"send-{len(self.calls)}"})


class FakeKeyEndpoint(LocalServer):
    """Bot Framework's OpenID metadata and signing keys (JWKS), signing with a key made here; or, with
    `hang`, an endpoint that accepts the connection and never answers."""

    KID = "test-key-1"

    def __init__(self, hang: bool = False) -> None:
        super().__init__()
        from cryptography.hazmat.primitives.asymmetric import rsa
        from jwt.algorithms import RSAAlgorithm

        self.hang = hang
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwk = {
            **json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key())),
            "kid": self.KID,
            "endorsements": ["msteams", "emulator"],
        }
        self.app.router.add_get("/openid", self.metadata)
        self.app.router.add_get("/keys", self.keys)

    async def start(self) -> FakeKeyEndpoint:
        self.released = asyncio.Event()
        await super().start()
        return self

    async def stop(self) -> None:
        self.released.set()
        await super().stop()

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/openid"

    async def metadata(self, request: web.Request) -> web.Response:
        self.calls.append(("metadata", {}))
        if self.hang:
            await self.released.wait()  # until stop(): a hung endpoint that still lets the test end promptly
        return web.json_response({"issuer": "https://api.botframework.com", "jwks_uri": f"{self.url}/keys"})

    async def keys(self, request: web.Request) -> web.Response:
        self.calls.append(("keys", {}))
        return web.json_response({"keys": [self.jwk]})

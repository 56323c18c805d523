"""The Bot Framework connector a Teams bot replies to, and the OpenID/JWKS endpoints its tokens are checked against."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from tests.fakes.servers import LocalServer


class FakeConnector(LocalServer):
    """Records, by name: `reply` (to an activity), `send` (a new message in a conversation, as proactive messages
    are) and `create` (a new conversation, e.g. a bot's personal chat with someone). With
    `refuse_personal_chats`, creating a conversation fails as it does for a user who has not installed the app.
    """

    def __init__(self, refuse_personal_chats: bool = False) -> None:
        super().__init__()
        self.refuse_personal_chats = refuse_personal_chats
        self.app.router.add_post("/v3/conversations", self.create)
        self.app.router.add_post("/v3/conversations/{conversation}/activities/{reply_to}", self.reply)
        self.app.router.add_post("/v3/conversations/{conversation}/activities", self.send)

    async def create(self, request: web.Request) -> web.Response:
        await self.record(request, "create")
        if self.refuse_personal_chats:
            return web.json_response(
                {
                    "error": {
                        "code": "Forbidden",
                        "message": "The bot is not part of the conversation roster.",
                    }
                },
                status=403,
            )
        return web.json_response({"id": f"a:personal-{len(self.named('create'))}", "activityId": None})

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

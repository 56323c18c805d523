"""Slack's Web API (`/api/<method>`) and `response_url` endpoints, as a local server that records each call."""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.fakes.servers import LocalServer


class FakeSlackApi(LocalServer):
    TEAM_ID = "T0FAKE"
    BOT_USER = "UBOTFAKE"

    def __init__(self, post_delay: float = 0.0, failing: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.post_delay = post_delay  # a slow Slack: chat.postMessage answers after this many seconds
        self.failing = set(failing)  # methods that answer {"ok": false}, as Slack does for a refused call
        self.app.router.add_post("/api/{method}", self.api)
        self.app.router.add_post("/response/{id}", self.response_url)

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        payload = await self.record(request, method)
        # slack_sdk sends some methods' arguments (conversations.open's `users`) in the query string
        payload.update({k: v for k, v in request.query.items() if k not in payload})
        if method in self.failing:
            return web.json_response({"ok": False, "error": "cannot_dm_bot"})
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
        if method == "conversations.open":  # a DM with `users`: its channel id is D + the user id
            return web.json_response({"ok": True, "channel": {"id": "D" + str(payload.get("users", ""))}})
        if method == "chat.postEphemeral":
            return web.json_response({"ok": True, "message_ts": f"{len(self.calls)}.000200"})
        if method == "views.publish":
            return web.json_response({"ok": True, "view": payload.get("view", {})})
        return web.json_response({"ok": True})

    async def response_url(self, request: web.Request) -> web.Response:
        await self.record(request, "response_url")
        return web.Response(text="ok")

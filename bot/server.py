"""The aiohttp application every channel is served from, plus `/healthz` and `/metrics`.

Channels live in `adapters/`; this module only mounts them and owns process-wide concerns: request size caps,
health, Prometheus metrics and one log line per channel saying whether it is on.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.assistant import Assistant
from bot.conversation import Conversation
from bot.metrics import Metrics
from bot.preferences import Preferences
from bot.settings import Settings

log = logging.getLogger("policybot.server")

MAX_BODY_BYTES = 64 * 1024  # a question is at most 1,000 characters; anything far larger is refused with 413
ASSISTANT = web.AppKey("assistant", Assistant)
CONVERSATION = web.AppKey("conversation", Conversation)


METRICS = web.AppKey("metrics", Metrics)


async def healthz(request: web.Request) -> web.Response:
    kb = request.app[ASSISTANT].kb
    return web.json_response(
        {
            "status": "ok",
            "knowledge_version": kb.version,
            "clauses": kb.clause_count,
            "schools": len(kb.schools),
        }
    )


async def metrics_page(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(assistant: Assistant, settings: Settings | None = None) -> web.Application:
    """One application for every channel; each channel mounts itself when its settings allow."""
    from adapters import slack, teams
    from adapters import web as web_chat

    settings = settings or Settings.from_env()
    metrics = Metrics()
    conversation = Conversation(assistant, Preferences(), settings.default_school, metrics)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[ASSISTANT] = assistant
    app[CONVERSATION] = conversation
    app[METRICS] = metrics
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    web_chat.mount(app)
    log.info("channel web: on (GET / and POST /api/ask need no credentials)")
    log.info(slack.mount(app, conversation, settings))
    log.info(teams.mount(app, conversation, settings))
    return app

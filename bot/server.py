"""The aiohttp application every channel is served from, plus `/healthz` and `/metrics`.

Channels live in `adapters/`; this module only mounts them and owns process-wide concerns: request size caps,
health, Prometheus metrics and one log line per channel saying whether it is on.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from bot.assistant import Assistant
from bot.conversation import Conversation
from bot.preferences import Preferences
from bot.settings import Settings

log = logging.getLogger("policybot.server")

MAX_BODY_BYTES = 64 * 1024  # a question is at most 1,000 characters; anything far larger is refused with 413
ASSISTANT = web.AppKey("assistant", Assistant)
CONVERSATION = web.AppKey("conversation", Conversation)


class Metrics:
    """The Prometheus series the server exposes; one registry per app so tests do not share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.questions = Counter(
            "policybot_questions", "Questions received", ["channel"], registry=self.registry
        )
        self.answers = Counter(
            "policybot_answers", "Answers by status", ["channel", "status"], registry=self.registry
        )
        self.errors = Counter(
            "policybot_errors", "Requests that failed", ["channel", "kind"], registry=self.registry
        )
        self.latency = Histogram(
            "policybot_answer_seconds",
            "Time to compose an answer",
            ["channel"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )

    def observe(self, channel: str, status: str, started: float) -> None:
        self.questions.labels(channel).inc()
        self.answers.labels(channel, status).inc()
        self.latency.labels(channel).observe(time.perf_counter() - started)


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


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(assistant: Assistant, settings: Settings | None = None) -> web.Application:
    """One application for every channel; each channel mounts itself when its settings allow."""
    from adapters import slack, teams
    from adapters import web as web_chat

    settings = settings or Settings.from_env()
    conversation = Conversation(assistant, Preferences(), settings.default_school)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[ASSISTANT] = assistant
    app[CONVERSATION] = conversation
    app[METRICS] = Metrics()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    web_chat.mount(app)
    log.info("channel web: on (GET / and POST /api/ask need no credentials)")
    log.info(slack.mount(app, conversation, settings))
    log.info(teams.mount(app, conversation, settings))
    return app

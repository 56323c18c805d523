"""The aiohttp application every channel is served from, plus `/healthz` and `/metrics`.

Channels live in `adapters/`; this module mounts each of them through the same contract,
`mount(app, conversation, settings) -> str` (the log line saying whether it is on), and owns process-wide
concerns: request size caps, health, Prometheus metrics, the admin routes and the storage lifecycle.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adapters import clientfaults, slack, teams
from adapters import web as web_chat
from bot.assistant import Assistant
from bot.conversation import Conversation
from bot.errors import UnknownSchool
from bot.metrics import Metrics
from bot.privacy import UserHasher
from bot.reload import KnowledgeReloader
from bot.settings import Settings
from bot.store import Recorder, Store, database_url_for

log = logging.getLogger("policybot.server")
# Every channel, in the order their log lines appear; each is an adapter module with `mount`.
CHANNELS = (web_chat, slack, teams)

MAX_BODY_BYTES = 64 * 1024  # a question is at most 1,000 characters; anything far larger is refused with 413
ASSISTANT = web.AppKey("assistant", Assistant)
CONVERSATION = web.AppKey("conversation", Conversation)


METRICS = web.AppKey("metrics", Metrics)
RECORDER = web.AppKey("recorder", Recorder)
RELOADER = web.AppKey("reloader", KnowledgeReloader)
SETTINGS = web.AppKey("settings", Settings)


async def healthz(request: web.Request) -> web.Response:
    """Public: a status and a short reason, for probes and people. No versions, paths, SQL or error text: the
    detail is in the log and, with the admin token, at /admin/health. Still 200 when degraded: answers go on."""
    # Derived from the detail, so the short and the long answer never disagree.
    detail = json.loads((await health_detail(request)).text)
    storage, knowledge = detail["storage"], detail["knowledge"]
    reasons = []
    if storage["degraded"]:
        reasons.append(f"database unavailable; {storage['buffered']} log records waiting")
    elif not storage["ready"]:
        reasons.append("database not ready yet")
    if knowledge["reload_error"]:
        reasons.append("the last knowledge edit was refused; the previous version is serving")
    if detail["status"] != "ok" and str(detail.get("semantic", "on")).startswith("off"):
        reasons.append("semantic search unavailable; answering by keywords alone")
    if detail["status"] != "ok" and not reasons:
        reasons.append("running with reduced answer quality")  # the detail names the component
    status = "degraded" if reasons or detail["status"] != "ok" else "ok"
    return web.json_response({"status": status, "reason": "; ".join(reasons) or "serving"})


async def health_detail(request: web.Request) -> web.Response:
    """Knowledge version and reload state, storage state and last error: for /admin/health only."""
    assistant = request.app[ASSISTANT]
    kb = assistant.kb
    # Semantic search that failed to load answers on BM25 alone: still serving, but worse; switched off on
    # purpose (POLICYBOT_SEMANTIC=off) it is not a fault.
    semantic_failed = assistant.semantic_off not in (None, "turned off")
    return web.json_response(
        {
            "status": "degraded" if semantic_failed else "ok",
            "semantic": "on" if assistant.semantic_off is None else f"off: {assistant.semantic_off}",
            "knowledge_version": kb.version,
            "clauses": kb.clause_count,
            "schools": len(kb.schools),
            "storage": request.app[RECORDER].health(),
            "knowledge": request.app[RELOADER].status(),
        }
    )


async def metrics_page(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(
    assistant: Assistant, settings: Settings | None = None, storage: bool | None = None
) -> web.Application:
    """One application for every channel; each channel mounts itself when its settings allow.

    With `storage` (the default) interactions, feedback, processed events and chosen schools go to the database
    of `settings` (SQLite in the data directory, or PostgreSQL), whose schema is upgraded on start.
    """
    settings = settings or Settings.from_env()
    storage = settings.storage if storage is None else storage
    metrics = Metrics()
    store = Store(database_url_for(settings)) if storage else None
    # Without storage nothing is kept, so a salt for this run alone will do (and no file is written).
    hasher = UserHasher.for_server(settings.hash_salt, settings.data_dir if storage else None)
    recorder = Recorder(store, metrics, capacity=settings.buffer_size)
    conversation = Conversation(
        assistant, recorder, settings.default_school, metrics, settings.store_questions, hasher
    )
    clientfaults.install()
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[json_errors])
    app[ASSISTANT] = assistant
    app[CONVERSATION] = conversation
    app[METRICS] = metrics
    app[RECORDER] = recorder
    app[SETTINGS] = settings
    app[RELOADER] = KnowledgeReloader(assistant, assistant.kb.source_dir)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    for channel in CHANNELS:
        log.info(channel.mount(app, conversation, settings))
    app.on_startup.append(_start_answer_threads)
    app.on_startup.append(_start_storage)
    app.on_shutdown.append(_stop_storage)
    app.on_startup.append(_start_reloading)
    app.on_shutdown.append(_stop_reloading)
    if settings.admin_token:
        app.router.add_get("/admin/report", admin_report)
        app.router.add_get("/admin/health", admin_health)
        app.router.add_get("/admin/compare", admin_compare)
        app.router.add_post("/admin/reload", admin_reload)
        log.info(
            "admin: on (/admin/report, /admin/compare, /admin/health, POST /admin/reload with the bearer token)"
        )
    else:
        log.info(
            "admin: off (set POLICYBOT_ADMIN_TOKEN to serve /admin/report, /admin/compare, /admin/reload)"
        )
    return app


async def _start_answer_threads(app: web.Application) -> None:
    """Answers are worked out on threads (`asyncio.to_thread`), and their work mostly holds the GIL: threads
    beyond the cores only take turns and each keep memory of their own. asyncio's default pool has cores + 4;
    at 50 concurrent requests, one thread per core answered 27-30 % more per second and kept RSS flat (issue 13).
    The loop shuts this pool down when it closes, as it would its own."""
    threads = app[SETTINGS].answer_threads
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(threads, thread_name_prefix="answer"))


async def _start_reloading(app: web.Application) -> None:
    reloader = app[RELOADER]
    reloader.start()
    try:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(reloader.reload("SIGHUP")))
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests) or no SIGHUP here
        log.debug("SIGHUP reload not available in this process")


async def _stop_reloading(app: web.Application) -> None:
    await app[RELOADER].stop()


async def _start_storage(app: web.Application) -> None:
    recorder = app[RECORDER]
    await recorder.start()
    recorder.start_upkeep(app[SETTINGS].retention_days)


async def _stop_storage(app: web.Application) -> None:
    recorder = app[RECORDER]
    await recorder.stop()
    if recorder.store is not None:
        try:
            await asyncio.wait_for(recorder.store.close(), 5)
        except TimeoutError:
            log.warning("database connections did not close within 5 s")


def authorised(request: web.Request) -> bool:
    token = request.app[SETTINGS].admin_token or ""
    scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
    # The scheme is case-insensitive (RFC 9110): "bearer x" is as good as "Bearer x".
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """A wrong path or method under /api/ is answered like every other API error, with a JSON `error`: the page
    and scripts read that, not aiohttp's plain-text "404: Not Found"."""
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
        if not request.path.startswith("/api/"):
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return web.json_response({"error": exc.reason}, status=exc.status, headers=headers)


async def admin_health(request: web.Request) -> web.Response:
    if not authorised(request):
        return web.json_response(
            {"error": "Unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )
    return await health_detail(request)


async def admin_reload(request: web.Request) -> web.Response:
    if not authorised(request):
        return web.json_response(
            {"error": "Unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )
    result = await request.app[RELOADER].reload("POST /admin/reload")
    body = {
        "ok": result.ok,
        "version": result.version,
        "changed": result.changed,
        "problems": list(result.problems),
    }
    return web.json_response(body, status=200 if result.ok else 422)


async def admin_compare(request: web.Request) -> web.Response:
    from bot.compare import UnknownTopic, compare_page

    if not authorised(request):
        return web.json_response(
            {"error": "Unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )
    try:
        page = compare_page(request.app[ASSISTANT].kb, request.query.get("topic") or None)
    except UnknownTopic as exc:
        return web.json_response({"error": str(exc)}, status=404)
    return web.Response(text=page, content_type="text/html", charset="utf-8")


async def admin_report(request: web.Request) -> web.Response:
    from bot.report import build_report, parse_period, report_json

    if not authorised(request):
        return web.json_response(
            {"error": "Unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )
    recorder = request.app[RECORDER]
    if recorder.store is None or not recorder.ready:
        return web.json_response({"error": "storage is not available"}, status=503)
    try:
        since = parse_period(request.query.get("since", "30d"))
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    school = request.query.get("school") or None
    if school is not None:
        try:
            school = request.app[ASSISTANT].kb.school(school).id
        except UnknownSchool as exc:
            return web.json_response({"error": exc.user_message}, status=404)
    report = await build_report(recorder.store, request.app[ASSISTANT], since, school)
    return web.json_response(report_json(report))

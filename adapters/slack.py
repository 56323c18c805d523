"""Slack: Events API, slash command, buttons and App Home through slack-bolt's async app.

Over HTTP, `AckFirstDispatcher` verifies each request's signature and timestamp (401 otherwise), acks at once,
and hands the request to bolt on a bounded queue; listeners then delegate to the core's Conversation. In
Socket Mode bolt acks itself before the listener runs. Retried events are answered once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.json_body import BadBody, parse_json_object
from adapters.request_body import read_body
from adapters.slack_blocks import home_view, reply_message
from bot.compose import Answer
from bot.conversation import EXAMPLE_QUESTIONS, Conversation
from bot.errors import PolicyBotError
from bot.settings import Settings

log = logging.getLogger("policybot.slack")
CHANNEL = "slack"
EVENTS_PATH = "/slack/events"  # Events API, interactivity and the slash command all arrive here
SLASH_COMMAND = "/policy"
# Slack event subscriptions this adapter answers (manifest names: a DM arrives as `message.im`).
SUBSCRIBED_EVENTS = ("app_home_opened", "app_mention", "message.im")
BOT_SCOPES = ("app_mentions:read", "chat:write", "commands", "im:history", "im:read", "im:write")
SLACK_APP = web.AppKey("slack_app", AsyncApp)
SLACK_DISPATCHER = web.AppKey("slack_dispatcher", object)

_MENTION = re.compile(r"<[@!#][^>]*>")
_LINK = re.compile(r"<(?:https?|mailto):[^|>]*\|([^>]*)>|<((?:https?|mailto):[^>]*)>")


def question_text(slack_text: str) -> str:
    """Slack's wire text to what the person typed: mentions and specials dropped, links to labels, unescaped."""
    text = _LINK.sub(lambda m: m.group(1) or m.group(2), slack_text or "")
    text = _MENTION.sub(" ", text)
    return " ".join(html.unescape(text).split())


def user_key(team_id: str | None, user_id: str | None) -> str:
    return f"slack:{team_id or '-'}:{user_id or '-'}"


# channels.yaml's `slack:` sections this adapter reads, most specific first.
SCOPE_SECTIONS = ("channels", "workspaces")


def scope_key(section: str, slack_id: str) -> str:
    """The key `channels.yaml`'s `slack: {section: {slack_id: school}}` entry is known by."""
    return f"{CHANNEL}:{section}:{slack_id}"


def scopes(team_id: str | None, channel_id: str | None) -> tuple[str, ...]:
    """The mapped scopes a message is in, most specific first: its channel, then its workspace."""
    ids = dict(zip(SCOPE_SECTIONS, (channel_id, team_id), strict=True))
    return tuple(scope_key(section, ids[section]) for section in SCOPE_SECTIONS if ids[section])


def build_slack_app(
    conversation: Conversation,
    settings: Settings,
    process_before_response: bool = False,
) -> AsyncApp:
    client = AsyncWebClient(
        token=settings.slack_bot_token,
        **({"base_url": settings.slack_api_url.rstrip("/") + "/"} if settings.slack_api_url else {}),
    )
    app = AsyncApp(
        signing_secret=settings.slack_signing_secret,
        client=client,
        name="policy-assistant",
        process_before_response=process_before_response,
        # Verified once, by AckFirstDispatcher, before bolt sees a request over HTTP; Socket Mode requests
        # come over Slack's own authenticated socket and carry no signature to check.
        request_verification_enabled=False,
    )

    @app.middleware
    async def answer_each_event_once(body: dict, next) -> BoltResponse | None:  # noqa: A002 - bolt's name
        event_id = body.get("event_id")
        if event_id and not await conversation.claim(f"slack:{event_id}"):
            log.info("duplicate Slack event %s acknowledged without answering", event_id)
            return BoltResponse(status=200, body="")
        return await next()

    async def turn(text: str, team_id: str | None, user_id: str | None, channel_id: str | None):
        key, where = user_key(team_id, user_id), scopes(team_id, channel_id)
        return await conversation.turn(question_text(text), key, where, CHANNEL)

    @app.event("app_mention")
    async def on_mention(event: dict, body: dict, say) -> None:
        if event.get("bot_id"):
            return
        reply = await turn(
            event.get("text", ""), body.get("team_id"), event.get("user"), event.get("channel")
        )
        await say(**reply_message(reply), thread_ts=event.get("thread_ts") or event.get("ts"))

    @app.event("message")
    async def on_message(event: dict, body: dict, say) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return  # channel chatter, edits and other bots' messages are not questions to us
        reply = await turn(
            event.get("text", ""), body.get("team_id"), event.get("user"), event.get("channel")
        )
        await say(**reply_message(reply))

    @app.command(SLASH_COMMAND)
    async def on_command(ack, command: dict, respond) -> None:
        await ack()
        reply = await turn(
            command.get("text", ""), command.get("team_id"), command.get("user_id"), command.get("channel_id")
        )
        await respond(response_type="ephemeral", **reply_message(reply, shareable=isinstance(reply, Answer)))

    def _value(body: dict) -> dict[str, Any]:
        try:
            value = json.loads(body["actions"][0]["value"])
        except (KeyError, IndexError, ValueError):
            return {}
        return {**value, "q": html.unescape(str(value.get("q") or ""))}

    @app.action("share_answer")
    async def on_share(ack, body: dict, respond) -> None:
        await ack()
        value = _value(body)
        try:
            answer = await conversation.ask(value.get("q", ""), value.get("s", ""))  # shared, not re-logged
        except PolicyBotError as exc:
            await respond(response_type="ephemeral", replace_original=False, text=exc.user_message)
            return
        await respond(response_type="in_channel", delete_original=True, **reply_message(answer))

    async def _feedback(ack, body: dict, respond, helpful: bool) -> None:
        await ack()
        value = _value(body)
        user = body.get("user", {})
        receipt = await conversation.feedback(
            user_key(user.get("team_id") or body.get("team", {}).get("id"), user.get("id")),
            CHANNEL,
            value.get("s"),
            value.get("c"),
            helpful,
            interaction_id=value.get("i"),
        )
        await respond(response_type="ephemeral", replace_original=False, text=receipt.message)

    @app.action("feedback_up")
    async def on_feedback_up(ack, body: dict, respond) -> None:
        await _feedback(ack, body, respond, True)

    @app.action("feedback_down")
    async def on_feedback_down(ack, body: dict, respond) -> None:
        await _feedback(ack, body, respond, False)

    async def _publish_home(client: AsyncWebClient, team_id: str | None, user_id: str) -> None:
        school = await conversation.current_school(user_key(team_id, user_id), scopes(team_id, None))
        name = school.name if school else None
        schools = [(s.id, s.name) for s in conversation.schools()]
        await client.views_publish(user_id=user_id, view=home_view(name, schools, EXAMPLE_QUESTIONS))

    @app.event("app_home_opened")
    async def on_home(event: dict, body: dict, client: AsyncWebClient) -> None:
        await _publish_home(client, body.get("team_id"), event["user"])

    @app.action("choose_school")
    async def on_choose_school(ack, body: dict, client: AsyncWebClient) -> None:
        await ack()
        user = body.get("user", {})
        team_id = user.get("team_id") or body.get("team", {}).get("id")
        school_id = body["actions"][0].get("selected_option", {}).get("value", "")
        try:
            conversation.choose_school(user_key(team_id, user.get("id")), school_id)
        except PolicyBotError as exc:
            log.warning("App Home school choice refused: %s", exc.user_message)
        await _publish_home(client, team_id, user["id"])

    @app.error
    async def on_error(error: Exception, body: dict) -> None:
        log.error("Slack listener error: %s", error, exc_info=error)

    return app


class AckFirstDispatcher:
    """HTTP front for bolt: verify, acknowledge at once, then let bolt do the work from a bounded queue.

    Slack only needs an empty 200 within 3 seconds for events, commands and button clicks (answers go out via
    chat.postMessage or the response_url). Acking before bolt's middleware and listeners run keeps the ack
    fast under load, and the queue's workers bound how much answering competes with acking.
    """

    def __init__(
        self,
        slack_app: AsyncApp,
        signing_secret: str,
        refused: Callable[[str, str], None],
        workers: int = 8,
        backlog: int = 5000,
    ):
        self.slack_app = slack_app
        self.secret = signing_secret.encode()
        self.refused = refused  # counts a refused or failed request by kind
        self.queue: asyncio.Queue[AsyncBoltRequest] = asyncio.Queue(maxsize=backlog)
        self.worker_count = workers
        self.workers: list[asyncio.Task] = []

    async def start(self, _: web.Application) -> None:
        self.workers = [asyncio.create_task(self._work()) for _ in range(self.worker_count)]

    async def stop(self, _: web.Application) -> None:
        try:
            await asyncio.wait_for(self.queue.join(), timeout=5)  # let queued answers go out
        except TimeoutError:
            log.warning("stopping with %d Slack requests unanswered", self.queue.qsize())
        for task in self.workers:
            task.cancel()

    async def _work(self) -> None:
        while True:
            bolt_request = await self.queue.get()
            try:
                await self.slack_app.async_dispatch(bolt_request)
            except Exception:  # one bad request must not stop the worker
                log.exception("Slack request failed after its ack")
                self.refused(CHANNEL, "internal")
            finally:
                self.queue.task_done()

    async def handle(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        headers = request.headers
        if not self._signed(body, headers):
            self.refused(CHANNEL, "bad_signature")
            log.warning("Slack request refused: missing, invalid or stale signature")
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            bolt_request = _bolt_request(body, request.query_string, headers)
        except BadBody as exc:
            self.refused(CHANNEL, "bad_body")
            log.warning("signed Slack request refused: %s", exc.user_message)
            return web.json_response({"error": exc.user_message}, status=400)
        if _needs_bolt_reply(body):
            return await to_aiohttp_response(await self.slack_app.async_dispatch(bolt_request))
        try:
            self.queue.put_nowait(bolt_request)
        except asyncio.QueueFull:  # Slack retries a non-2xx, so nothing is lost by refusing now
            self.refused(CHANNEL, "backlog_full")
            log.error("Slack backlog full (%d); asking Slack to retry", self.queue.qsize())
            return web.json_response({"error": "busy"}, status=503)
        return web.Response(status=200)

    def _signed(self, body: bytes, headers) -> bool:
        """Slack's v0 signature over the raw bytes, and a timestamp within 5 minutes.

        Done here rather than by slack_sdk's SignatureVerifier, which raises (a 500) on a timestamp that is not
        a plain integer (`abc`, `1.5`, 5,000 digits) and on a body that is not UTF-8; here those fail the check
        (401) or, signed, reach the body check (400).
        """
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        if not _TIMESTAMP.fullmatch(timestamp) or abs(time.time() - int(timestamp)) > MAX_AGE_SECONDS:
            return False
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self.secret, base, hashlib.sha256).hexdigest()
        given = headers.get("X-Slack-Signature", "")
        return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


_TIMESTAMP = re.compile(r"[0-9]{1,15}")  # Unix seconds; Slack's are 10 digits
MAX_AGE_SECONDS = 300  # Slack's advice: older requests may be replays


def _bolt_request(body: bytes, query: str, headers) -> AsyncBoltRequest:
    """The request as bolt reads it, or BadBody: bolt itself raises (500) on a body that is not UTF-8, not
    JSON where JSON is due, or JSON but not an object. Even a signed body is checked: it is still input."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("The request body is not UTF-8 text.") from None
    # Where bolt parses JSON (slack_bolt.request.internals.parse_body), check it is an object first.
    if text.startswith(("{", "[", '"')) or headers.get("Content-Type", "").startswith("application/json"):
        parse_json_object(text, "a JSON object")
    elif "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        if payload is not None:
            parse_json_object(payload, "a payload that is a JSON object")
    try:
        return AsyncBoltRequest(body=text, query=query, headers=headers)
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
        raise BadBody(f"Slack request not understood ({exc.__class__.__name__}).") from None


def _needs_bolt_reply(body: bytes) -> bool:
    """URL verification and SSL checks need bolt's own response body; everything else is a bare ack."""
    return body.startswith(b"ssl_check=") or (body.startswith(b"{") and b'"url_verification"' in body[:200])


async def slack_events(request: web.Request) -> web.Response:
    return await request.app[SLACK_DISPATCHER].handle(request)


def mount(app: web.Application, conversation: Conversation, settings: Settings) -> str:
    """Mount Slack when configured; return the log line that says whether it is on and why."""
    if not settings.slack_enabled:
        return "channel slack: off (set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN to enable)"
    socket_mode = bool(settings.slack_app_token)
    # Over HTTP our dispatcher acks first, so bolt may finish each request before returning; Socket Mode
    # acks through bolt, which must then ack before the listener runs.
    slack_app = build_slack_app(conversation, settings, process_before_response=not socket_mode)
    app[SLACK_APP] = slack_app

    async def open_session(_: web.Application) -> None:
        # One pooled HTTP session for Web API calls; without it slack_sdk opens a connection (and, against
        # Slack, a TLS handshake) per chat.postMessage.
        slack_app.client.session = aiohttp.ClientSession()

    async def close_session(_: web.Application) -> None:
        if slack_app.client.session is not None:
            await slack_app.client.session.close()

    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    if settings.slack_app_token:
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        handlers: list[AsyncSocketModeHandler] = []

        async def start(_: web.Application) -> None:
            # Created here, inside the running loop: the handler opens its own aiohttp session.
            handlers.append(AsyncSocketModeHandler(slack_app, settings.slack_app_token))
            await handlers[0].connect_async()

        async def stop(_: web.Application) -> None:
            for handler in handlers:
                await handler.close_async()

        app.on_startup.append(start)
        app.on_cleanup.append(stop)
        return "channel slack: on (Socket Mode, because SLACK_APP_TOKEN is set)"
    dispatcher = AckFirstDispatcher(slack_app, settings.slack_signing_secret or "", conversation.refused)
    app[SLACK_DISPATCHER] = dispatcher
    app.on_startup.append(dispatcher.start)
    app.on_shutdown.append(dispatcher.stop)
    app.router.add_post(EVENTS_PATH, slack_events)
    return f"channel slack: on (POST {EVENTS_PATH}, Events API with signature verification)"

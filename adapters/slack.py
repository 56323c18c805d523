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
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.json_body import BadBody, parse_json_object
from adapters.request_body import read_body
from adapters.slack_blocks import (
    escalation_message,
    handoff_confirmation,
    home_view,
    private_message,
    reply_message,
)
from bot.compose import Answer
from bot.conversation import EXAMPLE_QUESTIONS, Conversation
from bot.errors import PolicyBotError
from bot.keyedlocks import KeyedLocks
from bot.settings import Settings

log = logging.getLogger("policybot.slack")
CHANNEL = "slack"
EVENTS_PATH = "/slack/events"  # Events API, interactivity and the slash command all arrive here
SLASH_COMMAND = "/policy"
# Slack event subscriptions this adapter answers (manifest names: a DM arrives as `message.im`).
# `message.channels`/`message.groups` bring replies in threads the bot answered in (follow-ups without a mention).
SUBSCRIBED_EVENTS = ("app_home_opened", "app_mention", "message.channels", "message.groups", "message.im")
BOT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "chat:write",
    "commands",
    "groups:history",
    "im:history",
    "im:read",
    "im:write",
)
NOT_SHARED = "This answer is about a personal matter, so I don't share it in channels."
SLACK_APP = web.AppKey("slack_app", AsyncApp)
SLACK_DISPATCHER = web.AppKey("slack_dispatcher", object)

_MENTION = re.compile(r"<[@!#][^>]*>")
_LINK = re.compile(r"<(?:https?|mailto):[^|>]*\|([^>]*)>|<((?:https?|mailto):[^>]*)>")


def question_text(slack_text: str) -> str:
    """Slack's wire text to what the person typed: mentions and specials dropped, links to labels, unescaped."""
    text = _LINK.sub(lambda m: m.group(1) or m.group(2), slack_text or "")
    text = _MENTION.sub(" ", text)
    return " ".join(html.unescape(text).split())


def thread_id(team_id: str | None, channel_id: str | None, thread_ts: str | None = None) -> str:
    """The core's id for a Slack conversation: a channel thread, a DM thread, or a whole DM channel."""
    return ":".join([team_id or "-", channel_id or "-", *([thread_ts] if thread_ts else [])])


def _mentions(slack_text: str, bot_user_id: str | None) -> bool:
    """Whether a message mentions the bot (then app_mention answers it); any user mention if the id is unknown."""
    return (f"<@{bot_user_id}" in slack_text) if bot_user_id else "<@" in slack_text


def _bot_user(body: dict) -> str | None:
    authorizations = body.get("authorizations") or [{}]
    return authorizations[0].get("user_id") if isinstance(authorizations[0], dict) else None


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

    async def turn(
        text: str,
        team_id: str | None,
        user_id: str | None,
        channel_id: str | None,
        thread: str | None,
        private: bool = False,
    ):
        key, where = user_key(team_id, user_id), scopes(team_id, channel_id)
        return await conversation.turn(
            question_text(text), key, where, CHANNEL, thread=thread, private=private
        )

    async def answer_in_channel(
        reply, client: AsyncWebClient, say, channel_id: str | None, user_id: str | None, thread_ts: str
    ) -> None:
        """Post the reply in the thread; a personal or safeguarding answer goes to the asker alone instead."""
        if isinstance(reply, Answer) and reply.sensitive:
            await answer_privately(reply, client, channel_id, user_id, thread_ts)
            return
        await say(**reply_message(reply), thread_ts=thread_ts)

    async def answer_privately(
        answer: Answer, client: AsyncWebClient, channel_id: str | None, user_id: str | None, thread_ts: str
    ) -> None:
        """A DM to the asker (it lasts), else an ephemeral message in the channel; never a post others see."""
        message = private_message(answer, channel_id)
        try:
            opened = await client.conversations_open(users=user_id)
            await client.chat_postMessage(channel=opened["channel"]["id"], **message)
            return
        except (SlackApiError, KeyError, TypeError) as exc:
            log.warning("could not DM a sensitive answer (%s); sending it as an ephemeral message", exc)
        try:
            await client.chat_postEphemeral(channel=channel_id, user=user_id, thread_ts=thread_ts, **message)
        except SlackApiError as exc:  # nothing goes to the channel instead: the answer is the asker's alone
            log.error("could not answer a sensitive question privately: %s", exc)
            conversation.refused(CHANNEL, "private_reply_failed")

    @app.event("app_mention")
    async def on_mention(event: dict, body: dict, say, client: AsyncWebClient) -> None:
        if event.get("bot_id"):
            return
        team_id, channel_id = body.get("team_id"), event.get("channel")
        thread_ts = event.get("thread_ts") or event.get("ts") or ""  # a mention starts a thread at its own ts
        thread = thread_id(team_id, channel_id, thread_ts)
        reply = await turn(event.get("text", ""), team_id, event.get("user"), channel_id, thread)
        await answer_in_channel(reply, client, say, channel_id, event.get("user"), thread_ts)

    @app.event("message")
    async def on_message(event: dict, body: dict, say, client: AsyncWebClient, context) -> None:
        if event.get("subtype") or event.get("bot_id"):
            return  # edits, joins and other bots' messages are not questions to us
        team_id, channel_id, kind = body.get("team_id"), event.get("channel"), event.get("channel_type")
        thread_ts = event.get("thread_ts")
        if kind == "im":
            # Consecutive DMs are one conversation (for 30 minutes idle); a thread in the DM is its own.
            thread = thread_id(team_id, channel_id, thread_ts)
            reply = await turn(
                event.get("text", ""), team_id, event.get("user"), channel_id, thread, private=True
            )
            await say(**reply_message(reply), **({"thread_ts": thread_ts} if thread_ts else {}))
            return
        if kind not in ("channel", "group") or not thread_ts:
            return  # channel chatter outside a thread is not for us; a mention arrives as app_mention
        if _mentions(event.get("text", ""), context.get("bot_user_id") or _bot_user(body)):
            return  # app_mention answers it: answering here too would answer twice
        thread = thread_id(team_id, channel_id, thread_ts)
        if not await conversation.knows_thread(thread):
            return  # a thread the bot has not answered in (lately): people talking to each other
        reply = await turn(event.get("text", ""), team_id, event.get("user"), channel_id, thread)
        await answer_in_channel(reply, client, say, channel_id, event.get("user"), thread_ts)

    @app.command(SLASH_COMMAND)
    async def on_command(ack, command: dict, respond) -> None:
        await ack()
        reply = await turn(
            command.get("text", ""),
            command.get("team_id"),
            command.get("user_id"),
            command.get("channel_id"),
            None,  # each /policy is its own question: its answer is private and starts no thread
        )
        shareable = isinstance(reply, Answer) and not reply.sensitive
        await respond(response_type="ephemeral", **reply_message(reply, shareable=shareable))

    def _value(body: dict) -> dict[str, Any]:
        try:
            value = json.loads(body["actions"][0]["value"])
        except (KeyError, IndexError, ValueError, TypeError):
            return {}
        if not isinstance(value, dict):  # our buttons carry an object; anything else is not one of ours
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
        if answer.sensitive:  # never offered for one; a crafted click must not post it in the channel either
            await respond(response_type="ephemeral", replace_original=False, text=NOT_SHARED)
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

    @app.action("handoff")
    async def on_handoff(ack, body: dict, respond, client: AsyncWebClient) -> None:
        """Pass the question to the person the answer names: recorded, posted where HR watches, confirmed."""
        await ack()
        value = _value(body)
        user = body.get("user", {})
        user_id = user.get("id")
        try:
            receipt = await conversation.escalate(
                user_key(user.get("team_id") or body.get("team", {}).get("id"), user_id),
                CHANNEL,
                value.get("s"),
                value.get("r"),
                value.get("q") or None,
                value.get("c"),
                value.get("i"),
            )
        except PolicyBotError as exc:  # UnknownSchool: a value no answer of ours carried
            await respond(response_type="ephemeral", replace_original=False, text=exc.user_message)
            return
        escalation = receipt.escalation
        posted = False
        if settings.slack_escalation_channel and escalation is not None:
            message = escalation_message(
                user_id,
                receipt.school_name or escalation.school,
                escalation.school,
                receipt.contact_title,
                value.get("q") or None,  # shown to HR even where questions are not stored
                escalation.clause_id,
                escalation.interaction_id,
                receipt.citation,
            )
            try:
                await client.chat_postMessage(channel=settings.slack_escalation_channel, **message)
                posted = True
            except SlackApiError as exc:
                log.error("could not post a hand-off to the escalation channel: %s", exc)
        text = handoff_confirmation(
            receipt.contact_title,
            receipt.contact_how,
            posted,
            receipt.recorded,
            receipt.kept,
            duplicate=receipt.duplicate,
            passed_on=bool(settings.slack_escalation_channel),
        )
        await respond(response_type="ephemeral", replace_original=False, text=text)

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

    Messages of one conversation (a DM, or a thread) are answered one after another in the order they came:
    "can I go on fb at lunch?" and, a second later, "and on my own phone?" would otherwise be answered side by
    side, the follow-up before its question was in the thread. Other conversations go on meanwhile.
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
        self.conversations = KeyedLocks()  # the DMs and threads being answered

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
                # Taken before any await: workers take requests in order, so they take these locks in order.
                async with self.conversations.hold(conversation_of(bolt_request.body)):
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
        if body.startswith(b"ssl_check="):
            # Slack checking our certificate wants an empty 200, as bolt gives; bolt took a malformed one for an
            # event and failed authorising it against Slack's API (a 500 when that was unreachable).
            return web.Response(status=200)
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


def conversation_of(body: object) -> str | None:
    """The conversation a message event belongs to (a DM, or a thread), whose messages are answered in order;
    None for anything else."""
    event = body.get("event") if isinstance(body, dict) else None
    if not isinstance(event, dict) or event.get("type") not in ("message", "app_mention"):
        return None
    channel, thread_ts = event.get("channel"), event.get("thread_ts")
    if not isinstance(channel, str):
        return None
    if not thread_ts and event.get("channel_type") != "im":
        return None  # a mention outside a thread starts a thread of its own
    return thread_id(body.get("team_id"), channel, thread_ts if isinstance(thread_ts, str) else None)


_EVENT_TEXT_FIELDS = (
    "type",
    "text",
    "channel",
    "channel_type",
    "thread_ts",
    "ts",
    "user",
    "bot_id",
    "subtype",
)


def _check_shape(body: dict) -> None:
    """BadBody unless the fields our listeners and bolt's matchers read have the types Slack sends: a signed
    body with `"event": "x"` or `"actions": []` is still input, and failed inside bolt or a listener after the
    ack (an error and a traceback in the log for each)."""

    def fail(what: str) -> None:
        raise BadBody(f"Slack request not understood ({what}).")

    authorizations = body.get("authorizations")
    if authorizations is not None and not (
        isinstance(authorizations, list) and all(isinstance(a, dict) for a in authorizations)
    ):
        fail("authorizations")
    if "event" in body:
        event = body["event"]
        if not isinstance(event, dict):
            fail("event")
        if any(
            event.get(name) is not None and not isinstance(event[name], str) for name in _EVENT_TEXT_FIELDS
        ):
            fail("event fields")
    if body.get("type") == "block_actions":
        actions, user = body.get("actions"), body.get("user")
        if not isinstance(actions, list) or not actions or not all(isinstance(a, dict) for a in actions):
            fail("actions")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            fail("user")
        for action in actions:
            for name in ("action_id", "value", "block_id"):
                if action.get(name) is not None and not isinstance(action[name], str):
                    fail(f"action {name}")
            option = action.get("selected_option")
            if option is not None and not (isinstance(option, dict) and isinstance(option.get("value"), str)):
                fail("selected_option")


def _bolt_request(body: bytes, query: str, headers) -> AsyncBoltRequest:
    """The request as bolt reads it, or BadBody: bolt itself raises (500) on a body that is not UTF-8, not
    JSON where JSON is due, or JSON but not an object. Even a signed body is checked: it is still input."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("The request body is not UTF-8 text.") from None
    # Where bolt parses JSON (slack_bolt.request.internals.parse_body), check it is an object first.
    if text.startswith(("{", "[", '"')) or headers.get("Content-Type", "").startswith("application/json"):
        _check_shape(parse_json_object(text, "a JSON object"))
    elif "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        if payload is not None:
            _check_shape(parse_json_object(payload, "a payload that is a JSON object"))
    try:
        return AsyncBoltRequest(body=text, query=query, headers=headers)
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
        raise BadBody(f"Slack request not understood ({exc.__class__.__name__}).") from None


def _needs_bolt_reply(body: bytes) -> bool:
    """URL verification needs bolt's own response body (the challenge); everything else is a bare ack."""
    return body.startswith(b"{") and b'"url_verification"' in body[:200]


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

"""Microsoft Teams through Bot Framework's CloudAdapter: messages in, Adaptive Cards out.

With MICROSOFT_APP_ID set, every activity's bearer token is validated (401 otherwise). Without it, the channel
is off unless POLICYBOT_TEAMS_NO_AUTH=1, a local-testing mode for the Bot Framework Emulator that replies to
any serviceUrl and so is never for production.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus

import aiohttp
import jwt
import requests
from aiohttp import web
from azure.core.exceptions import DeserializationError, SerializationError
from botbuilder.core import ActivityHandler, CardFactory, InvokeResponse, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)

from adapters import teams_keys
from adapters.json_body import BadBody, parse_json_object
from adapters.request_body import read_body
from adapters.teams_cards import (
    HANDOFF,
    HANDOFF_QUESTION_CHARS,
    escalation_card,
    handoff_confirmation,
    reply_parts,
)
from bot.compose import Answer
from bot.conversation import Conversation, EscalationReceipt, Reply
from bot.errors import PolicyBotError
from bot.settings import Settings

log = logging.getLogger("policybot.teams")
CHANNEL = "teams"
MESSAGES_PATH = "/api/messages"
TEAMS = web.AppKey("teams", object)
MAX_ACTIVITY_BYTES = 64 * 1024
_AT_TAG = re.compile(r"</?at>", re.I)
SHARED = ("channel", "groupChat")  # conversation types others can read
# What a channel sees when an answer or a confirmation meant for the asker alone could not reach them
# privately: nothing from the question, nothing about the matter.
ASK_PRIVATELY = "This is best answered privately: please message me directly."
PASSED_ON = "Done: it has been passed on, and they will get back to you directly."
NOT_PASSED_ON = "I could not pass this on from here: please contact the person named in the answer directly."
MAX_CLAUSE_ID_CHARS = 100


class _AuthConfig:
    """The configuration object botbuilder reads its credentials from."""

    def __init__(self, settings: Settings):
        self.APP_ID = settings.microsoft_app_id or ""
        self.APP_PASSWORD = settings.microsoft_app_password or ""
        self.APP_TYPE = settings.microsoft_app_type
        self.APP_TENANTID = settings.microsoft_app_tenant_id or ""


def _tenant(activity) -> str | None:
    tenant = getattr(activity.conversation, "tenant_id", None) if activity.conversation else None
    data = activity.channel_data or {}
    return tenant or (data.get("tenant") or {}).get("id")


# channels.yaml's `teams:` sections this adapter reads, most specific first.
SCOPE_SECTIONS = ("teams", "tenants")


def scope_key(section: str, teams_id: str) -> str:
    """The key `channels.yaml`'s `teams: {section: {teams_id: school}}` entry is known by."""
    return f"{CHANNEL}:{section}:{teams_id}"


def _scopes(activity) -> tuple[str, ...]:
    """The mapped scopes an activity is in, most specific first: its team, then its tenant."""
    data = activity.channel_data or {}
    ids = {"teams": (data.get("team") or {}).get("id"), "tenants": _tenant(activity)}
    return tuple(scope_key(section, ids[section]) for section in SCOPE_SECTIONS if ids[section])


def _thread(activity) -> str | None:
    """The key this message's conversation is remembered by, so the next message in it reads as a follow-up.

    A personal chat's conversation id is constant: the core forgets the thread after 30 minutes idle, so the
    next message within 30 minutes is a follow-up. In a channel the connector gives every reply chain its own
    id (`19:...@thread.tacv2;messageid=<root>`), so a reply in the chain is a follow-up and a new top-level
    post starts afresh. A group chat's id is shared by everyone in it, so there it is one thread per person.
    """
    conversation = activity.conversation
    if conversation is None or not conversation.id:
        return None
    kind = getattr(conversation, "conversation_type", None)
    if kind == "channel" and ";messageid=" not in conversation.id:
        root = activity.reply_to_id or activity.id  # a client that left the chain's root out of the id
        return f"{CHANNEL}:{conversation.id};messageid={root}" if root else None
    if kind == "groupChat":
        return f"{CHANNEL}:{conversation.id}:{_user_key(activity)}"
    return f"{CHANNEL}:{conversation.id}"


def _shared(activity) -> bool:
    return getattr(activity.conversation, "conversation_type", None) in SHARED


def _message(reply: Reply) -> Activity:
    """The reply as an activity: its Adaptive Card with the text fallback, or the text alone."""
    fallback, card = reply_parts(reply)
    if not card:
        return MessageFactory.text(fallback)
    message = MessageFactory.attachment(CardFactory.adaptive_card(card), text=fallback)
    message.summary = fallback[:200]
    return message


async def _send_new(context: TurnContext, message: Activity) -> bool:
    """Send `message` as a new message in a proactive turn's conversation (POST .../activities).

    botbuilder gives a proactive turn a made-up activity id, and `send_activity` would reply to it. Errors are
    logged and reported as False, not raised: the adapter's error handler would otherwise apologise into the
    conversation that just failed and the caller would think the message had gone.
    """
    try:
        TurnContext.apply_conversation_reference(
            message, TurnContext.get_conversation_reference(context.activity)
        )
        message.reply_to_id = None
        await context.adapter.send_activities(context, [message])
    except Exception as exc:  # noqa: BLE001 - the connector's own errors (HTTP, auth) vary by version
        log.warning("Teams proactive message not sent: %s", exc.__class__.__name__)
        return False
    return True


def _user_key(activity) -> str:
    who = activity.from_property
    person = (getattr(who, "aad_object_id", None) or getattr(who, "id", None) or "-") if who else "-"
    return f"teams:{_tenant(activity) or '-'}:{person}"


SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512")  # what Bot Framework signs with; anything else is refused


def _plausible_bearer(header: str) -> bool:
    """A cheap first gate before botbuilder's full validation: a JWT whose header names an RSA algorithm and
    whose claims name an issuer.

    It spares the signing-key lookup for requests that can never be valid (no token, garbage, HS256 forgeries),
    and botbuilder reads `iss` unchecked before it verifies anything: without one it raised KeyError (a 500).
    """
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    try:
        if jwt.get_unverified_header(token).get("alg") not in SIGNING_ALGORITHMS:
            return False
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return isinstance(claims.get("iss"), str)


def _malformed(payload: dict) -> str | None:
    """What makes a JSON object no Bot Framework activity we can answer, or None. Checked before any token: an
    activity botbuilder cannot read raised its own error (a 500), and one it could read but without the fields
    a message needs failed inside the turn."""
    try:
        activity = Activity().deserialize(payload)
    except (DeserializationError, SerializationError, TypeError, ValueError, AttributeError):
        return "The body is not a Bot Framework activity."
    if not isinstance(activity.type, str) or not activity.type:
        return "The activity has no `type`."
    if activity.type == "message" and not (
        activity.conversation and isinstance(activity.conversation.id, str)
    ):
        return "A message activity needs a `conversation` with an `id`."
    if payload.get("channelData") is not None and not isinstance(payload.get("channelData"), dict):
        return "`channelData` must be an object."
    tenant = (payload.get("channelData") or {}).get("tenant")
    if tenant is not None and not isinstance(tenant, dict):
        return "`channelData.tenant` must be an object."
    for entity in payload.get("entities") or ():
        if not isinstance(entity, dict) or not isinstance(entity.get("mentioned", {}), dict):
            return "`entities` must be objects, and a mention's `mentioned` an account."
    return None


class PolicyBot(ActivityHandler):
    def __init__(self, conversation: Conversation, settings: Settings):
        self.conversation = conversation
        self.app_id = settings.microsoft_app_id or ""
        self.escalation_conversation = settings.teams_escalation_conversation
        self.escalation_service_url = settings.teams_service_url

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        # Our cards submit as messages (Action.Submit); no invoke (Action.Execute, task modules, message
        # extensions) is ours to answer, so one is the sender's mistake. botbuilder's own handling of one built
        # its reply from the activity's value, and failed (a 500) on a value it could not read.
        return InvokeResponse(status=int(HTTPStatus.BAD_REQUEST))

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        claim = f"teams:{activity.conversation.id}:{activity.id}"
        if activity.id and not await self.conversation.claim(claim):
            log.info("duplicate Teams activity %s acknowledged without answering", activity.id)
            return
        action = activity.value.get("action") if isinstance(activity.value, dict) else None
        if action == "feedback":
            await self._feedback(turn_context, activity.value)
            return
        if action == HANDOFF:
            await self._handoff(turn_context, activity.value)
            return
        text = TurnContext.remove_recipient_mention(activity) if activity.entities else (activity.text or "")
        text = " ".join(_AT_TAG.sub(" ", text or "").split())
        reply = await self.conversation.turn(
            text,
            _user_key(activity),
            _scopes(activity),
            CHANNEL,
            thread=_thread(activity),
            private=not _shared(activity),
        )
        if isinstance(reply, Answer) and reply.sensitive and _shared(activity):
            # A personal or safeguarding matter goes to the asker alone; the channel learns nothing of it.
            if not await self._send_privately(turn_context, _message(reply)):
                await turn_context.send_activity(MessageFactory.text(ASK_PRIVATELY))
            return
        await turn_context.send_activity(_message(reply))

    async def _send_privately(self, turn_context: TurnContext, message: Activity) -> bool:
        """Send `message` to the asker in a personal chat with the bot (made if need be); False if it could
        not be, e.g. when the app is not installed for the asker or the tenant forbids it."""
        activity = turn_context.activity
        asker = activity.from_property
        if asker is None or not asker.id or not activity.service_url:
            return False
        tenant = _tenant(activity)
        parameters = ConversationParameters(
            is_group=False,
            bot=activity.recipient,
            members=[ChannelAccount(id=asker.id, name=asker.name)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}} if tenant else None,
        )
        sent = False

        async def send(context: TurnContext) -> None:
            nonlocal sent
            sent = await _send_new(context, message)

        try:
            await turn_context.adapter.create_conversation(
                self.app_id, send, parameters, activity.channel_id or "msteams", activity.service_url
            )
        except Exception as exc:  # noqa: BLE001 - a refused or failed 1:1 falls back to a neutral line
            log.warning("Teams personal conversation not created: %s", exc.__class__.__name__)
            return False
        return sent

    async def _handoff(self, turn_context: TurnContext, value: dict) -> None:
        """The hand-off button: record it, post it to the escalation conversation, confirm to the asker."""
        activity = turn_context.activity
        question = value.get("q") if isinstance(value.get("q"), str) else None
        question = " ".join(question.split())[:HANDOFF_QUESTION_CHARS] if question else None
        try:
            receipt = await self.conversation.escalate(
                _user_key(activity),
                CHANNEL,
                value.get("s"),
                value.get("r"),
                question=question,
                clause_id=value.get("c"),
                interaction_id=value.get("i"),
            )
        except PolicyBotError as exc:  # an unknown school: the button was not one of ours
            await turn_context.send_activity(exc.user_message)
            return
        given = value.get("s")
        choice = self.conversation.school_choice(given) if isinstance(given, str) else None
        school = choice.name if choice is not None else ""
        # A second click on the same answer's button reaches HR once: they have it already.
        delivered = receipt.duplicate or await self._deliver(
            turn_context, receipt, school, question, value.get("c")
        )
        confirmation = MessageFactory.text(handoff_confirmation(receipt, school, delivered))
        if not _shared(activity):
            await turn_context.send_activity(confirmation)
        elif not await self._send_privately(turn_context, confirmation):
            await turn_context.send_activity(PASSED_ON if delivered else NOT_PASSED_ON)

    async def _deliver(
        self,
        turn_context: TurnContext,
        receipt: EscalationReceipt,
        school: str,
        question: str | None,
        clause_id: object,
    ) -> bool:
        """Post the hand-off to TEAMS_ESCALATION_CONVERSATION, mentioning the asker; False if not set or not sent."""
        if not (self.escalation_conversation and self.escalation_service_url):
            return False
        activity = turn_context.activity
        asker = activity.from_property or ChannelAccount(id="", name=None)
        summary, card = escalation_card(
            school_name=school,
            contact_title=receipt.contact_title,
            question=question,
            clause_id=clause_id[:MAX_CLAUSE_ID_CHARS] if isinstance(clause_id, str) else None,
            asker_id=asker.id or "",
            asker_name=asker.name,
        )
        message = MessageFactory.attachment(CardFactory.adaptive_card(card))
        message.summary = summary
        bot = activity.recipient or ChannelAccount(id=f"28:{self.app_id}")
        reference = ConversationReference(
            service_url=self.escalation_service_url,
            channel_id="msteams",
            conversation=ConversationAccount(id=self.escalation_conversation),
            bot=ChannelAccount(id=bot.id, name=bot.name),
        )
        sent = False

        async def send(context: TurnContext) -> None:
            nonlocal sent
            sent = await _send_new(context, message)

        try:
            await turn_context.adapter.continue_conversation(reference, send, bot_app_id=self.app_id)
        except Exception as exc:  # noqa: BLE001 - the asker is told how to reach the contact instead
            log.warning("Teams escalation not delivered: %s", exc.__class__.__name__)
            return False
        log.info("Teams escalation delivered=%s", sent)
        return sent

    async def _feedback(self, turn_context: TurnContext, value: dict) -> None:
        receipt = await self.conversation.feedback(
            _user_key(turn_context.activity),
            CHANNEL,
            value.get("s"),
            value.get("c"),
            bool(value.get("helpful")),
            interaction_id=value.get("i"),
            comment=value.get("comment"),
        )
        await turn_context.send_activity(receipt.message)

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        activity = turn_context.activity
        for member in members_added:
            if member.id == activity.recipient.id:
                continue  # the bot itself joining
            if not await self.conversation.claim(f"teams-greet:{activity.conversation.id}:{member.id}"):
                continue
            school = await self.conversation.school_for(
                f"teams:{_tenant(activity) or '-'}:{member.id}", _scopes(activity)
            )
            fallback, card = reply_parts(
                await self.conversation.reply("help", f"teams:-:{member.id}", _scopes(activity))
            )
            if school is None or card is None:
                await turn_context.send_activity(MessageFactory.text(fallback))
            else:
                await turn_context.send_activity(
                    MessageFactory.attachment(CardFactory.adaptive_card(card), text=fallback)
                )


class TeamsChannel:
    def __init__(self, conversation: Conversation, settings: Settings):
        self.adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(_AuthConfig(settings)))
        self.bot = PolicyBot(conversation, settings)

        async def on_error(context: TurnContext, error: Exception) -> None:
            log.error("Teams turn error: %s", error, exc_info=error)
            try:
                await context.send_activity("Sorry, something went wrong on our side and I could not answer.")
            except Exception:  # noqa: BLE001 - the connector itself may be what failed
                log.warning("could not send the apology to Teams")

        self.adapter.on_turn_error = on_error
        self.requires_auth = bool(settings.microsoft_app_id)
        # botbuilder's key fetch blocks the event loop without a timeout; ours does not (adapters/teams_keys.py)
        self.signing_keys = (
            teams_keys.install(settings.teams_openid_metadata_url) if self.requires_auth else {}
        )

    async def messages(self, request: web.Request) -> web.Response:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "Content-Type must be application/json"}, status=415)
        try:
            payload = parse_json_object(
                await read_body(request), "one Bot Framework activity as a JSON object"
            )
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "activity too large"}, status=413)
        except BadBody as exc:
            return web.json_response({"error": exc.user_message}, status=400)
        problem = _malformed(payload)
        if problem is not None:
            log.warning("Teams activity refused: %s", problem)
            return web.json_response({"error": problem}, status=400)
        if self.requires_auth and not _plausible_bearer(request.headers.get("Authorization", "")):
            log.warning("Teams activity refused: missing or malformed bearer token")
            return web.json_response({"error": "Unauthorized"}, status=401)
        try:
            response = await self.adapter.process(request, self.bot)
        except web.HTTPException as exc:
            if exc.status == 401:
                log.warning("Teams activity refused: missing or invalid bearer token")
            return web.json_response({"error": exc.reason}, status=exc.status)
        except jwt.PyJWTError as exc:  # a malformed or forged token is the sender's problem: 401, not 500
            log.warning("Teams activity refused: invalid bearer token (%s)", exc.__class__.__name__)
            return web.json_response({"error": "Unauthorized"}, status=401)
        except teams_keys.SigningKeysUnavailable:  # only Teams waits for the keys; every other route serves
            return web.json_response(
                {"error": "token validation unavailable"}, status=503, headers={"Retry-After": "5"}
            )
        except (
            aiohttp.ClientError,
            requests.RequestException,
        ) as exc:  # keys unreachable: retryable, our side
            log.error("Teams token validation could not reach the OpenID metadata: %s", exc)
            return web.json_response({"error": "token validation unavailable"}, status=503)
        except PolicyBotError as exc:
            return web.json_response({"error": exc.user_message}, status=400)
        return response or web.Response(status=201)


def mount(app: web.Application, conversation: Conversation, settings: Settings) -> str:
    if not settings.teams_enabled:
        return "channel teams: off (set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD to enable)"
    channel = TeamsChannel(conversation, settings)
    app[TEAMS] = channel
    app.router.add_post(MESSAGES_PATH, channel.messages)
    if settings.microsoft_app_id:
        return f"channel teams: on (POST {MESSAGES_PATH}, Bot Framework JWT validation, {settings.microsoft_app_type})"
    log.warning(
        "POLICYBOT_TEAMS_NO_AUTH=1: Teams activities are NOT authenticated and replies go to any serviceUrl. "
        "Use only with the Bot Framework Emulator on a private machine."
    )
    return "channel teams: on WITHOUT AUTHENTICATION (POLICYBOT_TEAMS_NO_AUTH=1, local testing only)"

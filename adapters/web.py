"""The local web chat: `GET /` serves a self-contained chat page, `POST /api/ask` answers with the JSON contract,
`POST /api/escalate` records a hand-off to the contact an answer names.

The page sends one `thread` id per browser session (and per school), so a follow-up is read in the light of the
questions before it. Greetings, "help" and "thanks" get a short `{"status": "help"}` reply instead of a search.

Every bad request gets a 4xx with a JSON `error` message the page can show; nothing here raises a 5xx for
anything a user can send.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from importlib import resources

from aiohttp import web

from adapters.json_body import BadBody, parse_json, parse_json_object
from adapters.request_body import read_body
from bot.compose import in_sentence
from bot.contract import answer_dict, error_dict
from bot.conversation import (
    FEEDBACK_ID_LIMITS,
    MAX_COMMENT_CHARS,
    Conversation,
    EscalationReceipt,
    Help,
    Notice,
)
from bot.errors import InvalidQuestion, InvalidThread, UnknownSchool
from bot.followup import thread_id
from bot.settings import Settings

log = logging.getLogger("policybot.web")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CHANNEL = "web"
USER_KEY = "web:anonymous"  # the page has no login: every asker is the same anonymous user
# The widths of the escalation record's id columns: longer values cannot come from an answer this server gave.
ESCALATION_ID_LIMITS = {**FEEDBACK_ID_LIMITS, "role": 64}
_LETTER = re.compile(r"[^\W\d_]")
HELP_MESSAGE = (
    "Hi! I answer questions about {school}'s social media policy: I quote the exact clause, show your school's "
    "version of the rule and tell you who to contact. Try asking:"
)


def _error(status: int, message: str, **context) -> web.Response:
    """A 4xx/5xx with a JSON `error`; the school and question are echoed only when they are text (a posted
    60 kB list is not sent back)."""
    school, question = (
        v if isinstance(v, str) else None for v in (context.get("school"), context.get("question"))
    )
    return web.json_response(error_dict(message, school, question), status=status)


def _reach(receipt: EscalationReceipt) -> str:
    return f"To reach them now: {receipt.contact_how or 'ask in person'}."


class WebChat:
    """The page's API over one Conversation: every failure a user can cause is a 4xx with a message."""

    def __init__(self, conversation: Conversation, storage: bool = True):
        self.conversation = conversation
        self.storage = storage

    def _school_id(self, given: str) -> str | None:
        choice = self.conversation.school_choice(given)
        return choice.id if choice is not None else None

    def _small_talk(self, question: object, school: str) -> web.Response | None:
        """A greeting, "help" or "thanks" at a known school: a short reply with example questions, not a search.

        Only text with a letter in it can be small talk: an empty question still gets the 422 saying what to type.
        """
        school_id = self._school_id(school)
        if not isinstance(question, str) or school_id is None or not _LETTER.search(question):
            return None
        chat = self.conversation.small_talk(" ".join(question.split()), school_id, CHANNEL)
        if chat is None:
            return None
        choice = self.conversation.school_choice(school_id)
        name = choice.name if choice is not None else school_id
        reply = {"status": "help", "school": school_id, "school_name": name, "question": question}
        if isinstance(chat, Help):
            reply |= {"message": HELP_MESSAGE.format(school=name), "examples": list(chat.examples)}
        else:
            assert isinstance(chat, Notice)
            reply |= {"message": chat.message, "examples": []}
        return web.json_response(reply)

    async def _payload(self, request: web.Request, shape: str) -> dict | web.Response:
        """The request's JSON object, or the 4xx response saying what was wrong with it (counted)."""
        try:
            body = await read_body(request)
        except web.HTTPRequestEntityTooLarge:
            self.conversation.refused(CHANNEL, "too_large")
            return _error(413, "The request is too large. Please keep questions under 1,000 characters.")
        try:
            return parse_json_object(body, shape)
        except BadBody as exc:
            self.conversation.refused(CHANNEL, "bad_json")
            return _error(400, exc.user_message)

    async def ask(self, request: web.Request) -> web.Response:
        refused = self.conversation.refused
        payload = await self._payload(request, 'a JSON object: {"school": "...", "question": "..."}')
        if isinstance(payload, web.Response):
            return payload
        school, question = payload.get("school"), payload.get("question")
        if question is None:  # no question at all is an empty one: say what to type, not what type to send
            question = ""
        if not isinstance(school, str) or not school:
            refused(CHANNEL, "no_school")
            return _error(400, "Choose a school.", question=question)
        try:
            thread = thread_id(payload.get("thread"))
        except InvalidThread as exc:
            refused(CHANNEL, "bad_thread")
            return _error(400, exc.user_message, school=school, question=question)
        chat = self._small_talk(question, school)
        if chat is not None:
            return chat
        try:
            # A web chat page is one person's conversation: a sensitive answer carries its thread on there.
            answer = await self.conversation.answer(question, school, CHANNEL, thread=thread, private=True)
        except UnknownSchool as exc:
            refused(CHANNEL, "unknown_school")
            return _error(404, exc.user_message, school=school)
        except InvalidQuestion as exc:
            refused(CHANNEL, "invalid_question")
            return _error(422, exc.user_message, school=school)
        except Exception:
            # our fault, not the asker's: a short apology and a contact, details only in the log
            log.exception("web answer failed")
            refused(CHANNEL, "internal")
            return _error(500, self.conversation.apology(school).message, school=school)
        return web.json_response(answer_dict(answer))

    async def feedback(self, request: web.Request) -> web.Response:
        """A 👍/👎 from the web page: `{"interaction_id": ..., "helpful": true|false, "comment": optional}`."""
        try:
            payload = parse_json(await read_body(request))
        except BadBody as exc:
            return _error(400, exc.user_message)
        if not isinstance(payload, dict) or not isinstance(payload.get("helpful"), bool):
            return _error(400, 'Send {"interaction_id": "...", "helpful": true or false}.')
        interaction = payload.get("interaction_id")
        comment = payload.get("comment")
        if not isinstance(interaction, str) or not interaction:
            return _error(400, "`interaction_id` is missing.")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS):
            return _error(400, f"`comment` must be text of at most {MAX_COMMENT_CHARS:,} characters.")
        school = payload.get("school") if isinstance(payload.get("school"), str) else None
        clause = payload.get("clause_id") if isinstance(payload.get("clause_id"), str) else None
        for field, value in (("interaction_id", interaction), ("school", school), ("clause_id", clause)):
            if value is not None and len(value) > FEEDBACK_ID_LIMITS[field]:
                return _error(400, f"`{field}` is too long to be one of ours.")
        receipt = await self.conversation.feedback(
            "web:anonymous", CHANNEL, school, clause, payload["helpful"], interaction, comment
        )
        # 200 only once the vote is in the database; 503 says it is not, with a message to show as it is
        if receipt.recorded:
            return web.json_response({"status": "recorded", "message": receipt.message})
        return web.json_response({"status": "not_recorded", "message": receipt.message}, status=503)

    async def escalate(self, request: web.Request) -> web.Response:
        """The hand-off button: `{"school", "role", "question", "clause_id", "interaction_id", "thread"?}`.

        The web has nowhere to deliver it: it is recorded for the contact's team to read in the database, and the
        reply always says how to reach the contact now. 200 only once it is in the database; 503 (with how to
        reach them) when it could not be written or this server keeps no records at all.
        """
        payload = await self._payload(
            request, 'a JSON object: {"school": "...", "role": "...", "question": "..."}'
        )
        if isinstance(payload, web.Response):
            return payload
        school, role = payload.get("school"), payload.get("role")
        if not isinstance(school, str) or not school:
            return _error(400, "`school` is missing.")
        if not isinstance(role, str) or not role:
            return _error(400, "`role` is missing.", school=school)
        question = payload.get("question")
        if question is not None and not isinstance(question, str):
            return _error(400, "`question` must be text.", school=school)
        ids = {}
        for field in ("clause_id", "interaction_id"):
            value = payload.get(field)
            if value is not None and not isinstance(value, str):
                return _error(400, f"`{field}` must be text.", school=school)
            ids[field] = value
        for field, value in (("school", school), ("role", role), *ids.items()):
            if value is not None and len(value) > ESCALATION_ID_LIMITS[field]:
                return _error(400, f"`{field}` is too long to be one of ours.", school=school)
        try:  # checked like /api/ask's; the record has no thread column (yet)
            thread_id(payload.get("thread"))
        except InvalidThread as exc:
            return _error(400, exc.user_message, school=school)
        try:
            receipt = await self.conversation.escalate(
                USER_KEY, CHANNEL, school, role, question, ids["clause_id"], ids["interaction_id"]
            )
        except UnknownSchool as exc:
            self.conversation.refused(CHANNEL, "unknown_school")
            return _error(404, exc.user_message, school=school)
        who = in_sentence(receipt.contact_title)
        if receipt.recorded:
            message = f"Your question is recorded for {who}. {_reach(receipt)}"
            return web.json_response({"status": "recorded", "message": message})
        if not self.storage:
            message = (
                f"This server keeps no records (its storage is turned off), so {who} will not see this. "
                f"{_reach(receipt)}"
            )
        else:
            message = (
                f"Sorry, I could not record your question for {who}: the database is unavailable just now. "
                f"{_reach(receipt)}"
            )
        return web.json_response({"status": "not_recorded", "message": message}, status=503)

    async def schools(self, request: web.Request) -> web.Response:
        return web.json_response([{"id": s.id, "name": s.name} for s in self.conversation.schools()])


# A speech bubble in the page's colour: browsers ask for /favicon.ico on every visit, and a 404 fills the log.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<path fill="#2457c5" d="M2 2h12a1 1 0 0 1 1 1v7a1 1 0 0 1-1 1H7l-4 3v-3H2a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1z"/>'
    "</svg>"
)


async def favicon(request: web.Request) -> web.Response:
    return web.Response(
        text=FAVICON,
        content_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


def _inline_hashes(html: str, tag: str) -> str:
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.S)
    return " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in blocks
    )


@functools.cache
def _page() -> tuple[str, dict[str, str]]:
    """The page and its security headers. The page needs nothing from elsewhere, so the policy allows only its
    own inline script and style (by hash: an injected one would not match) and requests to this server."""
    html = resources.files("adapters").joinpath("web_chat.html").read_text(encoding="utf-8")
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_inline_hashes(html, 'script')}",
            f"style-src {_inline_hashes(html, 'style')}",
            "connect-src 'self'",
            "img-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",  # the form is sent by script; a plain submit goes nowhere
            "frame-ancestors 'none'",
        ]
    )
    headers = {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return html, headers


async def page(request: web.Request) -> web.Response:
    html, headers = _page()
    return web.Response(text=html, content_type="text/html", charset="utf-8", headers=headers)


def json_only(handler: Handler, refused: Callable[[str, str], None]) -> Handler:
    """`handler`, for a body sent as application/json only (415 otherwise).

    Another site's page can make a browser POST text/plain here without asking first (a CORS "simple request"):
    votes and hand-offs in a staff member's name. A JSON body needs the browser to ask first, and we never say
    yes, so only our own page (same origin) can send one.
    """

    @functools.wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            refused(CHANNEL, "bad_content_type")
            return _error(415, "Send the body as JSON, with Content-Type: application/json.")
        return await handler(request)

    return checked


def mount(app: web.Application, conversation: Conversation, settings: Settings) -> str:
    """The web chat needs no credentials, so it is always on."""
    chat = WebChat(conversation, storage=settings.storage)
    app.router.add_get("/", page)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/api/schools", chat.schools)
    for path, handler in (
        ("/api/ask", chat.ask),
        ("/api/feedback", chat.feedback),
        ("/api/escalate", chat.escalate),
    ):
        app.router.add_post(path, json_only(handler, conversation.refused))
    return (
        "channel web: on (GET /, GET /api/schools and POST /api/ask, /api/feedback and /api/escalate need no "
        "credentials)"
    )

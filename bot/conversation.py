"""Chat turns, channel-neutral: which school is asking, help and greetings, "school X", and the answer.

Adapters translate an event into `(text, user_key, scopes)`, call `turn` and render whichever Reply comes
back; `claim` tells them whether an event was already answered, `refused` counts a request they turned away.
Knowing who is asking (a remembered choice, the channel's mapped school, the default) lives here so that every
channel behaves the same. User ids are hashed by the conversation's `UserHasher` before anything keeps them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from dataclasses import dataclass

from bot.assistant import MAX_QUESTION_CHARS, Assistant
from bot.compose import Answer, cite
from bot.errors import PolicyBotError, UnknownSchool
from bot.followup import with_turn
from bot.keyedlocks import KeyedLocks
from bot.metrics import Metrics
from bot.privacy import UserHasher
from bot.records import Escalation, Feedback, Interaction, Thread, Turn
from bot.store.fit import LIMITS
from bot.store.recorder import Recorder

log = logging.getLogger("policybot.conversation")

EXAMPLE_QUESTIONS = (
    "Can I accept a friend request from a parent?",
    "Can I go on Facebook at lunchtime?",
    "Someone is abusing me online, who do I tell?",
)
THANKS = frozenset(["thanks", "thank", "cheers", "ta", "thx", "ty"])
YOU_ARE_WELCOME = "You're welcome. Ask me anything else about your school's social media policy."
GREETINGS = frozenset(
    [
        "help",
        "hi",
        "hello",
        "hey",
        "hiya",
        "yo",
        "morning",
        "afternoon",
        "evening",
        "start",
        "thanks",
        "thank",
        "cheers",
        "ta",
        "menu",
        "commands",
    ]
)
# "school reading", "my school is Howitt", "change school to rutland": a command only when what follows names a
# known school (or nothing), so "school trip pics on fb ok?" is a question.
_SCHOOL_COMMAND = re.compile(
    r"^\s*(?:set\s+|change\s+)?(?:my\s+)?school\b\s*(?:to|is|=|:)?\s*(?P<name>.*?)\s*[.!]?\s*$", re.I
)
_WORDS = re.compile(r"[a-z']+")
MAX_COMMENT_CHARS = 2000
# The widths of the feedback record's id columns: an id longer than these cannot be one this server handed out.
FEEDBACK_ID_LIMITS = {k: LIMITS[Feedback][k] for k in ("interaction_id", "school", "clause_id")}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


FEEDBACK_RECORDED = "Thanks, your feedback is recorded: it helps HR improve the answers."
FEEDBACK_ALREADY = "Thanks, your feedback on this answer is already recorded."
FEEDBACK_NOT_RECORDED = (
    "Thanks, but I could not record your feedback: the database is unavailable just now. I will keep trying "
    "while I run, but it may be lost, so please send it again later."
)
FEEDBACK_NOT_KEPT = (
    "Thanks. This server keeps no feedback (its storage is turned off), so HR will not see it."
)


@dataclass(frozen=True)
class FeedbackReceipt:
    """Whether a vote is in the database, and what to tell the person who gave it."""

    recorded: bool
    message: str


@dataclass(frozen=True)
class EscalationReceipt:
    """A hand-off: the escalation as recorded (None if it could not be), and who it is for."""

    escalation: Escalation | None
    contact_title: str
    contact_how: str | None
    recorded: bool
    # False: this server keeps no records at all (storage off), so nothing could be recorded.
    kept: bool = True
    duplicate: bool = False  # the same asker already passed on this answer: nothing recorded or posted again
    school_name: str = ""
    citation: str | None = None  # the quoted clause's citation, when the button named one of the school's


@dataclass(frozen=True)
class SchoolChoice:
    id: str
    name: str


@dataclass(frozen=True)
class Help:
    """What the bot can do, for greetings and "help"."""

    school: SchoolChoice | None
    examples: tuple[str, ...]
    schools: tuple[SchoolChoice, ...]


@dataclass(frozen=True)
class SchoolChosen:
    school: SchoolChoice


@dataclass(frozen=True)
class ChooseSchool:
    """The school is unknown: ask rather than guess. `pending` is the question to answer once chosen."""

    pending: str | None
    schools: tuple[SchoolChoice, ...]
    message: str


@dataclass(frozen=True)
class Notice:
    """A short message for something the asker sent that cannot be answered (empty, too long, unknown school)."""

    message: str


Reply = Answer | Help | SchoolChosen | ChooseSchool | Notice


def is_greeting(text: str) -> bool:
    words = _WORDS.findall(text.lower())
    return not words or (
        len(words) <= 3
        and all(w in GREETINGS or w in {"you", "there", "bot", "good", "very", "much"} for w in words)
    )


def is_thanks(text: str) -> bool:
    words = _WORDS.findall(text.lower())
    return bool(words) and is_greeting(text) and any(w in THANKS for w in words)


class Conversation:
    def __init__(
        self,
        assistant: Assistant,
        recorder: Recorder | None = None,
        default_school: str | None = None,
        metrics: Metrics | None = None,
        store_questions: bool = True,
        hasher: UserHasher | None = None,
    ):
        self.assistant = assistant
        self.metrics = metrics or (recorder.metrics if recorder else Metrics())
        self.recorder = recorder or Recorder(None, self.metrics)
        self.store_questions = store_questions
        self.default_school = default_school
        self.hasher = hasher or UserHasher()
        self._threads = KeyedLocks()  # a thread's turns are read and saved one message at a time
        self._schools: tuple[object, tuple[SchoolChoice, ...]] = (None, ())

    # -- what adapters need besides a turn -------------------------------------------------------------------------
    async def claim(self, event_key: str) -> bool:
        """True the first time this event (`kind:ids`) is seen by any replica: answer it; False: a retry."""
        return await self.recorder.claim_event(self.hasher.event_key(event_key))

    async def release(self, event_key: str) -> None:
        """Undo `claim`: handling the event failed, so a retry of it is handled, not dropped as a duplicate."""
        await self.recorder.release_event(self.hasher.event_key(event_key))

    def refused(self, channel: str, kind: str) -> None:
        """Count a request a channel turned away (bad signature, bad JSON, too large...) by kind."""
        self.metrics.errors.labels(channel, kind).inc()

    async def current_school(self, user_key: str, scopes: tuple[str, ...] = ()) -> SchoolChoice | None:
        school_id = await self.school_for(user_key, scopes)
        school = self.assistant.kb.schools.get(school_id) if school_id else None
        return SchoolChoice(school.id, school.name) if school else None

    # -- who is asking -----------------------------------------------------------------------------------------
    def schools(self) -> tuple[SchoolChoice, ...]:
        """Every school, by name; sorted once per knowledge base (hundreds of schools, and asked per message)."""
        kb = self.assistant.kb
        if self._schools[0] is not kb:
            choices = tuple(
                SchoolChoice(s.id, s.name) for s in sorted(kb.schools.values(), key=lambda s: s.name)
            )
            self._schools = (kb, choices)
        return self._schools[1]

    def school_choice(self, given: str) -> SchoolChoice | None:
        """The school `given` names (its id, in any case), or None."""
        kb = self.assistant.kb
        school_id = kb.find_school_id(given)
        school = kb.schools[school_id] if school_id is not None else None
        return SchoolChoice(school.id, school.name) if school is not None else None

    async def school_for(self, user_key: str, scopes: tuple[str, ...] = ()) -> str | None:
        """The user's own choice, else the most specific mapped scope (channel before workspace), else the default."""
        kb = self.assistant.kb
        chosen = await self.recorder.school_of(self.hasher.user(user_key))
        if chosen in kb.schools:
            return chosen
        for scope in scopes:
            mapped = kb.channel_schools.get(scope)
            if mapped in kb.schools:
                return mapped
        return kb.find_school_id(self.default_school)  # POLICYBOT_DEFAULT_SCHOOL=Reading is `reading`

    def find_school(self, name: str) -> SchoolChoice | None:
        wanted = " ".join(name.lower().split())
        if not wanted:
            return None
        choices = self.schools()
        for choice in choices:
            if wanted == choice.id or wanted == choice.name.lower():
                return choice
        matches = [c for c in choices if wanted in c.name.lower() or wanted in c.id]
        return matches[0] if len(matches) == 1 else None

    def choose_school(self, user_key: str, school_id: str) -> SchoolChosen:
        school = self.assistant.kb.school(school_id)  # raises UnknownSchool
        self.recorder.set_school(self.hasher.user(user_key), school.id)
        return SchoolChosen(SchoolChoice(school.id, school.name))

    # -- a turn ------------------------------------------------------------------------------------------------
    async def turn(
        self,
        text: str,
        user_key: str,
        scopes: tuple[str, ...] = (),
        channel: str = "chat",
        thread: str | None = None,
        private: bool = False,
    ) -> Reply:
        """`reply`, or an apology with someone to ask when something broke on our side (details in the log).

        `thread` is the channel's id for the conversation the message belongs to (a Slack thread, a Teams reply
        chain or personal chat, a web page session): a later message in it is read in the light of this one.
        `private`: that conversation reaches the asker alone (a DM, a personal chat), so even a sensitive
        answer carries it on.
        """
        try:
            return await self.reply(text, user_key, scopes, channel, thread, private)
        except Exception:
            # Logged under the channel's own logger (policybot.slack...), where its operators look.
            logging.getLogger(f"policybot.{channel}").exception("%s turn failed", channel)
            self.refused(channel, "internal")
            try:
                school = await self.school_for(user_key, scopes)
            except Exception:  # noqa: BLE001 - the apology must not fail too
                school = None
            return self.apology(school)

    async def reply(
        self,
        text: str,
        user_key: str,
        scopes: tuple[str, ...] = (),
        channel: str = "chat",
        thread: str | None = None,
        private: bool = False,
    ) -> Reply:
        started = time.perf_counter()
        text = " ".join((text or "").split())
        school_id = await self.school_for(user_key, scopes)
        reply = await self._reply(text, user_key, school_id, thread, private)
        if isinstance(reply, Answer):
            reply = self._logged(reply, channel, self.hasher.user(user_key), started)
        status = reply.status if isinstance(reply, Answer) else type(reply).__name__.lower()
        self.metrics.observe(channel, status, started)
        return reply

    async def answer(
        self,
        question: object,
        school_id: str,
        channel: str,
        user_key: str | None = None,
        thread: str | None = None,
        private: bool = False,
    ) -> Answer:
        """Answer and log one question whose school is already known (the web chat, the API, the CLI)."""
        started = time.perf_counter()
        answer = await self.ask_in_thread(question, school_id, thread, private)
        answer = self._logged(answer, channel, self.hasher.user(user_key) if user_key else None, started)
        self.metrics.observe(channel, answer.status, started)
        return answer

    def _logged(self, answer: Answer, channel: str, user_hash: str | None, started: float) -> Answer:
        record = Interaction(
            school=answer.school_id,
            channel=channel,
            status=answer.status,
            user_hash=user_hash,
            question=answer.question if self.store_questions else None,
            clause_id=answer.clause.id if answer.clause else None,
            topic=answer.topic_id,
            score=answer.clause.score if answer.clause else None,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        self.recorder.record(record)
        return dataclasses.replace(answer, interaction_id=record.id)

    async def ask(self, question: object, school_id: str, context: tuple[Turn, ...] = ()) -> Answer:
        """The assistant's answer, worked out on a worker thread: embedding a question takes milliseconds of
        CPU that would otherwise stall every other request on the event loop, and onnxruntime releases the GIL,
        so two questions use two cores. A question asked on its own that was answered recently is answered at
        once: the hop to a thread and back would cost more than the answer."""
        if not context:
            answer = self.assistant.remembered(question, school_id)
            if answer is not None:
                self.metrics.remembered.inc()
                return answer
        return await asyncio.to_thread(self.assistant.ask, question, school_id, context)

    async def knows_thread(self, thread: str) -> bool:
        """Whether this bot answered in `thread` within the last 30 minutes (so a message there is a follow-up)."""
        return await self.recorder.thread(self.hasher.event_key(f"thread:{thread}")) is not None

    async def ask_in_thread(
        self, question: object, school_id: str, thread: str | None, private: bool = False
    ) -> Answer:
        """`ask`, reading the question in the light of the thread's earlier turns, and remembering this one.

        The thread's state lives in the database, so a follow-up that reaches another replica reads the same
        conversation; it is forgotten after 30 minutes idle and at the retention purge. Question text is kept in
        it only where questions may be stored (or nothing is stored at all: memory, for at most 30 minutes).
        A sensitive answer carries the thread on only where the conversation is `private` (the asker's alone).
        """
        if not thread:
            return await self.ask(question, school_id)
        key = self.hasher.event_key(f"thread:{thread}")
        # Two messages of one thread at once (a Teams chat, two web tabs, or two replicas each given one) would
        # both read the thread before either saved its turn: they take turns, in this process and across replicas.
        async with self._threads.hold(key), self.recorder.thread_lock(key):
            state = await self.recorder.thread(key)
            context = state.turns if state is not None and state.school == school_id else ()
            answer = await self.ask(question, school_id, context)
            if answer.sensitive and not private:
                # Answered privately: the thread (a channel's, where others may write next) must not carry it on.
                # In a DM or personal chat it is the asker's own, and "should I reply to her?" needs it.
                return answer
            keep_text = self.store_questions or self.recorder.store is None
            await self.recorder.save_thread(Thread(key, school_id, with_turn(context, answer, keep_text)))
            return answer

    def small_talk(
        self, text: str, school_id: str | None, channel: str | None = None
    ) -> Help | Notice | None:
        """A greeting, "help" or "thanks" gets a short reply on every channel, never a search.

        With `channel` (a caller outside `turn`, such as the web API) the reply is counted in the metrics as
        `turn` counts its replies."""
        started = time.perf_counter()
        reply: Help | Notice | None = None
        if is_thanks(text):
            reply = Notice(YOU_ARE_WELCOME)
        elif is_greeting(text):
            current = self.assistant.kb.schools.get(school_id) if school_id else None
            reply = Help(
                SchoolChoice(current.id, current.name) if current else None, EXAMPLE_QUESTIONS, self.schools()
            )
        if reply is not None and channel is not None:
            self.metrics.observe(channel, type(reply).__name__.lower(), started)
        return reply

    async def _reply(
        self, text: str, user_key: str, school_id: str | None, thread: str | None, private: bool = False
    ) -> Reply:
        command = _SCHOOL_COMMAND.match(text)
        if command and len(text) <= 80:
            name = command.group("name")
            if not name:  # "school" alone: which one am I answering from, and how to change it
                return ChooseSchool(None, self.schools(), "Which school are you at?")
            choice = self.find_school(name)
            if choice is not None:
                return self.choose_school(user_key, choice.id)
            # "school trip pics on fb ok?": a question that starts with the word, not a command
        chat = self.small_talk(text, school_id)
        if chat is not None:
            return chat
        if school_id is None:
            return ChooseSchool(
                text, self.schools(), "Which school are you at? I answer from your own school's policy."
            )
        try:
            return await self.ask_in_thread(text, school_id, thread, private)
        except UnknownSchool:
            return ChooseSchool(text, self.schools(), "Which school are you at?")
        except PolicyBotError as exc:
            return Notice(exc.user_message)

    def apology(self, school_id: str | None) -> Notice:
        """What a user sees when something broke on our side: short, with someone to ask."""
        contact = None
        if school_id in self.assistant.kb.schools:
            school = self.assistant.kb.schools[school_id]
            found = school.contact(school.general_contact)
            contact = found.title if found else None
        who = f" In the meantime, please ask {contact}." if contact else ""
        return Notice(f"Sorry, something went wrong on our side and I could not answer.{who}")

    async def escalate(
        self,
        user_key: str,
        channel: str,
        school_id: object,
        role: object,
        question: object = None,
        clause_id: object = None,
        interaction_id: object = None,
    ) -> EscalationReceipt:
        """The hand-off button: record that the asker wants `role` at their school to see the question.

        The values come back from a button the client could have altered: the school must be known (else
        UnknownSchool), an unknown role falls back to the school's general contact, and anything but text is
        dropped. The channel then delivers it (Slack and Teams post to their escalation channel) and confirms
        to the asker privately.
        """
        school = self.assistant.kb.school(school_id if isinstance(school_id, str) else "")
        contact = school.contact(role) if isinstance(role, str) else None
        if contact is None:
            contact = school.contact(school.general_contact)
        role_id = contact.role if contact else school.general_contact
        title, how = (contact.title if contact else "HR"), (contact.how if contact else None)
        kept = self.recorder.store is not None
        citation = self._citation(school, _text(clause_id))
        answer_id = _text(interaction_id)
        claim = f"escalation:{user_key}:{answer_id}" if answer_id else None
        if claim and not await self.claim(claim):
            # A second click on the same button (or a retried delivery of it): HR has it already.
            return EscalationReceipt(None, title, how, True, kept, True, school.name, citation)
        text = _text(question) if self.store_questions else None
        escalation = Escalation(
            school=school.id,
            channel=channel,
            role=role_id,
            user_hash=self.hasher.user(user_key),
            question=text and " ".join(text.split())[:MAX_QUESTION_CHARS],
            clause_id=_text(clause_id),
            interaction_id=_text(interaction_id),
        )
        recorded = await self.recorder.record_durably(escalation)
        if claim and not recorded:
            # A click once the database is back must be recorded, not called a repeat.
            await self.release(claim)
        log.info("escalation channel=%s school=%s role=%s recorded=%s", channel, school.id, role_id, recorded)
        return EscalationReceipt(escalation, title, how, recorded, kept, False, school.name, citation)

    def _citation(self, school, clause_id: str | None) -> str | None:
        """The citation of one of the school's clauses ("Social Media Policy, §6.2, Friends"), else None."""
        kb = self.assistant.kb
        for policy_id in school.policies if clause_id else ():
            clause = next((c for c in kb.policies[policy_id].clauses if c.id == clause_id), None)
            if clause is not None:
                return cite(kb, clause).citation
        return None

    async def feedback(
        self,
        user_key: str,
        channel: str,
        school_id: str | None,
        clause_id: str | None,
        helpful: bool,
        interaction_id: str | None = None,
        comment: str | None = None,
    ) -> FeedbackReceipt:
        """A 👍/👎 click, tied to the answer's interaction; the user is hashed before anything keeps it.

        The vote is in the database before this returns a receipt saying it was recorded; when it could not be
        written, the receipt says so, for the channel to tell the person honestly.
        The ids come back from a card or button the client could have altered, so anything but text is dropped.
        A comment is free text like a question: with POLICYBOT_STORE_QUESTIONS=0 it is not kept either.
        """
        user = self.hasher.user(user_key)
        school_id, clause_id, interaction_id = (_text(v) for v in (school_id, clause_id, interaction_id))
        comment = _text(comment) if self.store_questions else None
        # One vote per person per answer: a second click, or a script posting the same id again and again,
        # must not count twice in the report.
        claim = f"feedback:{user_key}:{interaction_id}" if interaction_id else None
        if claim and not await self.claim(claim):
            return FeedbackReceipt(True, FEEDBACK_ALREADY)
        recorded = await self.recorder.record_durably(
            Feedback(
                helpful=bool(helpful),
                channel=channel,
                school=school_id,
                clause_id=clause_id,
                interaction_id=interaction_id,
                user_hash=user,
                comment=comment and comment[:MAX_COMMENT_CHARS],
            )
        )
        log.info(
            "feedback channel=%s user=%s school=%s clause=%s helpful=%s",
            channel,
            user,
            school_id,
            clause_id,
            helpful,
        )
        if recorded:
            return FeedbackReceipt(True, FEEDBACK_RECORDED)
        if claim:
            # A vote once the database is back must be recorded, not called a repeat.
            await self.release(claim)
        return FeedbackReceipt(
            False, FEEDBACK_NOT_KEPT if self.recorder.store is None else FEEDBACK_NOT_RECORDED
        )

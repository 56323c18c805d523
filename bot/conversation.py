"""Chat turns, channel-neutral: which school is asking, help and greetings, "school X", and the answer.

Slack and Teams adapters translate an event into `(text, user_key, scopes)` and render whichever Reply comes
back. Knowing who is asking (a remembered choice, the channel's mapped school, the default) lives here so that
every channel behaves the same.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass

from bot.assistant import Assistant
from bot.compose import Answer
from bot.errors import PolicyBotError, UnknownSchool
from bot.metrics import Metrics
from bot.preferences import Preferences
from bot.privacy import hash_user

log = logging.getLogger("policybot.conversation")

EXAMPLE_QUESTIONS = (
    "Can I accept a friend request from a parent?",
    "Can I go on Facebook at lunchtime?",
    "Someone is abusing me online, who do I tell?",
    "Can I post photos of my class on Instagram?",
    "What happens if I break the social media policy?",
)
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
_SCHOOL_COMMAND = re.compile(
    r"^\s*(?:set\s+|change\s+)?(?:my\s+)?school\b\s*(?:to|is|=|:)?\s*(?P<name>.*?)\s*$", re.I
)
_WORDS = re.compile(r"[a-z']+")


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
        len(words) <= 3 and all(w in GREETINGS or w in {"you", "there", "bot", "good"} for w in words)
    )


class Conversation:
    def __init__(
        self,
        assistant: Assistant,
        preferences: Preferences,
        default_school: str | None = None,
        metrics: Metrics | None = None,
    ):
        self.assistant = assistant
        self.preferences = preferences
        self.metrics = metrics or Metrics()
        self.default_school = (
            default_school if default_school is not None else os.environ.get("POLICYBOT_DEFAULT_SCHOOL")
        )

    # -- who is asking -----------------------------------------------------------------------------------------
    def schools(self) -> tuple[SchoolChoice, ...]:
        kb = self.assistant.kb
        return tuple(SchoolChoice(s.id, s.name) for s in sorted(kb.schools.values(), key=lambda s: s.name))

    def school_for(self, user_key: str, scopes: tuple[str, ...] = ()) -> str | None:
        """The user's own choice, else the most specific mapped scope (channel before workspace), else the default."""
        kb = self.assistant.kb
        chosen = self.preferences.school_of(hash_user(user_key))
        if chosen in kb.schools:
            return chosen
        for scope in scopes:
            mapped = kb.channel_schools.get(scope)
            if mapped in kb.schools:
                return mapped
        if self.default_school in kb.schools:
            return self.default_school
        return None

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
        self.preferences.set_school(hash_user(user_key), school.id)
        return SchoolChosen(SchoolChoice(school.id, school.name))

    # -- a turn ------------------------------------------------------------------------------------------------
    def reply(self, text: str, user_key: str, scopes: tuple[str, ...] = (), channel: str = "chat") -> Reply:
        started = time.perf_counter()
        reply = self._reply(text, user_key, scopes)
        status = reply.status if isinstance(reply, Answer) else type(reply).__name__.lower()
        self.metrics.observe(channel, status, started)
        return reply

    def _reply(self, text: str, user_key: str, scopes: tuple[str, ...]) -> Reply:
        text = " ".join((text or "").split())
        school_id = self.school_for(user_key, scopes)
        command = _SCHOOL_COMMAND.match(text)
        if command and len(text) <= 80:
            choice = self.find_school(command.group("name"))
            if choice is None:
                return ChooseSchool(
                    None, self.schools(), "Which school are you at? Reply with `school` and its name."
                )
            return self.choose_school(user_key, choice.id)
        if is_greeting(text):
            current = self.assistant.kb.schools.get(school_id) if school_id else None
            return Help(
                SchoolChoice(current.id, current.name) if current else None, EXAMPLE_QUESTIONS, self.schools()
            )
        if school_id is None:
            return ChooseSchool(
                text, self.schools(), "Which school are you at? I answer from your own school's policy."
            )
        try:
            return self.assistant.ask(text, school_id)
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

    def feedback(self, user_key: str, channel: str, school_id: str, clause_id: str, helpful: bool) -> None:
        """A 👍/👎 click. Storage arrives with the storage issue; until then it is logged, with the user hashed."""
        log.info(
            "feedback channel=%s user=%s school=%s clause=%s helpful=%s",
            channel,
            hash_user(user_key),
            school_id,
            clause_id,
            helpful,
        )

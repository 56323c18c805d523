"""The records the assistant keeps, as frozen dataclasses that cross from the channels to the database."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Interaction:
    """One question and how it was answered. `user_hash` is a salted hash, never a raw user id."""

    school: str
    channel: str
    status: str
    user_hash: str | None = None
    question: str | None = None  # None when storing question text is switched off
    clause_id: str | None = None
    topic: str | None = None
    score: float | None = None
    latency_ms: float | None = None
    id: str = field(default_factory=new_id)
    created_at: dt.datetime = field(default_factory=now)


@dataclass(frozen=True)
class Feedback:
    """A 👍/👎 on an answer, tied to its interaction when the channel could carry the id."""

    helpful: bool
    channel: str
    school: str | None = None
    clause_id: str | None = None
    interaction_id: str | None = None
    user_hash: str | None = None
    comment: str | None = None
    id: str = field(default_factory=new_id)
    created_at: dt.datetime = field(default_factory=now)


@dataclass(frozen=True)
class Preference:
    user_hash: str
    school: str
    updated_at: dt.datetime = field(default_factory=now)


@dataclass(frozen=True)
class Turn:
    """What a follow-up needs from an earlier turn of its thread: never the answer text, only what it was about."""

    question: str | None  # None when storing question text is switched off
    topic: str | None = None
    clause_id: str | None = None
    status: str = "answered"
    follow_up: bool = False  # it was itself read in the light of the turns before it


@dataclass(frozen=True)
class Thread:
    """A conversation's recent turns, keyed by a salted hash of the channel's thread id; forgotten when idle."""

    key: str
    school: str
    turns: tuple[Turn, ...] = ()
    updated_at: dt.datetime = field(default_factory=now)


@dataclass(frozen=True)
class Escalation:
    """A question passed on to a person with the hand-off button."""

    school: str
    channel: str
    role: str
    user_hash: str | None = None
    question: str | None = None  # None when storing question text is switched off
    clause_id: str | None = None
    interaction_id: str | None = None
    id: str = field(default_factory=new_id)
    created_at: dt.datetime = field(default_factory=now)

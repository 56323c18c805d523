"""The façade every channel calls: `Assistant.ask(question, school)` → Answer.

It holds the current knowledge base with its indexes as one immutable snapshot, so a reload swaps them in a
single assignment and a question in flight always sees one consistent version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.compose import Answer, Composer
from bot.errors import InvalidQuestion
from bot.knowledge import KnowledgeBase, load_knowledge
from bot.retrieval import Retriever

MAX_QUESTION_CHARS = 1000


@dataclass(frozen=True)
class Snapshot:
    kb: KnowledgeBase
    retriever: Retriever
    composer: Composer


def build_snapshot(kb: KnowledgeBase) -> Snapshot:
    retriever = Retriever(kb)
    return Snapshot(kb, retriever, Composer(kb, retriever))


def clean_question(question: object) -> str:
    """The question as one line of visible text; InvalidQuestion (with what to do instead) when there is none.

    A NUL is never typed by a person, and zero-width characters are invisible: a question made of them, or
    containing a NUL, is treated as empty. Lone surrogates (a JSON `"\\ud800"`) become U+FFFD, because no
    tokenizer, log or database can encode them.
    """
    if not isinstance(question, str):
        raise InvalidQuestion("The question must be text.")
    invisible = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u180e"))
    text = "" if "\x00" in question else " ".join(question.translate(invisible).split())
    if not text:
        raise InvalidQuestion(
            "Please type a question, for example: can I accept a friend request from a parent?"
        )
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidQuestion(
            f"That question is too long ({len(text)} characters). Please keep it under {MAX_QUESTION_CHARS}."
        )
    if not text.isascii():
        text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


class Assistant:
    def __init__(self, kb: KnowledgeBase, today: Callable[[], dt.date] = dt.date.today):
        self._snapshot = build_snapshot(kb)
        self._today = today

    @classmethod
    def from_directory(cls, directory: Path | str | None = None) -> Assistant:
        return cls(load_knowledge(directory))

    @property
    def kb(self) -> KnowledgeBase:
        return self._snapshot.kb

    def swap(self, kb: KnowledgeBase) -> None:
        """Build the new indexes off to the side, then replace the snapshot in one step."""
        self.install(build_snapshot(kb))

    def install(self, snapshot: Snapshot) -> None:
        """Serve `snapshot` from the next question on; a question in flight keeps the one it started with."""
        self._snapshot = snapshot

    def ask(self, question: object, school_id: str) -> Answer:
        snap = self._snapshot
        school = snap.kb.school(school_id)
        text = clean_question(question)
        result = snap.retriever.search(school.id, text)
        return snap.composer.compose(school, text, result, self._today())

"""The façade every channel calls: `Assistant.ask(question, school)` → Answer.

It holds the current knowledge base with its indexes as one immutable snapshot, so a reload swaps them in a
single assignment and a question in flight always sees one consistent version.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.answer_memory import ANSWER_MEMORY, AnswerMemory
from bot.compose import DEEP_SEARCH, Answer, Composer
from bot.errors import InvalidQuestion
from bot.followup import search_in_thread
from bot.knowledge import KnowledgeBase, load_knowledge
from bot.records import Turn
from bot.retrieval import Retriever, TermsCache
from bot.semantic import Embedder, Progress, shared_embedder
from bot.sensitivity import SensitivityCheck

MAX_QUESTION_CHARS = 1000


@dataclass(frozen=True)
class Snapshot:
    kb: KnowledgeBase
    retriever: Retriever
    composer: Composer
    sensitivity: SensitivityCheck
    answers: AnswerMemory = field(default_factory=AnswerMemory)  # this version's answers to recent questions


def build_snapshot(
    kb: KnowledgeBase,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
    previous: Snapshot | None = None,
    terms_cache: TermsCache | None = None,
    lazy: bool = False,
    answer_memory: int = ANSWER_MEMORY,
) -> Snapshot:
    """Indexes and composer for `kb`; with `previous`, the indexes of unchanged policies are kept, not rebuilt.

    `lazy`: each index reads its semantic vectors at its first search (see Retriever). `answer_memory`: how many
    recent answers the snapshot keeps (bot/answer_memory.py; 0 keeps none)."""
    retriever = Retriever(
        kb,
        embedder=embedder,
        progress=progress,
        previous=previous.retriever if previous else None,
        terms_cache=terms_cache,
        lazy=lazy,
    )
    situations = kb.sensitive_examples + tuple(
        e for r in kb.routes if kb.topics[r.topic].sensitive for e in r.examples
    )
    return Snapshot(
        kb,
        retriever,
        Composer(kb, retriever, previous.composer if previous else None),
        SensitivityCheck(situations, kb.routine_examples, embedder, lazy, kb.sensitive_signs),
        AnswerMemory(answer_memory),
    )


SHARED = "shared"  # Assistant(embedder=SHARED): the process's embedder for the given cache file


def clean_question(question: object) -> str:
    """The question as one line of visible text; InvalidQuestion (with what to do instead) when there is none.

    Zero-width characters are invisible: a question made of them is treated as empty. A NUL is never typed by a
    person and no database stores it: a question containing one is refused, saying so. Lone surrogates (a JSON
    `"\\ud800"`) become U+FFFD, because no tokenizer, log or database can encode them.
    """
    if not isinstance(question, str):
        raise InvalidQuestion("The question must be text.")
    if "\x00" in question:
        raise InvalidQuestion(
            "The question contains a NUL character, which cannot be typed or stored. Please type it again."
        )
    invisible = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u180e"))
    text = " ".join(question.translate(invisible).split())
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


def _environment_cache() -> Path:
    """The cache file the environment names, for callers that pass none.

    A bridge: tests build `Assistant(kb)` and share one warm cache through POLICYBOT_EMBEDDING_CACHE (their
    subprocess servers must start warm). Once they pass `embedding_cache=`, this goes, and `Settings.from_env`
    is called only by the command line's root group.
    """
    from bot.settings import Settings

    return Settings.from_env().embedding_cache


class Assistant:
    """Answers questions from one knowledge base at a time; `semantic_off` says why semantic search is off.

    With `embedder=SHARED` the process's embedder is used, its vectors cached in the SQLite file
    `embedding_cache`: the caller's `Settings.embedding_cache` (the command line passes it). The same file keeps
    each knowledge text's analysed search terms (`TermsCache`), whatever the embedder. `quick_start` (the
    command line) lets the embedding model finish loading in the background while the knowledge base is
    indexed, and waits for it at the first question; and each school's semantic vectors are read at its first
    question (a reload builds everything before it is served). `one_question` (a command that answers one
    question) takes the process's quick embedder (see bot.semantic.EmbeddingModel).
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        today: Callable[[], dt.date] = dt.date.today,
        embedder: Embedder | None | str = SHARED,
        embedding_cache: Path | None = None,
        progress: Progress | None = None,
        quick_start: bool = False,
        answer_memory: int = ANSWER_MEMORY,
        one_question: bool = False,
    ):
        self.semantic_off: str | None = None
        self.answer_memory = answer_memory
        if embedder == SHARED:
            embedding_cache = embedding_cache or _environment_cache()
            status = shared_embedder(embedding_cache, background=quick_start, one_question=one_question)
            embedder, self.semantic_off = status.embedder, status.reason
        elif embedder is None:
            self.semantic_off = "turned off"
        self.embedder: Embedder | None = embedder  # type: ignore[assignment]
        terms_cache = TermsCache(embedding_cache) if embedding_cache is not None else None
        self._snapshot = build_snapshot(
            kb,
            self.embedder,
            progress,
            terms_cache=terms_cache,
            lazy=quick_start,
            answer_memory=answer_memory,
        )
        self._today = today

    @classmethod
    def from_directory(cls, directory: Path | str | None = None, **options) -> Assistant:
        return cls(load_knowledge(directory), **options)

    def build(self, kb: KnowledgeBase) -> Snapshot:
        """A snapshot for `kb` with this assistant's embedder, ready for `install`.

        Indexes of policies unchanged since the snapshot being served are shared with it, not rebuilt.
        """
        return build_snapshot(kb, self.embedder, previous=self._snapshot, answer_memory=self.answer_memory)

    @property
    def kb(self) -> KnowledgeBase:
        return self._snapshot.kb

    @property
    def retriever(self) -> Retriever:
        """The search over the knowledge base now being served (for HR's report and suggestions)."""
        return self._snapshot.retriever

    def swap(self, kb: KnowledgeBase) -> None:
        """Build the new indexes off to the side, then replace the snapshot in one step."""
        self.install(self.build(kb))

    def install(self, snapshot: Snapshot) -> None:
        """Serve `snapshot` from the next question on; a question in flight keeps the one it started with."""
        self._snapshot = snapshot

    def ask(self, question: object, school_id: str, context: Sequence[Turn] = ()) -> Answer:
        """The answer to `question` from `school_id`'s policies; `context` is its thread's earlier turns."""
        snap = self._snapshot
        school = snap.kb.school(school_id)
        text = clean_question(question)
        key = (school_id, text, self._today())
        if not context:
            answer = snap.answers.get(key)
            if answer is not None:
                return answer
        # Deep enough for the composer to find distinct related clauses without searching (and embedding) twice.
        found = search_in_thread(snap.retriever, school.id, text, context, limit=DEEP_SEARCH)
        sensitive = snap.sensitivity(text)
        answer = snap.composer.compose(school, text, found.result, key[2], sensitive)
        if found.follow_up:
            return dataclasses.replace(answer, follow_up=True)
        if not context:  # a first question in its thread is answered as if asked alone, whatever its thread
            snap.answers.put(key, answer)
        return answer

    def forget_answers(self) -> None:
        """Drop the remembered answers: the next question is searched even if it was asked before (benchmarks)."""
        self._snapshot.answers.clear()

    def remembered(self, question: object, school_id: str) -> Answer | None:
        """The answer `ask` would give to `question` asked on its own, if it gave it recently; else None.

        No search and no error: a question that is not remembered (or not valid) is left to `ask`, on a worker
        thread, while a remembered one is returned at once from the event loop, without a thread's round trip."""
        try:
            text = clean_question(question)
        except InvalidQuestion:
            return None
        return self._snapshot.answers.get((school_id, text, self._today()))

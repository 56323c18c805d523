"""Reading a follow-up in the light of its thread: "and if it's on my own phone?" after a question on lunchtime use.

A message that reads as a follow-up (it leans on what came before: "and if...", "what about...", "who do I tell
about that?", a few words with no verb) is searched twice: on its own, and together with the thread's last
answered question. The two rankings are added, so the new words choose among the clauses the earlier question
made likely, and a clause the new words point to strongly still wins on its own. Anything else, a complete new
question or a drift out of scope ("ok thanks, how do I book the minibus?"), is searched on its own terms only.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.records import Turn
from bot.retrieval import Hit, Retriever, SearchResult

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from bot.compose import Answer

# Words that make a message lean on an earlier one. Kept to openings and pronouns that rarely start a question
# that stands alone; "it" and "this" are common in complete questions too, so they count only with an opening.
_LEANING_OPENINGS = re.compile(
    r"^(?:ok(?:ay)?[,!. ]+|right[,!. ]+|thanks?[,!. ]+|cheers[,!. ]+)?"
    r"(?:and|but|or|so|also|plus|what about|how about|what if|and if|even if|same|does that|does this|does it|"
    r"is that|is this|would that|would it|could that|could it|will that|can that|do i have to tell|"
    r"who do i (?:tell|report|ask|speak|talk)|who should i|who would i|what happens|what would happen|"
    r"could i get|would i get|can i get|am i allowed to do that|is it still|still)\b",
    re.I,
)
_BACK_REFERENCE = re.compile(r"\b(?:that|those|these|them|same|either|too|also|instead|then)\b[?.!]*", re.I)
_WORDS = re.compile(r"[a-z0-9']+", re.I)
MAX_THREAD_TURNS = 4  # a follow-up leans on the last few turns; older ones are dropped from the thread
FRAGMENT_WORDS = 4  # "at weekends?", "on my own phone?": this short, a message leans on the one before


@dataclasses.dataclass(frozen=True)
class ThreadSearch:
    result: SearchResult
    follow_up: bool  # read together with the thread's earlier question


def leans_on_context(question: str) -> bool:
    """Whether `question` reads as a follow-up rather than a question that stands on its own."""
    text = question.strip()
    words = _WORDS.findall(text)
    if len(words) <= FRAGMENT_WORDS:
        return True
    return bool(_LEANING_OPENINGS.match(text)) or bool(_BACK_REFERENCE.search(text))


def last_question(context: Sequence[Turn]) -> Turn | None:
    """The most recent turn that was answered and whose words were kept: what a follow-up leans on."""
    return next((t for t in reversed(context) if t.status == "answered" and t.question), None)


def search_in_thread(
    retriever: Retriever, school_id: str, question: str, context: Sequence[Turn], limit: int
) -> ThreadSearch:
    bare = retriever.search(school_id, question, limit)
    previous = last_question(context)
    if previous is None or not leans_on_context(question):
        return ThreadSearch(bare, False)
    combined = retriever.search(school_id, f"{previous.question} {question}", limit)
    return ThreadSearch(fuse(bare, combined, limit), True)


def fuse(bare: SearchResult, combined: SearchResult, limit: int) -> SearchResult:
    """One ranking from the follow-up alone and with its context: each clause's two scores added."""
    scores: dict[str, float] = {}
    clauses = {}
    for result in (bare, combined):
        for hit in result.hits:
            scores[hit.clause.id] = scores.get(hit.clause.id, 0.0) + hit.score
            clauses[hit.clause.id] = hit.clause
    order = sorted(scores, key=lambda cid: -scores[cid])[:limit]
    hits = tuple(Hit(clauses[cid], scores[cid]) for cid in order)
    return dataclasses.replace(
        combined,
        hits=hits,
        confident=bare.confident or combined.confident,
        route=bare.route or combined.route,
    )


def with_turn(context: Sequence[Turn], answer: Answer, keep_text: bool = True) -> tuple[Turn, ...]:
    """The thread's turns after `answer`: what a later follow-up needs of it, the oldest dropped past a few."""
    turn = Turn(
        answer.question if keep_text else None,
        answer.topic_id,
        answer.clause.id if answer.clause else None,
        answer.status,
    )
    return (*context, turn)[-MAX_THREAD_TURNS:]


class ThreadMemory:
    """Threads kept in this process alone, for `policybot ask --jsonl` and `policybot eval`: lines that share a
    `thread` are one conversation, in input order. The server keeps its threads in the database instead."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self.threads: dict[str, tuple[str, tuple[Turn, ...]]] = {}

    def ask(self, question: object, school_id: str, thread: str | None = None) -> Answer:
        school, context = self.threads.get(thread, (None, ())) if thread else (None, ())
        answer = self.assistant.ask(question, school_id, context if school == school_id else ())
        if thread:
            self.threads[thread] = (school_id, with_turn(context if school == school_id else (), answer))
        return answer

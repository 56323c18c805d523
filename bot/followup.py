"""Reading a follow-up in the light of its thread: "and if it's on my own phone?" after a question on lunchtime use.

Each message in a thread is sorted by its form:
- **new**: it says it changes the subject ("new question:", "unrelated", "different q"), or it opens with a
  thanks or an "ok" and then "also", or asks something that does not lean back ("ok thanks, how do I book the minibus?"):
  searched on its own terms only, so a drift out of scope still gets no_match.
- **leaning**: it leans on what came before: an opening such as "and if", "if so", "what about", "who do I tell", a
  back-reference ("that", "them", "as well", "on there"), or a fragment of a few words ("and whatsapp
  groups?"). One that refers back, by such a word or as a fragment, is not declined as out of scope on its own
  words ("so lunch is fine?" alone is nearer "what's for school dinner" than any clause): with its thread's
  question it may be.
- **plain**: anything else: it may be either, so the thread weighs less, and a message far from every clause
  (the model's similarity under DRIFT_SIMILARITY) is left to stand alone.

A follow-up is ranked by three searches added together: the message on its own (weight 1), the message with the
thread's last answered question (COMBINED_WEIGHT) and that question alone (PRIOR_WEIGHT), and clauses on the
topic of the thread's last answer gain TOPIC_PRIOR: "could I lose my job over it?" after a post criticising the
school asks about the consequences the policy sets for that post. The message's own words choose among the
clauses the thread made likely, and a clause they point to strongly still wins. The thread counts less the
nearer the message alone comes to a clause in meaning (`thread_share`): "and whatsapp groups?" needs the thread,
a message that names its own rule does not. The weights were chosen on our seven dialogue sets (tests/eval)
after the ranking's weights were fitted (bench/fit_ranking.py): a better ranking of the message alone needs less
of the thread. Expect less on dialogues written by others.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.errors import InvalidThread
from bot.records import Turn
from bot.retrieval import Hit, Retriever, SearchResult

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from bot.compose import Answer

MAX_THREAD_ID = 100  # a web page sends a UUID (36 characters); a JSONL line any label; longer is not an id
MAX_THREAD_TURNS = 4  # a follow-up leans on the last few turns; older ones are dropped from the thread
FRAGMENT_WORDS = 4  # "at weekends?", "and whatsapp groups?": this short, a message leans on the one before
PRIOR_WEIGHT = 0.15
COMBINED_WEIGHT = 0.3
TOPIC_PRIOR = 0.2  # added to a clause on the topic of the thread's last answer (scores run about 3 to 6)
PLAIN_FACTOR = 1.0  # how much of the thread a message of neither form gets
CLEAR_FROM = 0.45  # a message this near a clause in meaning, or nearer, reads more and more on its own...
CLEAR_AT = 0.75  # ...and from this near on, entirely: the thread adds nothing to its ranking
DRIFT_SIMILARITY = 0.33  # below this, a message of neither form is taken as a change of subject
THREAD_SEARCH = 40  # how deep each of the three searches goes before their scores are added

_ACK = re.compile(
    r"^(?:ok(?:ay)?|ta|thanks?|thank you|thx|ty|cheers|great|lovely|brill(?:iant)?|perfect|right|got it|fab|"
    r"nice|cool|understood|fair enough)\b[\s,.!:;-]*",
    re.I,
)
_NEW_SUBJECT = re.compile(
    r"\b(?:new q(?:uestion|n)?|different q(?:uestion|n)?|diff q(?:uestion|n)?|another q(?:uestion|n)?|"
    r"(?:separate|different|diff) (?:thing|question|q|topic|matter|subject)|another (?:thing|topic|matter)|"
    r"unrelated|totally different|something else|other thing|while i'?m here|"
    r"on (?:another|a different|a separate) note|change of subject|random q(?:uestion)?)\b",
    re.I,
)
_LEANING_OPENING = re.compile(
    r"^(?:and|but|or|so|what about|how about|what if|and if|even if|same|does that|does this|does it|is that|"
    r"is this|would that|would it|could that|could it|will that|who (?:do|should|would|can|could|will) |"
    r"what happens|what would happen|could i get|would i get|can i get|could they|would they|is it still|"
    r"still|should i|if so|if not|if (?:we|i|they|you|he|she|it) (?:do|does|did|don'?t|doesn'?t)|if that|if this)\b",
    re.I,
)
_BACK_REFERENCE = re.compile(
    r"\b(?:that|those|these|them|same|either|too|instead|as well|(?:on|in|up|onto) there|(?:on|to|onto) it)\b",
    re.I,
)
_ALSO = re.compile(r"also\b", re.I)
_WORDS = re.compile(r"[a-z0-9']+", re.I)

NEW, LEANING, PLAIN = "new", "leaning", "plain"


@dataclasses.dataclass(frozen=True)
class ThreadSearch:
    result: SearchResult
    follow_up: bool  # read together with the thread's earlier question


def thread_id(value: object) -> str | None:
    """A request's `thread`: None when it has none; InvalidThread unless it is 1 to MAX_THREAD_ID characters."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_THREAD_ID:
        raise InvalidThread(f"`thread` must be text of 1 to {MAX_THREAD_ID} characters.")
    return value


def form_of(message: str) -> str:
    """NEW, LEANING or PLAIN: how a message in a thread relates to the one before, judged by its form."""
    text = message.strip()
    if _NEW_SUBJECT.search(text):
        return NEW
    rest = _after_thanks(text)
    if rest != text and _ALSO.match(rest):
        # "ta. also the laminator is jammed again, who sorts that": thanks, then "also", opens another matter,
        # and any "that" in it points inside the message itself.
        return NEW
    if _LEANING_OPENING.match(rest) or refers_back(rest):
        return LEANING
    return NEW if rest != text else PLAIN


def refers_back(message: str) -> bool:
    """Whether a message points at something in its thread by a word ("that", "them", "on there") or is a fragment
    of a few words: either way it means something only there. An opening alone ("and how do I book the minibus?")
    is not enough: people open a new subject that way too."""
    rest = _after_thanks(message)
    return bool(_BACK_REFERENCE.search(rest)) or is_fragment(rest)


def is_fragment(message: str) -> bool:
    """A message of a few words ("and at weekends?", "so lunch is fine?"), after any thanks: it means something
    only in its thread."""
    return len(_WORDS.findall(_after_thanks(message))) <= FRAGMENT_WORDS


def _after_thanks(message: str) -> str:
    """The message without an opening thanks or "ok" ("ok thanks, and at weekends?" -> "and at weekends?")."""
    text = message.strip()
    ack = _ACK.match(text)
    return text[ack.end() :] if ack else text


def thread_subject(context: Sequence[Turn]) -> str | None:
    """The words of the thread a follow-up leans on: the last answered question whose words were kept, and while
    that question itself leaned on an earlier answered one, by its form ("and on my own phone?") or because it
    was read as a follow-up, that one too, oldest first. None when there is none: the message is then read on
    its own."""
    answered = [t for t in context if t.status == "answered" and t.question]
    if not answered:
        return None
    subject = [answered.pop()]
    while answered and (subject[0].follow_up or form_of(subject[0].question or "") == LEANING):
        subject.insert(0, answered.pop())
    return " ".join(t.question or "" for t in subject)


def search_in_thread(
    retriever: Retriever, school_id: str, question: str, context: Sequence[Turn], limit: int
) -> ThreadSearch:
    subject = thread_subject(context)
    form = form_of(question) if subject is not None else NEW
    if form == NEW:
        return ThreadSearch(retriever.search(school_id, question, limit), False)
    assert subject is not None
    bare = retriever.search(school_id, question, THREAD_SEARCH)
    # "and how do I book the minibus?" leans in form but is off the policy in meaning; a worry about a child is
    # a matter of its own, whatever came before it: both stand alone. (On BM25 alone a route is too easily
    # taken by shared words to cut a thread short.) A message that leans on its thread and shows none of the
    # route's signs ("should I reply to her?" after a parent's abuse of the asker) is near the route's examples by
    # its few words only, however near: it is read in its thread, and takes the route only if it does so read.
    leaning_guess = (
        form == LEANING
        and bare.route is not None
        and retriever.routes.signalled(question, bare.terms) is None
    )
    # A message that refers back is not judged out of scope on its own words: "so lunch is fine?" after a question
    # on using facebook in class sits nearer "what's for school dinner today" than any clause, and "a push on there
    # about the new parking rules" (the school's page) nearer "where can i park". It is judged in its thread.
    combined = None
    if bare.off_topic and form == LEANING and refers_back(question):
        combined = retriever.search(school_id, f"{subject} {question}", THREAD_SEARCH)
        if not combined.off_topic:
            bare = dataclasses.replace(bare, off_topic=False, confident=combined.confident)
    if bare.off_topic or (bare.route is not None and bare.semantic is not None and not leaning_guess):
        return ThreadSearch(_cut(bare, limit), False)
    if (
        form == PLAIN
        and not bare.confident
        and bare.semantic is not None
        and bare.semantic < DRIFT_SIMILARITY
    ):
        return ThreadSearch(_cut(bare, limit), False)  # far from every clause: a change of subject
    combined = combined or retriever.search(school_id, f"{subject} {question}", THREAD_SEARCH)
    factor = (1.0 if form == LEANING else PLAIN_FACTOR) * thread_share(bare.semantic)
    weighted = [(1.0, bare)]
    topic = None
    if factor > 0:  # a message clear on its own ranks by its own search alone: the others are not made
        prior = retriever.search(school_id, subject, THREAD_SEARCH)
        weighted += [(COMBINED_WEIGHT * factor, combined), (PRIOR_WEIGHT * factor, prior)]
        topic = next((t.topic for t in reversed(context) if t.status == "answered" and t.topic), None)
    hits = _added(weighted, limit, topic, TOPIC_PRIOR * factor)
    # "if we do, at what stage, and who advises us?" after a question on checking candidates online shares too few
    # words with any rule, alone or with its thread, to pass the gate: a message that leans on its thread and whose
    # best clause stays on the thread's topic is answered, as the thread was.
    continues = form == LEANING and topic is not None and bool(hits) and topic in hits[0].clause.topics
    result = dataclasses.replace(
        bare,
        hits=hits,
        confident=bare.confident or combined.confident or continues,
        route=combined.route if leaning_guess else bare.route or combined.route,
        # Only the message itself makes a route unmistakable: "and do the police get told?" after a worry about
        # a child is still asking about the police.
        route_clear=bare.route_clear,
    )
    return ThreadSearch(result, True)


def thread_share(similarity: float | None) -> float:
    """How much of the thread a message gets, by how clearly it reads on its own: in full when its nearest clause
    is no nearer in meaning than CLEAR_FROM, nothing from CLEAR_AT on, linearly between. "and whatsapp groups?"
    needs the thread; "what if I leave it open in the background and don't look at it" names its own rule, and
    the thread's earlier clause must not outvote it. Without the model, the thread always counts in full."""
    if similarity is None:
        return 1.0
    return min(1.0, max(0.0, (CLEAR_AT - similarity) / (CLEAR_AT - CLEAR_FROM)))


def _added(
    weighted: Sequence[tuple[float, SearchResult]], limit: int, topic: str | None = None, bonus: float = 0.0
) -> tuple[Hit, ...]:
    """The searches' hits by their weighted scores added, each clause on `topic` gaining `bonus`."""
    scores: dict[str, float] = {}
    clauses = {}
    for weight, result in weighted:
        for hit in result.hits:
            scores[hit.clause.id] = scores.get(hit.clause.id, 0.0) + weight * hit.score
            clauses[hit.clause.id] = hit.clause
    if topic is not None and bonus:
        for cid, clause in clauses.items():
            if topic in clause.topics:
                scores[cid] += bonus
    order = sorted(scores, key=lambda cid: -scores[cid])[:limit]
    return tuple(Hit(clauses[cid], scores[cid]) for cid in order)


def _cut(result: SearchResult, limit: int) -> SearchResult:
    return dataclasses.replace(result, hits=result.hits[:limit])


def with_turn(context: Sequence[Turn], answer: Answer, keep_text: bool = True) -> tuple[Turn, ...]:
    """The thread's turns after `answer`: what a later follow-up needs of it, the oldest dropped past a few."""
    turn = Turn(
        answer.question if keep_text else None,
        answer.topic_id,
        answer.clause.id if answer.clause else None,
        answer.status,
        answer.follow_up,
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

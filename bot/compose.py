"""The channel-neutral Answer and how it is built from a search result.

An Answer quotes the best clause of the asker's own school, adds the school's other applicable policy on the same
topic (a council policy and a school's guidance note, say), notes how other schools' rules differ, and lists who
to contact, most relevant first. Adapters only render it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from bot.analysis import STOP_WORDS, stem, tokenize
from bot.knowledge import Clause, KnowledgeBase, Policy, School, parse_year_month
from bot.retrieval import Hit, Retriever, SchoolIndex, SearchResult
from bot.typed import PhraseSet, typed_text

ANSWERED = "answered"
NO_MATCH = "no_match"
HELP = "help"

MAX_CONTACTS = 3
PRIVACY_NOTE = (
    "Please don't post the details in a shared channel: keep them between you and the people named here."
)
MAX_VARIANTS = 4
QUOTES_KEPT = 4096  # whole quotes (and their words) kept for the clauses quoted most recently
MAX_ALTERNATIVES = 2
# How many hits to ask for when the first ones repeat the quote: enough for two distinct related clauses even
# when a long list's bullets crowd the top of the ranking.
DEEP_SEARCH = 12
# Every school in England and Wales has a Designated Safeguarding Lead by statute, whether or not its social
# media policy names one, so a topic may always route to them.
STATUTORY_ROLES = frozenset({"safeguarding_lead"})

# What joins one list item to the next: "…colleagues;", "…or groups; or", "It is accurate,", "…by:".
LIST_JOINER = re.compile(r"(?:[;,:]|\s(?:and|or))\s*$")
LEAD_IN_END = (":", ";")
# Where a topic note's opening rule ends: "…of the council, and think about…", "…to the HR team; …".
NOTE_PARTS = re.compile(r",\s+(?:and|but)\s+|;\s+|:\s+|\.\s+")


@dataclass(frozen=True)
class Bullet:
    """One line of a quote: level 0 is a lead-in or a paragraph, 1 an item of its list, 2 an item of a sub-list."""

    text: str
    level: int = 1


@dataclass(frozen=True)
class CitedClause:
    """A clause as quoted: its words with the citation that lets staff find it in the document.

    `bullets` holds the list a lead-in introduces, so that the quote reads on its own.
    """

    id: str
    policy_id: str
    policy_title: str
    section: str
    heading: str
    text: str
    lead_in: str | None = None
    score: float = 0.0
    bullets: tuple[Bullet, ...] = ()
    place: str | None = None  # "paragraph 2", "item 3": where in a section printed with several parts

    @property
    def section_label(self) -> str:
        return f"§{self.section} ({self.place})" if self.place else f"§{self.section}"

    @property
    def lines(self) -> tuple[Bullet, ...]:
        """The quote line by line: level 0 is the lead-in (or the clause), 1 an item of its list, 2 a sub-item."""
        if self.lead_in:
            return (Bullet(self.lead_in, 0), Bullet(self.text, 1), *self.bullets)
        return (Bullet(self.text, 0), *self.bullets)

    @property
    def quote(self) -> str:
        """The quoted words, one line per list item, in the policy's words only (the answer contract's `text`)."""
        return "\n".join(line.text for line in self.lines)

    def quote_as_list(self, marker: str = "• ", indent: str = "  ") -> str:
        """The quote with list items marked and indented, for a channel that shows plain text."""
        return "\n".join(
            f"{indent * (line.level - 1)}{marker}{line.text}" if line.level else line.text
            for line in self.lines
        )

    @property
    def citation(self) -> str:
        heading = f", {self.heading}" if self.heading else ""
        return f"{self.policy_title}, {self.section_label}{heading}"


@dataclass(frozen=True)
class ContactRef:
    role: str
    title: str
    name: str | None = None
    how: str | None = None


@dataclass(frozen=True)
class Handoff:
    """The person a question can be passed on to from the answer ("Ask your Headteacher")."""

    role: str
    title: str
    label: str
    how: str | None = None


@dataclass(frozen=True)
class Variant:
    """How another school's policy treats the same topic."""

    school_ids: tuple[str, ...]
    school_names: tuple[str, ...]
    clause: CitedClause
    note: str | None = None


@dataclass(frozen=True)
class Answer:
    status: str
    school_id: str
    school_name: str
    question: str
    message: str = ""
    clause: CitedClause | None = None
    school_variant: CitedClause | None = None
    variants: tuple[Variant, ...] = ()
    contacts: tuple[ContactRef, ...] = ()
    alternatives: tuple[CitedClause, ...] = ()  # related clauses: none at a citation the answer already shows
    runners_up: tuple[
        CitedClause, ...
    ] = ()  # the next best clauses at other citations, "Also applies" included
    topic_id: str | None = None
    topic_title: str | None = None
    review_note: str | None = None
    examples: tuple[str, ...] = field(default=())
    interaction_id: str | None = None  # set once the answer is logged, so feedback can point back to it
    # A personal or safeguarding matter (its topic is `sensitive` in topics.yaml): a shared channel sends it to
    # the asker alone, and `privacy_note` asks them not to post the details where others can read them.
    sensitive: bool = False
    privacy_note: str | None = None
    handoff: Handoff | None = None  # who the hand-off button passes the question to; None: no one can be
    follow_up: bool = False  # read in the light of the thread's earlier questions

    @property
    def clauses(self) -> tuple[CitedClause, ...]:
        """The quoted clause then the next best ones, best first (the answer contract's `clauses`).

        The school's other applicable clause ("Also applies") counts here when the search ranked it, although
        `alternatives` leaves it out because the answer shows it already.
        """
        return ((self.clause,) if self.clause else ()) + (self.runners_up or self.alternatives)


def cite(kb: KnowledgeBase, clause: Clause, score: float = 0.0) -> CitedClause:
    """A clause with its citation, as it stands (the Composer adds the list a lead-in introduces)."""
    return CitedClause(
        id=clause.id,
        policy_id=clause.policy_id,
        policy_title=kb.policies[clause.policy_id].title,
        section=clause.section,
        heading=clause.heading,
        text=clause.text,
        lead_in=clause.lead_in,
        score=round(score, 3),
    )


def contact_ref(school: School, role: str) -> ContactRef | None:
    """The school's contact for a role, its title capitalised to start a line of the answer's list."""
    contact = school.contact(role)
    if contact is None:
        return None
    title = contact.title[:1].upper() + contact.title[1:]
    return ContactRef(role=role, title=title, name=contact.name, how=contact.how)


def in_sentence(title: str, whose: str = "your") -> str:
    """A contact's title inside a sentence: "ask the HR team", not "ask The HR team"; and a bare role is the
    asker's own ("talk it through with your Headteacher", not "with Headteacher"), or `whose` else ("the",
    where the sentence is read by someone other than the asker)."""
    first, _, rest = title.partition(" ")
    if first in ("The", "Your", "A", "An") and rest:
        return f"{first.lower()} {rest}"
    return f"{whose} {title}" if title[:1].isupper() else title


def review_note(kb: KnowledgeBase, policy_id: str, today: dt.date) -> str | None:
    policy = kb.policies[policy_id]
    if not policy.overdue_for_review(today):
        return None
    year, month = parse_year_month(policy.review_date)  # type: ignore[misc]
    return f"This policy was due for review in {calendar.month_name[month]} {year}. Check with HR that it is current."


def read_on(text: str) -> str:
    """A list item cut from its list, marked as going on: "…or groups; or" would end the quote mid-sentence, so an
    ellipsis follows it. The policy's own words and punctuation stay as they are."""
    return f"{text} …" if LIST_JOINER.search(text) else text


def plain_terms(text: str) -> frozenset[str]:
    """The stems of the words a text itself uses, without synonyms: enough to match a note with the clause it
    sums up, written in the same policy's words, and several times cheaper than the search's full analysis."""
    return frozenset(stem(w) for w in tokenize(text) if w not in STOP_WORDS)


def introduces(clause: Clause, lead_in: str) -> bool:
    """Whether `clause` is the lead-in a bullet names: the same sentence, or the sentence that ends it."""
    if not clause.text.endswith(LEAD_IN_END):
        return False
    return lead_in == clause.quote or clause.text.endswith(lead_in) or lead_in.endswith(clause.text)


def list_items(policy: Policy) -> dict[str, tuple[Clause, ...]]:
    """Each lead-in clause's id to the bullets that name it as their lead-in, in document order."""
    items: dict[str, list[Clause]] = {}
    for i, bullet in enumerate(policy.clauses):
        if not bullet.lead_in:
            continue
        for earlier in reversed(policy.clauses[:i]):
            if earlier.section != bullet.section:
                break
            if introduces(earlier, bullet.lead_in):
                items.setdefault(earlier.id, []).append(bullet)
                break
    return {cid: tuple(bullets) for cid, bullets in items.items()}


def places(policy: Policy) -> dict[str, str]:
    """Where each clause sits in a section printed with several paragraphs or list items: "paragraph 2", "item 3".

    The policy numbers only the section; counting its parts lets two clauses of one section be told apart.
    """
    paragraphs: dict[str, list[Clause]] = {}
    items: dict[tuple[str, str], list[Clause]] = {}
    for clause in policy.clauses:
        if clause.lead_in:
            items.setdefault((clause.section, clause.lead_in), []).append(clause)
        else:
            paragraphs.setdefault(clause.section, []).append(clause)
    found = {}
    for group in paragraphs.values():
        if len(group) > 1:
            found.update((c.id, f"paragraph {n}") for n, c in enumerate(group, 1))
    for group in items.values():
        found.update((c.id, f"item {n}") for n, c in enumerate(group, 1))
    return found


@dataclass(frozen=True)
class TopicSpeaker:
    """A policy that speaks for some schools on a topic: the guidance note a school adds, or its council's."""

    policy_id: str
    schools: tuple[School, ...]


@dataclass(frozen=True)
class PolicyParts:
    """What answers need to know about one policy, worked out once per version of it: its clauses by topic, the
    list items each lead-in introduces, where each clause sits in its section, and the roles its clauses name (a
    school is never told to ask someone its policies never mention)."""

    policy: Policy
    by_topic: Mapping[str, tuple[Clause, ...]]
    items: Mapping[str, tuple[Clause, ...]]
    places: Mapping[str, str]
    named_roles: frozenset[str]

    @classmethod
    def of(cls, policy: Policy) -> PolicyParts:
        by_topic: dict[str, list[Clause]] = {}
        for clause in policy.clauses:
            for topic in clause.topics:
                by_topic.setdefault(topic, []).append(clause)
        return cls(
            policy,
            {t: tuple(c) for t, c in by_topic.items()},
            list_items(policy),
            places(policy),
            frozenset(role for clause in policy.clauses for role in clause.contacts),
        )


class Composer:
    """Builds Answers for one knowledge base.

    Everything that does not depend on the question is worked out once here: which clauses carry which topic in
    which policy, which lists each lead-in introduces, which policy speaks for which schools on each topic and
    which clause a policy's topic note summarises. Per answer, the work then does not grow with the number of
    schools.
    """

    def __init__(self, kb: KnowledgeBase, retriever: Retriever, previous: Composer | None = None):
        """With `previous` (the composer of an earlier version of the knowledge base), what it worked out for a
        policy the loader handed back unchanged (the same object) is kept, so a reload that changed one policy
        works out that policy alone."""
        self.kb = kb
        self.retriever = retriever
        same_topics = previous is not None and previous.kb.topics == kb.topics
        if previous is not None and same_topics and previous.retriever.analyzer is retriever.analyzer:
            self.topic_terms = previous.topic_terms
        else:
            self.topic_terms = {
                t.id: frozenset(retriever.analyzer.terms(" ".join((t.title, *t.terms))))
                for t in kb.topics.values()
            }
        # The index each policy's clauses are looked up in (the first school's that has the policy): for how rare
        # a word is there, and which words a clause uses, so nothing is analysed twice.
        self.policy_index: dict[str, SchoolIndex] = {}
        for school in kb.schools.values():
            for policy_id in school.policies:
                self.policy_index.setdefault(policy_id, retriever.indexes[school.id])
        kept = previous.parts if previous is not None and same_topics else {}
        self.parts: dict[str, PolicyParts] = {}
        for policy in kb.policies.values():
            earlier = kept.get(policy.id)
            self.parts[policy.id] = (
                earlier if earlier and earlier.policy is policy else PolicyParts.of(policy)
            )
        # Whole quotes and the clause each topic note cites depend only on the knowledge base: each is worked out
        # the first time an answer needs it and kept (the command line answers one question; a server warms up).
        # Quotes are kept for the most recently quoted clauses only: at 500 schools there are 50,000 clauses.
        self._whole_quote = lru_cache(maxsize=QUOTES_KEPT)(self._whole)
        self._quote_words = lru_cache(maxsize=QUOTES_KEPT)(lambda c: plain_terms(self.cite_whole(c).quote))
        # Other schools' entries are the same few policies' best clauses for every asker of a question: at 500
        # schools, working them out again was 8% of a busy server's time.
        self._best_on_topic_of = lru_cache(maxsize=QUOTES_KEPT)(self._best_on_topic_uncached)
        # The phrases that ask for each topic whose roles lead when asked for (topics.yaml `leads_contacts`).
        self.leading = {t.id: PhraseSet(t.asked_with) for t in kb.topics.values() if t.leads_contacts}
        self.speakers = self._speakers(previous.speaking if previous is not None and same_topics else {})
        self.note_clauses: dict[tuple[str, str], Clause | None] = {}

    # -- built once ------------------------------------------------------------------------------------------
    def _items(self, clause: Clause) -> tuple[Clause, ...]:
        """The list items the clause's lead-in introduces (none for a clause that introduces no list)."""
        parts = self.parts.get(clause.policy_id)
        return parts.items.get(clause.id, ()) if parts is not None else ()

    def _on_topic(self, policy_id: str, topic: str) -> Sequence[Clause]:
        parts = self.parts.get(policy_id)
        return parts.by_topic.get(topic, ()) if parts is not None else ()

    def _speakers(
        self, earlier: Mapping[tuple[str, ...], tuple[tuple[Policy, ...], dict[str, str]]]
    ) -> dict[str, tuple[TopicSpeaker, ...]]:
        """Topic to the policies that speak on it, each with the schools it speaks for, in school order.

        Which policy speaks on each topic depends only on a school's policies, so it is worked out once per
        distinct list of policies, and kept from `earlier` while those policies are unchanged."""
        self.speaking: dict[tuple[str, ...], tuple[tuple[Policy, ...], dict[str, str]]] = {}
        grouped: dict[str, dict[str, list[School]]] = {}
        for school in self.kb.schools.values():
            key = school.policies
            found = self.speaking.get(key)
            if found is None:
                policies = tuple(self.kb.policies[p] for p in key if p in self.kb.policies)
                found = earlier.get(key)
                if (
                    found is None
                    or len(found[0]) != len(policies)
                    or any(a is not b for a, b in zip(found[0], policies, strict=True))
                ):
                    speaking = {}
                    for topic in self.kb.topics:
                        policy_id = self._speaking_policy(school, topic)
                        if policy_id is not None:
                            speaking[topic] = policy_id
                    found = (policies, speaking)
                self.speaking[key] = found
            for topic, policy_id in found[1].items():
                grouped.setdefault(topic, {}).setdefault(policy_id, []).append(school)
        return {
            topic: tuple(TopicSpeaker(p, tuple(schools)) for p, schools in by_policy.items())
            for topic, by_policy in grouped.items()
        }

    def _speaking_policy(self, school: School, topic: str) -> str | None:
        """The school's policy that speaks on the topic: its own guidance first, and one about the topic over one
        that only touches it (a note on pupils' friend requests that mentions the official site)."""
        covering = [p for p in reversed(school.policies) if self._on_topic(p, topic)]
        about = [p for p in covering if any(c.topics[0] == topic for c in self._on_topic(p, topic))]
        return (about or covering or [None])[0]

    def note_clause(self, policy_id: str, topic: str) -> Clause | None:
        """The clause a policy's note on `topic` summarises, so the note is cited by one fixed section.

        A note states its main rule first ("Keep your LinkedIn profile accurate …, and think about … identity
        theft"), so the clause sharing most of the opening words wins, then most of all the words; each word is
        weighted by how rare it is in the policy ("LinkedIn" tells more than "council").
        """
        key = (policy_id, topic)
        if key in self.note_clauses:
            return self.note_clauses[key]
        note = self.kb.policies[policy_id].topic_notes.get(topic)
        candidates = self._on_topic(policy_id, topic)
        picked = None
        if note and candidates:
            idf = self._idf_for(policy_id)
            opening = plain_terms(NOTE_PARTS.split(note, maxsplit=1)[0])
            whole = plain_terms(note)
            picked = max(
                candidates,
                key=lambda c: (
                    sum(map(idf, opening & self._quote_terms(c))),
                    sum(map(idf, whole & self._quote_terms(c))),
                    c.topics[0] == topic,
                ),
            )
        self.note_clauses[key] = picked
        return picked

    def _idf_for(self, policy_id: str) -> Callable[[str], float]:
        """How rare a word is among the clauses of a school that this policy covers (flat if it covers none)."""
        index = self.policy_index.get(policy_id)
        return index.idf if index is not None else (lambda term: 1.0)

    def _quote_terms(self, clause: Clause) -> frozenset[str]:
        """The words of the clause's whole quote, worked out once however many topics list the clause."""
        return self._quote_words(clause)

    # -- per answer ------------------------------------------------------------------------------------------
    def no_match(self, school: School, question: str) -> Answer:
        general = contact_ref(school, school.general_contact)
        return Answer(
            status=NO_MATCH,
            school_id=school.id,
            school_name=school.name,
            question=question,
            message=(
                "The social media policy does not cover this question. "
                f"For other questions, please ask {in_sentence(general.title) if general else 'HR'}."
            ),
            contacts=(general,) if general else (),
        )

    def compose(
        self, school: School, question: str, result: SearchResult, today: dt.date, sensitive: bool = False
    ) -> Answer:
        """The answer to `question` from a search's result, with its sensitivity and hand-off.

        `sensitive`: the question itself reads as a personal or safeguarding matter (bot.sensitivity), whatever
        the topic of the clause it quotes."""
        route = result.route
        sensitive = sensitive or bool(route and self.kb.topics[route.topic].sensitive)
        return self.finish(school, self._compose(school, question, result, today), sensitive)

    def finish(self, school: School, answer: Answer, sensitive: bool = False) -> Answer:
        """Mark a sensitive answer and lead it with its contact; name the person a hand-off goes to."""
        topic = self.kb.topics.get(answer.topic_id) if answer.topic_id else None
        handoff = next((h for h in (self._handoff(school, c) for c in answer.contacts) if h), None)
        if handoff is None and answer.status == NO_MATCH:
            handoff = self._handoff(school, contact_ref(school, school.general_contact))
        sensitive = sensitive or bool(topic and topic.sensitive)
        if not sensitive:
            return replace(answer, handoff=handoff)
        if answer.status != ANSWERED:  # kept private, with its usual "not covered" message
            return replace(answer, sensitive=True, privacy_note=PRIVACY_NOTE, handoff=handoff)
        lead = answer.contacts[0] if answer.contacts else None
        message = answer.message or (
            f"This is one to talk through with {in_sentence(lead.title)} directly." if lead else ""
        )
        return replace(answer, sensitive=True, privacy_note=PRIVACY_NOTE, message=message, handoff=handoff)

    def _handoff(self, school: School, contact: ContactRef | None) -> Handoff | None:
        role = self.kb.roles.get(contact.role) if contact else None
        if contact is None or role is None or not role.ask:
            return None
        return Handoff(contact.role, contact.title, role.ask, contact.how)

    def _compose(self, school: School, question: str, result: SearchResult, today: dt.date) -> Answer:
        if result.route is not None:
            return self.routed(school, question, result, today)
        if not result.confident or result.best is None:
            return self.no_match(school, question)
        best: Hit = result.best
        clause = best.clause
        terms = set(result.terms)
        topic = self._topic_for(clause, terms)
        quoted = self.cite_whole(clause, best.score)
        variant = self._school_variant(school, clause, topic, terms)
        shown = (quoted, variant) if variant else (quoted,)
        runners_up, related = self._related(school, question, result, clause, shown)
        return Answer(
            status=ANSWERED,
            school_id=school.id,
            school_name=school.name,
            question=question,
            clause=quoted,
            school_variant=variant,
            variants=self._other_schools(school, topic, terms),
            contacts=self._contacts(school, clause, question),
            alternatives=related,
            runners_up=runners_up,
            topic_id=topic,
            topic_title=self.kb.topics[topic].title if topic else None,
            review_note=review_note(self.kb, clause.policy_id, today),
        )

    def cite_whole(self, clause: Clause, score: float = 0.0) -> CitedClause:
        """The clause as a quote that reads on its own: a lead-in with its list, a list item after its lead-in."""
        cited = self._whole_quote(clause)
        return replace(cited, score=round(score, 3)) if score else cited

    def _whole(self, clause: Clause) -> CitedClause:
        parts = self.parts.get(clause.policy_id)
        cited = replace(cite(self.kb, clause), place=parts.places.get(clause.id) if parts else None)
        bullets = tuple(self._bullets(clause, level=2 if clause.lead_in else 1))
        if bullets:
            last = bullets[-1]
            bullets = (*bullets[:-1], Bullet(read_on(last.text), last.level))
            return replace(cited, bullets=bullets)
        return replace(cited, text=read_on(clause.text))

    def _bullets(self, clause: Clause, level: int) -> Iterable[Bullet]:
        for item in self._items(clause):
            yield Bullet(item.text, level)
            yield from self._bullets(item, level + 1)

    def _folded(self, clause: Clause) -> set[str]:
        """The ids of the clauses a whole quote of `clause` already shows: its list, and that list's lists."""
        ids = set()
        for item in self._items(clause):
            ids |= {item.id} | self._folded(item)
        return ids

    def _related(
        self,
        school: School,
        question: str,
        result: SearchResult,
        quoted: Clause,
        shown: Sequence[CitedClause],
    ) -> tuple[tuple[CitedClause, ...], tuple[CitedClause, ...]]:
        """The runners-up (distinct from the quote and each other) and the related clauses (distinct from
        everything `shown` too), best first."""
        hits = result.hits[1:]
        runners_up = self._distinct(hits, quoted, shown[:1])
        related = self._distinct(hits, quoted, shown)
        if len(related) < MAX_ALTERNATIVES and len(result.hits) < DEEP_SEARCH:
            # The first hits repeat what the answer shows (a list's items, "Also applies"): look further.
            hits = self.retriever.search(school.id, question, limit=DEEP_SEARCH).hits[1:]
            runners_up = self._distinct(hits, quoted, shown[:1])
            related = self._distinct(hits, quoted, shown)
        return runners_up, related

    def _distinct(
        self, hits: Sequence[Hit], quoted: Clause, shown: Sequence[CitedClause]
    ) -> tuple[CitedClause, ...]:
        """Up to MAX_ALTERNATIVES hits whose citations differ from each other's and from those `shown`, leaving out
        the clauses a whole quote of `quoted` folds in."""
        citations = {c.citation for c in shown}
        folded = self._folded(quoted) | {quoted.id}
        picks: list[CitedClause] = []
        for hit in hits:
            if hit.clause.id in folded:
                continue
            cited = self.cite_whole(hit.clause, hit.score)
            if cited.citation in citations:
                continue
            citations.add(cited.citation)
            picks.append(cited)
            if len(picks) == MAX_ALTERNATIVES:
                break
        return tuple(picks)

    def _best_on_topic(self, policy_id: str, topic: str, terms: set[str]) -> Clause | None:
        """The policy's clause on the topic that shares most words with `terms`; one about the topic wins a tie."""
        return self._best_on_topic_of(policy_id, topic, frozenset(terms))

    def _best_on_topic_uncached(self, policy_id: str, topic: str, terms: frozenset[str]) -> Clause | None:
        candidates = self._on_topic(policy_id, topic)
        if not candidates:
            return None
        index = self.policy_index.get(policy_id)
        if index is None or not terms or len(candidates) == 1:
            return max(candidates, key=lambda c: c.topics[0] == topic)
        counts = index.shared_counts([c.id for c in candidates], terms)
        return max(
            zip(counts, candidates, strict=True), key=lambda pair: (pair[0], pair[1].topics[0] == topic)
        )[1]

    def _topic_for(self, clause: Clause, terms: set[str]) -> str | None:
        """The clause's topic that the question is about: a clause on friends may cover pupils and parents."""
        if not clause.topics:
            return None
        return max(
            clause.topics,
            key=lambda t: (len(terms & self.topic_terms.get(t, frozenset())), -clause.topics.index(t)),
        )

    def _school_variant(
        self, school: School, clause: Clause, topic: str | None, terms: set[str]
    ) -> CitedClause | None:
        """The same topic in the school's other applicable policy (council policy vs guidance note)."""
        if topic is None:
            return None
        for policy_id in school.policies:
            if policy_id != clause.policy_id:
                other = self._best_on_topic(policy_id, topic, terms)
                if other is not None:
                    return self.cite_whole(other)
        return None

    def _other_schools(self, school: School, topic: str | None, terms: set[str]) -> tuple[Variant, ...]:
        """Other schools' rules on the topic, one entry per policy, cited by the clause its note summarises."""
        if topic is None:
            return ()
        variants: list[Variant] = []
        for speaker in self.speakers.get(topic, ()):
            if speaker.policy_id in school.policies:
                continue  # the asker's own rule is the quote
            others = tuple(s for s in speaker.schools if s.id != school.id)
            note = self.kb.policies[speaker.policy_id].topic_notes.get(topic)
            clause = self.note_clause(speaker.policy_id, topic) if note else None
            clause = clause or self._best_on_topic(speaker.policy_id, topic, terms)
            if not others or clause is None:
                continue
            variants.append(
                Variant(
                    school_ids=tuple(s.id for s in others),
                    school_names=tuple(s.name for s in others),
                    clause=self.cite_whole(clause),
                    note=note,
                )
            )
            if len(variants) == MAX_VARIANTS:
                break
        return tuple(variants)

    def _contacts(self, school: School, clause: Clause, question: str = "") -> tuple[ContactRef, ...]:
        """The roles the school's own policy names for this matter, most relevant first, one entry per role.
        A topic that leads contacts and that the question asks for (topics.yaml `leads_contacts`) puts its roles
        first among the clause's own: Wolverhampton 10.5 names the Headteacher, and the Chair of Governors for a
        concern about the head, so "who do I tell if it's the head?" leads with the chair."""
        leading = [
            r for t in self._leading_topics(question) if t in clause.topics for r in self.kb.topics[t].roles
        ]
        roles = [r for r in leading if r in clause.contacts] + list(clause.contacts)
        roles += [r for t in clause.topics for r in self._topic_roles(school, t)]
        if not roles:
            roles.append(school.general_contact)
        refs = [contact_ref(school, role) for role in dict.fromkeys(roles)]
        return tuple(r for r in refs if r is not None)[:MAX_CONTACTS]

    def _leading_topics(self, question: str) -> list[str]:
        """The topics that lead contacts (topics.yaml `leads_contacts`) the question asks for by its words."""
        if not question or not self.leading:
            return []
        typed = typed_text(question)
        return [topic for topic, phrases in self.leading.items() if phrases.found_in(typed)]

    def _topic_roles(self, school: School, topic: str) -> Iterable[str]:
        """The topic's usual contacts that this school's policies name somewhere (or that every school has)."""
        named = frozenset().union(*(self.parts[p].named_roles for p in school.policies if p in self.parts))
        return (r for r in self.kb.topics[topic].roles if r in named or r in STATUTORY_ROLES)

    # -- routes (routes.yaml) --------------------------------------------------------------------------------
    def routed(self, school: School, question: str, result: SearchResult, today: dt.date) -> Answer:
        """A route is never declined. It leads with its contact and its message, and quotes the school's own
        clause on the route's topic when the search ranks one, else the best clause when the search is sure of
        it (unless the route is unmistakable: then its words matching another clause are beside the point),
        else the school's clause on the topic if its policies have one; otherwise the message stands alone."""
        route = result.route
        assert route is not None
        clause = next((h.clause for h in result.hits[:3] if route.topic in h.clause.topics), None)
        if clause is None and result.confident and result.best is not None and not result.route_clear:
            clause = result.best.clause  # the search is sure of its clause: quote it under the route's lead
        if clause is None:
            terms = set(result.terms)
            on_topic = (self._best_on_topic(p, route.topic, terms) for p in reversed(school.policies))
            clause = next((c for c in on_topic if c is not None), None)
        lead = contact_ref(school, route.lead)
        if clause is None:
            return Answer(
                status=ANSWERED,
                school_id=school.id,
                school_name=school.name,
                question=question,
                message=route.message,
                contacts=(lead,) if lead else (),
                topic_id=route.topic,
                topic_title=self.kb.topics[route.topic].title,
            )
        hits = (Hit(clause, result.best.score if result.best else 0.0),) + tuple(
            h for h in result.hits if h.clause.id != clause.id
        )
        answer = self._compose(
            school, question, replace(result, route=None, hits=hits, confident=True), today
        )
        # A worry about a child that concerns the head ("what if it was the head doing it?") names, after the DSL,
        # whom the school's policy sends a concern about the head to.
        leading = (
            contact_ref(school, r)
            for t in self._leading_topics(question)
            for r in self._topic_roles(school, t)
        )
        contacts = tuple({c.role: c for c in (lead, *leading, *answer.contacts) if c is not None}.values())
        return replace(answer, message=route.message, contacts=contacts[:MAX_CONTACTS])

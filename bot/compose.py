"""The channel-neutral Answer and how it is built from a search result.

An Answer quotes the best clause of the asker's own school, adds the school's other applicable policy on the same
topic (a council policy and a school's guidance note, say), notes how other schools' rules differ, and lists who
to contact, most relevant first. Adapters only render it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

from bot.knowledge import Clause, KnowledgeBase, School, parse_year_month
from bot.retrieval import Hit, Retriever, SearchResult

ANSWERED = "answered"
NO_MATCH = "no_match"
HELP = "help"

MAX_CONTACTS = 3
MAX_VARIANTS = 4
MAX_ALTERNATIVES = 2


@dataclass(frozen=True)
class CitedClause:
    """A clause as quoted: its words with the citation that lets staff find it in the document."""

    id: str
    policy_id: str
    policy_title: str
    section: str
    heading: str
    text: str
    lead_in: str | None = None
    score: float = 0.0

    @property
    def quote(self) -> str:
        return f"{self.lead_in} {self.text}" if self.lead_in else self.text

    @property
    def citation(self) -> str:
        heading = f", {self.heading}" if self.heading else ""
        return f"{self.policy_title}, §{self.section}{heading}"


@dataclass(frozen=True)
class ContactRef:
    role: str
    title: str
    name: str | None = None
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
    alternatives: tuple[CitedClause, ...] = ()
    topic_id: str | None = None
    topic_title: str | None = None
    review_note: str | None = None
    examples: tuple[str, ...] = field(default=())
    interaction_id: str | None = None  # set once the answer is logged, so feedback can point back to it

    @property
    def clauses(self) -> tuple[CitedClause, ...]:
        """The quoted clause then the alternatives, best first."""
        return ((self.clause,) if self.clause else ()) + self.alternatives


def cite(kb: KnowledgeBase, clause: Clause, score: float = 0.0) -> CitedClause:
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
    contact = school.contact(role)
    if contact is None:
        return None
    return ContactRef(role=role, title=contact.title, name=contact.name, how=contact.how)


def review_note(kb: KnowledgeBase, policy_id: str, today: dt.date) -> str | None:
    policy = kb.policies[policy_id]
    if not policy.overdue_for_review(today):
        return None
    year, month = parse_year_month(policy.review_date)  # type: ignore[misc]
    return f"This policy was due for review in {calendar.month_name[month]} {year}. Check with HR that it is current."


class Composer:
    """Builds Answers for one knowledge base; precomputes which clauses carry which topic in which policy."""

    def __init__(self, kb: KnowledgeBase, retriever: Retriever):
        self.kb = kb
        self.retriever = retriever
        self.topic_terms = {
            t.id: frozenset(retriever.analyzer.terms(" ".join((t.title, *t.terms))))
            for t in kb.topics.values()
        }
        self.by_topic: dict[tuple[str, str], list[Clause]] = {}
        # Term sets for picking the most fitting clause of a topic: the retriever's, so nothing is analysed twice.
        self.clause_terms: dict[str, frozenset[str]] = dict(retriever.clause_terms)
        for policy in kb.policies.values():
            for clause in policy.clauses:
                for topic in clause.topics:
                    self.by_topic.setdefault((policy.id, topic), []).append(clause)

    def no_match(self, school: School, question: str) -> Answer:
        general = contact_ref(school, school.general_contact)
        return Answer(
            status=NO_MATCH,
            school_id=school.id,
            school_name=school.name,
            question=question,
            message=(
                "The social media policy does not cover this question. "
                f"For other questions, please ask {general.title if general else 'HR'}."
            ),
            contacts=(general,) if general else (),
        )

    def compose(self, school: School, question: str, result: SearchResult, today: dt.date) -> Answer:
        if not result.confident or result.best is None:
            return self.no_match(school, question)
        best: Hit = result.best
        clause = best.clause
        terms = set(result.terms)
        topic = self._topic_for(clause, terms)
        return Answer(
            status=ANSWERED,
            school_id=school.id,
            school_name=school.name,
            question=question,
            clause=cite(self.kb, clause, best.score),
            school_variant=self._school_variant(school, clause, topic, terms),
            variants=self._other_schools(school, topic, terms),
            contacts=self._contacts(school, clause),
            alternatives=tuple(
                cite(self.kb, h.clause, h.score) for h in result.hits[1 : 1 + MAX_ALTERNATIVES]
            ),
            topic_id=topic,
            topic_title=self.kb.topics[topic].title if topic else None,
            review_note=review_note(self.kb, clause.policy_id, today),
        )

    def _best_on_topic(self, policy_id: str, topics: tuple[str, ...], terms: set[str]) -> Clause | None:
        for topic in topics:
            candidates = self.by_topic.get((policy_id, topic))
            if candidates:
                return max(candidates, key=lambda c: len(terms & self.clause_terms.get(c.id, frozenset())))
        return None

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
                other = self._best_on_topic(policy_id, (topic,), terms)
                if other is not None:
                    return cite(self.kb, other)
        return None

    def _other_schools(self, school: School, topic: str | None, terms: set[str]) -> tuple[Variant, ...]:
        if topic is None:
            return ()
        # Schools that share a policy share its rule: group them, and skip the asker's own policies.
        groups: dict[str, list[School]] = {}
        for other in self.kb.schools.values():
            if other.id == school.id:
                continue
            for policy_id in reversed(other.policies):  # a school's own guidance note speaks first
                if policy_id not in school.policies and (policy_id, topic) in self.by_topic:
                    groups.setdefault(policy_id, []).append(other)
                    break
        variants = []
        for policy_id, schools in list(groups.items())[:MAX_VARIANTS]:
            match = self._best_on_topic(policy_id, (topic,), terms)
            if match is None:
                continue
            variants.append(
                Variant(
                    school_ids=tuple(s.id for s in schools),
                    school_names=tuple(s.name for s in schools),
                    clause=cite(self.kb, match),
                    note=self.kb.policies[policy_id].topic_notes.get(topic),
                )
            )
        return tuple(variants)

    def _contacts(self, school: School, clause: Clause) -> tuple[ContactRef, ...]:
        roles: list[str] = list(clause.contacts)
        for topic in clause.topics:
            roles += self.kb.topics[topic].roles
        if not roles:
            roles.append(school.general_contact)
        refs = []
        for role in dict.fromkeys(roles):
            ref = contact_ref(school, role)
            if ref is not None:
                refs.append(ref)
        return tuple(refs[:MAX_CONTACTS])

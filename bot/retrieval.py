"""BM25 retrieval over one school's clauses (its own plus inherited ones), with a confidence gate.

Two BM25 models per school: one over each clause's body (text, lead-in, heading, topic titles) and one over
its example questions, one document per example. A clause scores its body plus a weighted sum of its two best
examples, so that chat phrasing HR has seen before matches even when it shares few words with the policy, and
one stray example cannot carry a clause alone. rank-bm25 computes the idf; scoring itself runs over
precomputed postings (`Postings`), which gives the same scores without a Python loop over every document.
Indexes are built once per distinct set of policies when the knowledge base loads; schools that share a
policy share the index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rank_bm25 import BM25Okapi

from bot.analysis import Analyzer
from bot.knowledge import Clause, KnowledgeBase

# Tuned on ../shared/eval/dev.yaml and tests/eval/chat.yaml (see README, "Retrieval figures").
K1 = 1.2
B = 0.5
EPSILON = 0.0  # a word in over half of a school's clauses ("social", "media", "school") adds nothing
EXAMPLE_WEIGHT = 0.4
SECOND_EXAMPLE_WEIGHT = 1.0  # relative to the best example
MIN_COVERAGE = 0.62  # share of the question's typed words (idf-weighted) that the best clause contains
MIN_COVERAGE_SOCIAL = 0.1  # the same when the question names a social-media word (scope.yaml)
MIN_SCORE = 3.0  # and an absolute floor, so one shared common word never answers


@dataclass(frozen=True)
class Hit:
    clause: Clause
    score: float


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[Hit, ...]
    confident: bool
    coverage: float
    terms: tuple[str, ...]

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.hits else None


class Postings:
    """BM25Okapi's scores, computed from per-term postings instead of scanning every document per term."""

    def __init__(self, model: BM25Okapi, docs: Sequence[Sequence[str]]):
        self.idf = model.idf
        lengths = np.array([len(d) for d in docs], dtype=np.float64)
        self.size = len(docs)
        self.norm = model.k1 * (1 - model.b + model.b * lengths / (model.avgdl or 1.0))
        self.k1 = model.k1
        rows: dict[str, tuple[list[int], list[int]]] = {}
        for i, doc in enumerate(docs):
            counts: dict[str, int] = {}
            for term in doc:
                counts[term] = counts.get(term, 0) + 1
            for term, tf in counts.items():
                ids, tfs = rows.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)
        self.postings = {
            t: (np.array(i, dtype=np.int64), np.array(f, dtype=np.float64)) for t, (i, f) in rows.items()
        }

    def get_scores(self, terms: Sequence[str]) -> np.ndarray:
        scores = np.zeros(self.size)
        for term in terms:
            posting = self.postings.get(term)
            idf = self.idf.get(term) or 0.0
            if posting is None or idf == 0.0:
                continue
            ids, tf = posting
            scores[ids] += idf * tf * (self.k1 + 1) / (tf + self.norm[ids])
        return scores


class SchoolIndex:
    """The BM25 indexes over a fixed list of clauses."""

    def __init__(self, clauses: Sequence[Clause], analyzer: Analyzer, kb: KnowledgeBase):
        self.clauses = tuple(clauses)
        self.analyzer = analyzer
        # Phrases stay phrases: "friend request" must not make every "request" sound like social media.
        self.social_phrases = tuple(p for p in (tuple(analyzer.terms(w)) for w in kb.social_media_words) if p)
        bodies = [self._body(c, kb) for c in self.clauses]
        self.body = Postings(BM25Okapi(bodies, k1=K1, b=B, epsilon=EPSILON), bodies)
        examples, owners = [], []
        for i, clause in enumerate(self.clauses):
            for example in clause.examples:
                examples.append(analyzer.terms(example))
                owners.append(i)
        # Clauses are walked in order, so each clause's examples sit together: owners never decrease.
        self.example_owner = np.array(owners, dtype=np.int64)
        self.examples = (
            Postings(BM25Okapi(examples, k1=K1, b=B, epsilon=EPSILON), examples) if examples else None
        )
        self.vocab = [
            frozenset(b) | frozenset(t for j in np.flatnonzero(self.example_owner == i) for t in examples[j])
            for i, b in enumerate(bodies)
        ]
        n = len(self.clauses)
        # A word the school's policies never use weighs as much as the rarest possible word.
        self.unknown_idf = math.log((n + 0.5) / 0.5)

    def _body(self, clause: Clause, kb: KnowledgeBase) -> list[str]:
        parts = [clause.text, clause.lead_in or "", clause.heading]
        parts += [kb.topics[t].title for t in clause.topics if t in kb.topics]
        return self.analyzer.terms(" ".join(parts))

    def idf(self, term: str) -> float:
        return max(self.body.idf.get(term, self.unknown_idf), 0.0)

    def scores(self, terms: list[str]) -> np.ndarray:
        scores = self.body.get_scores(terms)
        if self.examples is not None:
            first, second = self._two_best(self.examples.get_scores(terms))
            scores = scores + EXAMPLE_WEIGHT * (first + SECOND_EXAMPLE_WEIGHT * second)
        return scores

    def _two_best(self, per_example: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each clause's best and second-best example score."""
        first = np.zeros(len(self.clauses))
        second = np.zeros(len(self.clauses))
        hit = np.flatnonzero(per_example)
        if hit.size == 0:
            return first, second
        owners, values = self.example_owner[hit], per_example[hit]
        order = np.lexsort((-values, owners))  # by clause, best first within a clause
        owners, values = owners[order], values[order]
        starts = np.r_[0, np.flatnonzero(np.diff(owners)) + 1]
        first[owners[starts]] = values[starts]
        nxt = starts + 1
        has_second = nxt < owners.size
        nxt, starts = nxt[has_second], starts[has_second]
        same = owners[nxt] == owners[starts]
        second[owners[nxt[same]]] = values[nxt[same]]
        return first, second

    def search(self, question: str, limit: int = 3) -> SearchResult:
        groups = self.analyzer.groups(question)
        terms = list(dict.fromkeys(t for g in groups for t in g))
        if not terms:
            return SearchResult((), False, 0.0, ())
        scores = self.scores(terms)
        order = np.argsort(-scores, kind="stable")[:limit]
        hits = tuple(Hit(self.clauses[i], float(scores[i])) for i in order if scores[i] > 0)
        if not hits:
            return SearchResult((), False, 0.0, tuple(terms))
        coverage = self.coverage(groups, self.vocab[order[0]])
        present = set(terms)
        social = any(all(t in present for t in phrase) for phrase in self.social_phrases)
        floor = MIN_COVERAGE_SOCIAL if social else MIN_COVERAGE
        confident = coverage >= floor and hits[0].score >= MIN_SCORE
        return SearchResult(hits, confident, coverage, tuple(terms))

    def coverage(self, groups: list[tuple[str, ...]], vocab: frozenset[str]) -> float:
        """The idf-weighted share of typed words that the clause speaks to (directly or via a synonym)."""
        total = covered = 0.0
        for group in groups:
            weight = max(self.idf(t) for t in group)
            total += weight
            if any(t in vocab for t in group):
                covered += weight
        return covered / total if total else 0.0


class Retriever:
    """The per-school indexes for one knowledge base."""

    def __init__(self, kb: KnowledgeBase, analyzer: Analyzer | None = None):
        self.kb = kb
        self.analyzer = analyzer or Analyzer.for_knowledge(kb)
        by_policies: dict[tuple[str, ...], SchoolIndex] = {}
        self.indexes: dict[str, SchoolIndex] = {}
        self.clause_terms: dict[str, frozenset[str]] = {}  # every indexed clause's terms, body and examples
        for school in kb.schools.values():
            key = school.policies
            if key not in by_policies:
                index = by_policies[key] = SchoolIndex(kb.clauses_for(school.id), self.analyzer, kb)
                self.clause_terms.update((c.id, v) for c, v in zip(index.clauses, index.vocab, strict=True))
            self.indexes[school.id] = by_policies[key]

    def search(self, school_id: str, question: str, limit: int = 3) -> SearchResult:
        self.kb.school(school_id)  # raises UnknownSchool with the list of known ones
        return self.indexes[school_id].search(question, limit)

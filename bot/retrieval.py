"""BM25 retrieval over one school's clauses (its own plus inherited ones), with a confidence gate.

Each clause is indexed as its text, lead-in, heading, topic titles and example questions. Indexes are built once
per distinct set of policies when the knowledge base loads; schools that share a policy share the index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rank_bm25 import BM25Okapi

from bot.analysis import Analyzer
from bot.knowledge import Clause, KnowledgeBase

# Tuned on ../shared/eval/dev.yaml and tests/eval/chat.yaml (see README, "Retrieval figures").
K1 = 1.2
B = 0.5
EPSILON = 0.25
MIN_COVERAGE = 0.5  # share of the question's idf weight that the best clause must contain
MIN_SCORE = 3.0  # and an absolute BM25 floor, so one shared common word never answers


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


class SchoolIndex:
    """One BM25 index over a fixed list of clauses."""

    def __init__(self, clauses: Sequence[Clause], analyzer: Analyzer, kb: KnowledgeBase):
        self.clauses = tuple(clauses)
        self.analyzer = analyzer
        self.docs = [self._document(c, kb) for c in self.clauses]
        self.doc_sets = [frozenset(d) for d in self.docs]
        self.bm25 = BM25Okapi(self.docs, k1=K1, b=B, epsilon=EPSILON)
        n = len(self.docs)
        # A word the school's policies never use weighs as much as the rarest possible word.
        self.unknown_idf = math.log((n + 0.5) / 0.5)

    def _document(self, clause: Clause, kb: KnowledgeBase) -> list[str]:
        parts = [clause.text, clause.lead_in or "", clause.heading]
        parts += [kb.topics[t].title for t in clause.topics if t in kb.topics]
        parts += clause.examples
        return self.analyzer.terms(" ".join(parts))

    def idf(self, term: str) -> float:
        return self.bm25.idf.get(term, self.unknown_idf)

    def search(self, question: str, limit: int = 3) -> SearchResult:
        terms = self.analyzer.terms(question)
        unique = tuple(dict.fromkeys(terms))
        if not unique:
            return SearchResult((), False, 0.0, ())
        scores = self.bm25.get_scores(list(unique))
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[:limit]
        hits = tuple(Hit(self.clauses[i], float(scores[i])) for i in order if scores[i] > 0)
        if not hits:
            return SearchResult((), False, 0.0, unique)
        best_terms = self.doc_sets[order[0]]
        total = sum(max(self.idf(t), 0.0) for t in unique) or 1.0
        covered = sum(max(self.idf(t), 0.0) for t in unique if t in best_terms)
        coverage = covered / total
        confident = coverage >= MIN_COVERAGE and hits[0].score >= MIN_SCORE
        return SearchResult(hits, confident, coverage, unique)


class Retriever:
    """The per-school indexes for one knowledge base."""

    def __init__(self, kb: KnowledgeBase, analyzer: Analyzer | None = None):
        self.kb = kb
        self.analyzer = analyzer or Analyzer(kb.synonyms)
        by_policies: dict[tuple[str, ...], SchoolIndex] = {}
        self.indexes: dict[str, SchoolIndex] = {}
        for school in kb.schools.values():
            key = school.policies
            if key not in by_policies:
                by_policies[key] = SchoolIndex(kb.clauses_for(school.id), self.analyzer, kb)
            self.indexes[school.id] = by_policies[key]

    def search(self, school_id: str, question: str, limit: int = 3) -> SearchResult:
        self.kb.school(school_id)  # raises UnknownSchool with the list of known ones
        return self.indexes[school_id].search(question, limit)

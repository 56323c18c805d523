"""BM25 retrieval over one school's clauses (its own plus inherited ones), with a confidence gate.

Two BM25 models per school: one over each clause's body (text, lead-in, heading, topic titles) and one over
its example questions, one document per example. A clause scores its body plus a weighted sum of its two best
examples, so that chat phrasing HR has seen before matches even when it shares few words with the policy, and
one stray example cannot carry a clause alone. rank-bm25 computes the idf; scoring itself runs over
precomputed postings (`Postings`), which gives the same scores without a Python loop over every document.
Indexes are built once per distinct set of policies when the knowledge base loads; schools that share a
policy share the index.

With an `Embedder` (bot/semantic.py) each clause is also weighed by meaning: its cosine similarity to the
question, against its own text and against its example questions (the nearest one, and the mean of the nearest
three). The ranking score is one weighted sum (`Ranking`) of those cosines, the max-normalised BM25 score, the
share of the question's words the clause speaks to, and how many example questions HR has written for it. The
weights were fitted by bench/fit_ranking.py on our own question sets alone (tests/eval), so that
../shared/eval's sets measure them unseen. The cosines are also the gate's second signal: a wordy worry that
shares few policy words is not declined, and a near miss that shares policy words but means something else is.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
import math
import sqlite3
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot import analysis
from bot.analysis import Analyzer
from bot.knowledge import Clause, KnowledgeBase, Policy, Route
from bot.semantic import Embedder, ModelUnavailable, Progress, VectorStore, cache_day, open_cache, text_key
from bot.typed import PhraseSet, typed_text

if TYPE_CHECKING:  # only a test hands Postings a BM25Okapi, to check the scores against it
    from rank_bm25 import BM25Okapi

log = logging.getLogger(__name__)

# Tuned on ../shared/eval/dev.yaml and tests/eval/chat*.yaml (see README, "Retrieval figures").
K1 = 1.2
B = 0.5
EPSILON = 0.0  # a word in over half of a school's clauses ("social", "media", "school") adds nothing
EXAMPLE_WEIGHT = 0.4
SECOND_EXAMPLE_WEIGHT = 1.0  # relative to the best example
MIN_COVERAGE = 0.80  # share of the question's typed words (idf-weighted) that the best clause contains
MIN_COVERAGE_SOCIAL = 0.1  # the same when the question names a social-media word (scope.yaml)
MIN_SCORE = 3.0  # and an absolute floor, so one shared common word never answers
SEMANTIC_ACCEPT = 0.65  # a clause this close in meaning answers even when the words differ
SEMANTIC_REJECT = 0.35  # a clause no closer than this never answers, whatever words it shares
ROUTE_ACCEPT = 0.40  # a question this close to a route's examples (routes.yaml) may take that route,
ROUTE_MARGIN = -0.04  # if it is about as close to them as to any clause's examples
# A question this much nearer a route's examples than any clause's is unmistakably the route's ("a yr 5 girl
# says an older lad keeps asking her for pics"): its answer quotes the school's clause on the route's topic, not
# whichever clause its words happen to match best. Nearer the margin ("a mum keeps DMing me about her son's
# reading") the best clause is kept under the route's lead.
ROUTE_CLEAR = 0.06
ROUTE_BM25_SHARE = 0.5  # ...and the idf-weighted share of the question's words its best example must have
ROUTE_BM25_ACCEPT = 8.0  # the same on BM25 alone, when no embedding model is loaded
# A question this close to scope.yaml's off-topic examples (mean of its two nearest), and nearer them than to the
# school's clause examples by this margin, is declined: "and how do I book the minibus?" leans on a thread in
# form, and "who's on lunch duty today?" shares "lunch" with the rules on breaks, but neither is a policy matter.
# On our question sets these flag 44 of the 73 questions that must be declined and none of the 440 others. The
# margin was 0.05 with the shipped model; with the derived one (bot.semantic) 0.04 still declines "how do i top up
# my account for school dinners", and anything from 0.03 to 0.05 changes no other answer on the sets.
OFF_TOPIC_ACCEPT = 0.40
OFF_TOPIC_MARGIN = 0.04


@dataclass(frozen=True)
class Ranking:
    """The weight of each feature in a clause's score when the model is loaded. Fitted by bench/fit_ranking.py
    (a listwise softmax over every clause of the asker's school, L2 0.01) on tests/eval's sets alone, then scaled
    so that BM25 weighs 1; the fit reports the leave-one-set-out figures. Refit after changing a feature."""

    bm25: float = 1.0  # BM25 over text and examples, divided by the school's best
    text: float = 1.178  # cosine to the clause's own text (0 if negative)
    example: float = 0.540  # cosine to its nearest example question (0 if negative or none)
    examples: float = 2.383  # mean cosine to its three nearest example questions (0 if none)
    # log(1 + its number of example questions): HR write most for what staff ask most
    example_count: float = 0.515
    coverage: float = 1.065  # idf-weighted share of the question's words the clause speaks to (`coverage`)
    # per phrase list of topics.yaml `asked_with` the question shows that asks for the clause's topic ("who do I tell")
    asked_with: float = 0.447

    def weights(self) -> np.ndarray:
        return np.array(
            [
                self.bm25,
                self.text,
                self.example,
                self.examples,
                self.example_count,
                self.coverage,
                self.asked_with,
            ]
        )


RANKING_WEIGHTS = Ranking().weights()


@dataclass(frozen=True)
class Signals:
    """A question's signals for every clause of one index (`SchoolIndex.signals`)."""

    groups: list[tuple[str, ...]]  # the typed words, each with its synonyms' terms
    terms: list[str]
    bm25: np.ndarray
    coverage: np.ndarray
    semantic: Similarity | None
    # per clause, how many of the phrase lists the question shows (topics.yaml `asked_with`) ask for its topics
    asked: np.ndarray


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
    semantic: float | None = None  # the best hit's cosine similarity; None without an embedding model
    nearest_example: float = 0.0  # mean cosine of the two example questions nearest the question (for routes)
    route: Route | None = None  # a knowledge-level route the question takes (child safety), if any
    # The route is unmistakable: the question shows its signs, or is ROUTE_CLEAR nearer it than any clause.
    route_clear: bool = False
    off_topic: bool = False  # nearer scope.yaml's off-topic examples than any clause's: declined

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.hits else None


class Vocabulary:
    """Every search term the indexes of a knowledge base use, numbered once.

    Indexes keep term numbers in numpy arrays instead of a dict of strings each: at 500 schools the per-index
    dicts and per-clause term sets were a third of the server's memory. Numbers are only ever added, so an index
    built against an earlier version of the knowledge base stays valid when a reload adds words.
    """

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.terms: list[str] = []
        self._lock = threading.Lock()  # lazily built indexes add words from the server's worker threads

    def add(self, terms: Sequence[str]) -> np.ndarray:
        """The numbers of `terms`, in order, numbering new ones."""
        ids = self.ids
        found = list(map(ids.get, terms))
        if None in found:
            with self._lock:
                for term in terms:
                    if term not in ids:
                        ids[term] = len(self.terms)
                        self.terms.append(term)
            found = list(map(ids.__getitem__, terms))
        return np.array(found, dtype=np.int32)

    def find(self, term: str) -> int:
        """The number of `term`, or -1 if no index uses it."""
        return self.ids.get(term, -1)


class Postings:
    """BM25Okapi's scores, computed from per-term postings instead of scanning every document per term.

    All postings sit in one pair of arrays (documents, term frequencies); the index's terms are a sorted array
    of vocabulary numbers, and each term's run in the pair is found by its position there. No per-term or
    per-document Python object is kept, and the terms of a document are derived from the arrays when needed.
    """

    def __init__(
        self,
        model: BM25Okapi | None,
        docs: Sequence[Sequence[str]],
        k1: float = K1,
        b: float = B,
        epsilon: float = EPSILON,
        vocabulary: Vocabulary | None = None,
    ):
        """Postings of `docs` with `model`'s idf, or (model None) with the idf BM25Okapi(docs, k1, b, epsilon)
        would compute, worked out here from the same counts in the same order, so it is the same to the bit."""
        vocabulary = vocabulary or Vocabulary()
        self._build([vocabulary.add(d) for d in docs], vocabulary, k1, b, epsilon, model)

    @classmethod
    def of_numbers(
        cls,
        docs: Sequence[np.ndarray],
        vocabulary: Vocabulary,
        k1: float = K1,
        b: float = B,
        epsilon: float = EPSILON,
    ) -> Postings:
        """Postings of documents already turned into vocabulary numbers (`Vocabulary.add`)."""
        postings = cls.__new__(cls)
        postings._build(docs, vocabulary, k1, b, epsilon, None)
        return postings

    def _build(self, docs, vocabulary: Vocabulary, k1: float, b: float, epsilon: float, model) -> None:
        if model is not None:
            k1, b = model.k1, model.b
        self.vocabulary = vocabulary
        self.size = n = len(docs)
        lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=n)
        avgdl = model.avgdl if model is not None else (int(lengths.sum()) / n if n else 0.0)
        self.norm = k1 * (1 - b + b * lengths.astype(np.float64) / (avgdl or 1.0))
        self.k1 = k1
        flat = np.concatenate(docs).astype(np.int64) if n and lengths.sum() else np.zeros(0, np.int64)
        # Each distinct term (sorted by number), the position of its first use, and each token's term.
        terms, first_use, local = np.unique(flat, return_index=True, return_inverse=True)
        width = max(len(terms), 1)
        doc_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
        pairs, tf = np.unique(
            doc_of * width + local.reshape(-1), return_counts=True
        )  # by document, then term
        pair_term = pairs % width
        order = np.argsort(pair_term, kind="stable")  # by term, documents ascending within each term
        self.ids = _compact((pairs // width)[order], n)
        self.tfs = _compact(tf[order], int(tf.max(initial=0)))
        frequency = np.bincount(pair_term, minlength=len(terms))
        self.offsets = _compact(np.r_[0, np.cumsum(frequency)], len(pairs))
        self.terms = terms.astype(np.int32)
        # rank_bm25 meets terms in the order they are first used; its epsilon floor sums idf in that order.
        self.first_seen = _compact(np.argsort(first_use, kind="stable"), len(terms))
        if model is not None:
            words = vocabulary.terms
            self.idf_values = np.array([model.idf.get(words[t], 0.0) for t in self.terms.tolist()])
        else:
            self.idf_values = _okapi_idf(frequency, n, epsilon, self.first_seen)

    def _row(self, term: str) -> int:
        number = self.vocabulary.ids.get(term, -1)
        if number < 0:
            return -1
        row = int(self.terms.searchsorted(number))
        return row if row < len(self.terms) and self.terms[row] == number else -1

    def rows(self, terms: Sequence[str]) -> list[int]:
        """Each term's row (-1: this index does not use it). A question has a handful of terms: one binary
        search each is cheaper than numpy's set-up for searching them all at once."""
        return [self._row(t) for t in terms]

    def documents_at(self, row: int) -> np.ndarray:
        """The documents that use the term at `row` (from `rows`), ascending; none for -1."""
        return self.ids[self.offsets[row] : self.offsets[row + 1]] if row >= 0 else self.ids[:0]

    @property
    def idf(self) -> dict[str, float]:
        """Each term's idf in the order rank-bm25 meets them (built on demand: for tests and tools, not answers)."""
        words = self.vocabulary.terms
        return {words[self.terms[r]]: float(self.idf_values[r]) for r in self.first_seen.tolist()}

    def idf_of(self, term: str, default: float) -> float:
        row = self._row(term)
        return default if row < 0 else float(self.idf_values[row])

    def documents_with(self, term: str) -> np.ndarray:
        """The documents that use `term`, ascending."""
        return self.documents_at(self._row(term))

    def get_scores(self, terms: Sequence[str], rows: Sequence[int] | None = None) -> np.ndarray:
        """BM25 scores of every document for `terms` (their `rows`, when the caller has them already)."""
        scores = np.zeros(self.size)
        for row in self.rows(terms) if rows is None else rows:
            if row < 0:
                continue
            idf = float(self.idf_values[row])
            if idf == 0.0:
                continue
            start, end = self.offsets[row], self.offsets[row + 1]
            ids, tf = self.ids[start:end], self.tfs[start:end].astype(np.float64)
            scores[ids] += idf * tf * (self.k1 + 1) / (tf + self.norm[ids])
        return scores


def _compact(values: np.ndarray, largest: int) -> np.ndarray:
    """`values` (none above `largest`, none negative) in the narrowest unsigned type that holds them: most of an
    index is postings, and most documents are one short example question."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if largest <= np.iinfo(dtype).max:
            return values.astype(dtype)
    return values.astype(np.int64)


def _okapi_idf(frequency: np.ndarray, size: int, epsilon: float, first_seen: np.ndarray) -> np.ndarray:
    """rank_bm25's BM25Okapi idf: log((N - df + 0.5) / (df + 0.5)) as two math.log calls, as it writes it; terms
    used in over half the documents get epsilon times the mean idf, summed in first-use order as it sums."""
    if not len(frequency):
        return np.zeros(0)
    distinct, which = np.unique(frequency, return_inverse=True)
    idf = np.array([math.log(size - f + 0.5) - math.log(f + 0.5) for f in distinct.tolist()])[
        which.reshape(-1)
    ]
    negative = idf < 0
    if negative.any():
        idf_sum = float(np.cumsum(idf[first_seen])[-1])  # a running sum: the same additions in the same order
        idf[negative] = epsilon * (idf_sum / len(idf))
    return idf


def two_nearest(similarity: np.ndarray) -> float:
    """The mean of the two highest similarities: how near a question is to a set of example questions. Clauses,
    routes and off-topic questions are all weighed this way, so that they can be compared with each other."""
    k = min(2, similarity.size)
    return float(np.partition(similarity, -k)[-k:].mean())


@dataclass(frozen=True)
class SemanticVectors:
    """Rows of a shared VectorStore: each clause's text, and its example questions (owners ascending)."""

    matrix: np.ndarray
    body: np.ndarray  # row of each clause's text
    examples: np.ndarray  # row of each example question, grouped by clause
    example_starts: np.ndarray  # first example of each clause that has examples
    example_clauses: np.ndarray  # which clause each run of examples belongs to
    example_grid: np.ndarray  # a row per run: its examples' places in `examples`, padded with -1

    @classmethod
    def build(cls, store: VectorStore, body: Sequence[str], examples: Sequence[str], owners: np.ndarray):
        starts = np.r_[0, np.flatnonzero(np.diff(owners)) + 1] if owners.size else np.zeros(0, np.int64)
        clauses = owners[starts] if owners.size else starts
        counts = np.diff(np.r_[starts, owners.size])
        columns = np.arange(int(counts.max(initial=0)))
        grid = np.where(columns < counts[:, None], starts[:, None] + columns, -1).astype(np.intp)
        return cls(
            store.matrix, store.rows_of(body), store.rows_of(examples), starts.astype(np.int64), clauses, grid
        )

    def similarity(self, question: np.ndarray) -> Similarity:
        """How near the question is to each clause's text and to its example questions."""
        text = self.matrix[self.body] @ question
        example = np.full(text.shape, -1.0, dtype=text.dtype)
        examples = np.zeros(text.shape, dtype=text.dtype)
        nearest = 0.0
        if self.examples.size:
            per_example = self.matrix[self.examples] @ question
            example[self.example_clauses] = np.maximum.reduceat(per_example, self.example_starts)
            examples[self.example_clauses] = _mean_of_nearest(
                per_example, self.example_grid, NEAREST_EXAMPLES
            )
            nearest = two_nearest(per_example)
        return Similarity(text, example, examples, nearest)


NEAREST_EXAMPLES = 3


def _mean_of_nearest(similarity: np.ndarray, grid: np.ndarray, k: int) -> np.ndarray:
    """Per row of `grid` (indexes into `similarity`, -1 for none), the mean of its k highest similarities, or of
    all it has when fewer."""
    padded = np.append(similarity, -np.inf)[grid]  # -1 reads the appended -inf
    k = min(k, padded.shape[1])
    best = -np.partition(-padded, k - 1, axis=1)[:, :k]
    held = np.isfinite(best)
    return np.where(held, best, 0.0).sum(axis=1) / held.sum(axis=1)


@dataclass(frozen=True)
class Similarity:
    """A question's cosines to one school's clauses, from SemanticVectors.similarity."""

    text: np.ndarray  # to each clause's own text
    example: np.ndarray  # to each clause's closest example question (-1: it has none)
    # The mean of each clause's three closest example questions (0: it has none): a clause that several examples
    # describe beats one whose single example happens to share the question's phrasing, which is what a
    # situation told at length needs.
    examples: np.ndarray
    nearest: float  # mean cosine of the two nearest example questions of any clause (what a route is weighed against)


def body_text(clause: Clause, kb: KnowledgeBase) -> str:
    """What a clause's body index entry is analysed from: text, lead-in, heading and topic titles."""
    parts = [clause.text, clause.lead_in or "", clause.heading]
    parts += [kb.topics[t].title for t in clause.topics if t in kb.topics]
    return " ".join(parts)


def semantic_text(clause: Clause) -> str:
    """What a clause's meaning is embedded from: its heading and the words it quotes."""
    return f"{clause.heading}. {clause.quote}" if clause.heading else clause.quote


class SchoolIndex:
    """The BM25 indexes, and optionally the semantic vectors, over a fixed list of clauses."""

    def __init__(
        self,
        clauses: Sequence[Clause],
        analyzer: Analyzer,
        kb: KnowledgeBase,
        store: VectorStore | None = None,
        terms: Callable[[str], list[str]] | None = None,
        vectors_from: Callable[[Sequence[str]], VectorStore] | None = None,
        lazy: bool = False,
        vocabulary: Vocabulary | None = None,
        numbers: Callable[[str], np.ndarray] | None = None,
    ):
        """`terms` analyses the clauses' texts (default: `analyzer.terms`; the Retriever passes one that analyses
        each distinct text once for all its indexes) and `numbers` gives their terms as `vocabulary` numbers
        (the Retriever's remembers them per text). Questions always go through `analyzer`.

        The semantic vectors come from `store`, or (`vectors_from`, a lazy Retriever) from the store it returns
        for this index's texts, fetched at the first search. `lazy` also leaves the example questions' postings
        to the first search; what other schools' answers read of this index (body idf, clause terms) is built
        at once.
        """
        self.clauses = tuple(clauses)
        self.analyzer = analyzer
        self.vocabulary = vocabulary = vocabulary or Vocabulary()
        terms = terms or analyzer.terms
        if numbers is None:

            def numbers(text: str) -> np.ndarray:
                return vocabulary.add(terms(text))

        # Phrases stay phrases: "friend request" must not make every "request" sound like social media.
        self.social_phrases = tuple(p for p in (tuple(terms(w)) for w in kb.social_media_words) if p)
        self.body = Postings.of_numbers([numbers(body_text(c, kb)) for c in self.clauses], vocabulary)
        examples, owners, example_texts = [], [], []
        for i, clause in enumerate(self.clauses):
            for example in clause.examples:
                examples.append(numbers(example))
                example_texts.append(example)
                owners.append(i)
        # Clauses are walked in order, so each clause's examples sit together: owners never decrease.
        self.example_owner = np.array(owners, dtype=np.intp)
        self.example_count = np.log1p(np.bincount(self.example_owner, minlength=len(self.clauses)))
        # Topics a question can ask for by its typed words (topics.yaml `asked_with`), each with its clauses here.
        # Topics with the same phrases (reporting a breach, who to ask: "who", "tell"...) are one entry, so that a
        # clause on both is not asked for twice by one word; a clause asked for by two different lists ("who do i
        # tell" and "if it's the head") is, and ranks above its neighbours asked for by one.
        self.asked: list[tuple[PhraseSet, np.ndarray]] = []
        by_phrases: dict[tuple[str, ...], np.ndarray] = {}
        for topic in kb.topics.values():
            if not topic.asked_with:
                continue
            on_topic = np.array([topic.id in c.topics for c in self.clauses], dtype=np.float64)
            key = tuple(topic.asked_with)
            by_phrases[key] = np.maximum(by_phrases.get(key, 0.0), on_topic)
        for key, on_topic in by_phrases.items():
            if on_topic.any():
                self.asked.append((PhraseSet(key), on_topic))
        self.position = {c.id: i for i, c in enumerate(self.clauses)}
        self._lock = threading.Lock()  # the server answers from worker threads
        self._examples: Postings | None = None
        self._example_docs: list[np.ndarray] | None = examples if examples and lazy else None
        if examples and not lazy:
            self._examples = Postings.of_numbers(examples, vocabulary)
        n = len(self.clauses)
        # A word the school's policies never use weighs as much as the rarest possible word.
        self.unknown_idf = math.log((n + 0.5) / 0.5)
        self.vectors: SemanticVectors | None = None
        self._vectors_from = None
        if store is not None:
            bodies_text = [semantic_text(c) for c in self.clauses]
            self.vectors = SemanticVectors.build(store, bodies_text, example_texts, self.example_owner)
        elif vectors_from is not None:
            self._vectors_from = vectors_from
            self._example_texts = example_texts

    @property
    def examples(self) -> Postings | None:
        """The example questions' postings, built now if this index was built to build them at its first search."""
        if self._example_docs is not None:
            with self._lock:
                if self._example_docs is not None:
                    self._examples = Postings.of_numbers(self._example_docs, self.vocabulary)
                    self._example_docs = None
        return self._examples

    def semantic_vectors(self) -> SemanticVectors | None:
        """The vectors, fetched now if this index was built to fetch them at its first search."""
        if self.vectors is None and self._vectors_from is not None:
            with self._lock:
                if self.vectors is None:
                    bodies_text = [semantic_text(c) for c in self.clauses]
                    store = self._vectors_from(bodies_text + self._example_texts)
                    self.vectors = SemanticVectors.build(
                        store, bodies_text, self._example_texts, self.example_owner
                    )
        return self.vectors

    def moved(self, store: VectorStore | None) -> SchoolIndex:
        """This index, its semantic vectors read from `store`, which holds every row of the old store unchanged."""
        if self.vectors is None or store is None or store.matrix is self.vectors.matrix:
            return self
        index = copy.copy(self)
        index.vectors = dataclasses.replace(self.vectors, matrix=store.matrix)
        return index

    def _body(
        self, clause: Clause, kb: KnowledgeBase, terms: Callable[[str], list[str]] | None = None
    ) -> list[str]:
        return (terms or self.analyzer.terms)(body_text(clause, kb))

    def idf(self, term: str) -> float:
        return max(self.body.idf_of(term, self.unknown_idf), 0.0)

    def lookup(self, terms: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Each term's row in the body postings and in the example postings (-1 where unused), found once."""
        body = self.body.rows(terms)
        examples = self.examples.rows(terms) if self.examples is not None else [-1] * len(terms)
        return dict(zip(terms, zip(body, examples, strict=True), strict=True))

    def scores(self, terms: list[str], found: dict[str, tuple[int, int]] | None = None) -> np.ndarray:
        """BM25 alone: the clause body plus its two best example questions."""
        found = found or self.lookup(terms)
        scores = self.body.get_scores(terms, [found[t][0] for t in terms])
        if self.examples is not None:
            per_example = self.examples.get_scores(terms, [found[t][1] for t in terms])
            first, second = self._two_best(per_example)
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

    def signals(self, question: str, vector: np.ndarray | None = None) -> Signals:
        """What the question's ranking is made of, for every clause of this index."""
        groups = self.analyzer.groups(question)
        terms = list(dict.fromkeys(t for g in groups for t in g))
        vectors = self.semantic_vectors() if vector is not None else None
        semantic = vectors.similarity(vector) if vectors is not None and vector is not None else None
        found = self.lookup(terms)
        bm25 = self.scores(terms, found) if terms else np.zeros(len(self.clauses))
        asked = np.zeros(len(self.clauses))
        if self.asked:
            typed = typed_text(question)
            for phrases, on_topic in self.asked:
                if phrases.found_in(typed):
                    np.add(asked, on_topic, out=asked)
        return Signals(groups, terms, bm25, self.coverages(groups, found), semantic, asked)

    def features(self, signals: Signals) -> np.ndarray:
        """One row per clause, one column per weight of `Ranking` (needs the semantic signals)."""
        assert signals.semantic is not None
        top = signals.bm25.max()
        return np.stack(
            [
                signals.bm25 / top if top > 0 else signals.bm25,
                np.clip(signals.semantic.text, 0.0, None),
                np.clip(signals.semantic.example, 0.0, None),
                signals.semantic.examples,
                self.example_count,
                signals.coverage,
                signals.asked,
            ],
            axis=1,
        )

    def search(self, question: str, limit: int = 3, vector: np.ndarray | None = None) -> SearchResult:
        signals = self.signals(question, vector)
        terms, bm25, coverage, semantic = signals.terms, signals.bm25, signals.coverage, signals.semantic
        nearest = semantic.nearest if semantic is not None else 0.0
        if not terms and semantic is None:
            return SearchResult((), False, 0.0, ())
        scores = bm25 if semantic is None else self.features(signals) @ RANKING_WEIGHTS
        order = np.argsort(-scores, kind="stable")[:limit]
        hits = tuple(Hit(self.clauses[i], float(scores[i])) for i in order if scores[i] > 0)
        if not hits:
            return SearchResult((), False, 0.0, tuple(terms), nearest_example=nearest)
        best = order[0]
        present = set(terms)
        social = any(all(t in present for t in phrase) for phrase in self.social_phrases)
        floor = MIN_COVERAGE_SOCIAL if social else MIN_COVERAGE
        lexical = coverage[best] >= floor and bm25[best] >= MIN_SCORE
        if semantic is None:
            return SearchResult(hits, lexical, float(coverage[best]), tuple(terms))
        # Whether the question has an answer is asked of the top few clauses, not only the first: a question
        # that reads like one clause's examples while another edges it on words is still in scope.
        meaning = float(np.maximum(semantic.text[order[:3]], semantic.example[order[:3]]).max())
        confident = meaning >= SEMANTIC_ACCEPT or (lexical and meaning >= SEMANTIC_REJECT)
        return SearchResult(
            hits, confident, float(coverage[best]), tuple(terms), meaning, nearest_example=nearest
        )

    def coverage(
        self, groups: list[tuple[str, ...]], position: int, found: dict[str, tuple[int, int]] | None = None
    ) -> float:
        """The idf-weighted share of typed words that the clause at `position` speaks to (directly or via a
        synonym, in its text or its example questions). `found`: the groups' terms' `lookup`, if made already."""
        return float(self.coverages(groups, found)[position])

    def coverages(
        self, groups: list[tuple[str, ...]], found: dict[str, tuple[int, int]] | None = None
    ) -> np.ndarray:
        """`coverage` of every clause at once: one pass per typed word's terms over all of them."""
        covered = np.zeros(len(self.clauses))
        if not groups:
            return covered
        found = found or self.lookup([t for g in groups for t in g])
        idf = self.body.idf_values
        examples = self.examples
        total = 0.0
        for group in groups:
            weight = max(
                max(float(idf[found[t][0]]), 0.0) if found[t][0] >= 0 else self.unknown_idf for t in group
            )
            total += weight
            used = np.zeros(len(self.clauses), dtype=bool)
            for term in group:
                body, example = found[term]
                if body >= 0:
                    used[self.body.documents_at(body)] = True
                if example >= 0 and examples is not None:
                    used[self.example_owner[examples.documents_at(example)]] = True
            covered += weight * used
        return covered / total if total else covered

    def uses(self, position: int, term: str) -> bool:
        """Whether the clause at `position` uses `term` in its body or in one of its example questions."""
        return self._uses(position, self.lookup([term])[term])

    def _uses(self, position: int, rows: tuple[int, int]) -> bool:
        body, examples = rows
        if body >= 0:
            found = self.body.documents_at(body)
            at = int(found.searchsorted(position))
            if at < found.size and found[at] == position:
                return True
        if examples < 0 or self.examples is None:
            return False
        owners = self.example_owner[self.examples.documents_at(examples)]  # ascending: owners never decrease
        at = int(owners.searchsorted(position))
        return at < owners.size and owners[at] == position

    def shared_counts(
        self, clause_ids: Sequence[str], terms: set[str], found: dict[str, tuple[int, int]] | None = None
    ) -> list[int]:
        """`shared_terms` of several clauses at once: one pass per term over all of them, not one per clause."""
        positions = np.array([self.position.get(c, -1) for c in clause_ids], dtype=np.intp)
        counts = np.zeros(len(clause_ids), dtype=np.intp)
        if not terms or not len(positions):
            return counts.tolist()
        found = found or self.lookup(list(terms))
        for term in terms:
            body, examples = found[term]
            used = _members(positions, self.body.documents_at(body)) if body >= 0 else False
            if examples >= 0 and self.examples is not None:
                owners = self.example_owner[self.examples.documents_at(examples)]  # ascending
                used = used | _members(positions, owners)
            counts += used
        counts[positions < 0] = 0
        return counts.tolist()

    def shared_terms(
        self, clause_id: str, terms: set[str], found: dict[str, tuple[int, int]] | None = None
    ) -> int:
        """How many of `terms` the clause uses (0 for a clause not in this index); `found`: their `lookup`, when
        several clauses are weighed against the same terms."""
        position = self.position.get(clause_id)
        if position is None or not terms:
            return 0
        found = found or self.lookup(list(terms))
        return sum(self._uses(position, found[t]) for t in terms)


def _members(values: np.ndarray, sorted_pool: np.ndarray) -> np.ndarray:
    """Which of `values` occur in `sorted_pool` (ascending), as a boolean array."""
    if not sorted_pool.size:
        return np.zeros(values.shape, dtype=bool)
    at = np.minimum(sorted_pool.searchsorted(values), sorted_pool.size - 1)
    return sorted_pool[at] == values


class RouteIndex:
    """Knowledge-level routes (routes.yaml): each matched by its example questions, by meaning or by words."""

    def __init__(
        self,
        routes: Sequence[Route],
        analyzer: Analyzer,
        store: VectorStore | None,
        terms: Callable[[str], list[str]] | None = None,
        vocabulary: Vocabulary | None = None,
    ):
        self.routes = tuple(routes)
        self.analyzer = analyzer
        texts, owners = [], []
        for i, route in enumerate(self.routes):
            texts += route.examples
            owners += [i] * len(route.examples)
        self.owner = np.array(owners, dtype=np.int64)
        docs = [(terms or analyzer.terms)(t) for t in texts]
        self.bm25 = Postings(None, docs, vocabulary=vocabulary) if docs else None
        self.doc_terms = [frozenset(d) for d in docs]
        self.vectors = store.matrix[store.rows_of(texts)] if store is not None and texts else None
        analyse = terms or analyzer.terms
        self.signs = [
            (route, *self._signs(route, analyse)) for route in self.routes if route.about and route.signs
        ]
        self.unless = [PhraseSet(route.unless) for route in self.routes]

    def _unless(self, route: int, question: str) -> bool:
        """Whether the question shows one of the route's `unless` words, as typed."""
        return self.unless[route].found_in(typed_text(question))

    @staticmethod
    def _signs(
        route: Route, terms: Callable[[str], list[str]]
    ) -> tuple[frozenset[str], tuple[frozenset[str], ...]]:
        """The terms naming whom a route is about (synonyms included: "kid" is a pupil), and each sign as the
        terms it needs, all of them ("self harm" needs both words; "bruised" and "bruises" are one stem). A
        question's terms carry the same synonyms as a sign's, so requiring all of a sign's is fair."""
        about = frozenset(t for word in route.about for t in terms(word))
        signs = (frozenset(terms(sign)) for sign in route.signs)
        return about, tuple(s for s in signs if s)

    def signalled(self, question: str, terms: Sequence[str] | None = None) -> Route | None:
        """The first route whose signs the question shows: someone it is about, and one of its signs.
        `terms`: the question's terms with their synonyms, when a search has analysed it already."""
        if not self.signs:
            return None
        present = set(terms) if terms is not None else {t for g in self.analyzer.groups(question) for t in g}
        for route, about, signs in self.signs:
            if about & present and any(sign <= present for sign in signs):
                return route
        return None

    def match(
        self,
        question: str,
        vector: np.ndarray | None,
        rival: float,
        terms: Sequence[str] | None = None,
        off_topic: float = 0.0,
    ) -> tuple[Route | None, float, bool]:
        """The route the question takes, if any; by how much; and whether it is unmistakable (ROUTE_CLEAR).

        By meaning, a route is taken when the question is near its examples (ROUTE_ACCEPT) and at least about
        as near them as to the school's own clause examples (`rival`, ROUTE_MARGIN): "a pupil DMd me saying she is
        scared to go home" is nearer the child-safety examples than any clause's; "a parent keeps messaging me on
        facebook about her child's grades" is nearer the clauses on parents. (The margin leans towards the
        route: "a mum keeps DMing me about her son's reading" still takes it at four schools, quoting the clause
        on parents under the DSL.) Without a model, BM25 over the examples decides.
        Either way, a question showing a route's signs takes it ("a pupil posted photos of her bruises": its
        words sit near the clauses on posting photos, but it is a worry about a child). `off_topic`: how near the
        question is to scope.yaml's questions that no policy answers; one clearly nearer those than the route's
        examples (by OFF_TOPIC_MARGIN, as off-topic questions must be to beat a clause) is not the route's ("a
        parent wants to pay dinner money by card"). Only clearly: declining a worry about a child is the worst
        answer there is, and HR adding an off-topic question about parents must not tip one over.
        """
        if self.bm25 is None:
            return None, 0.0, False
        signalled = self.signalled(question, terms)
        if self.vectors is not None and vector is not None:
            similarity = self.vectors @ vector
            best = int(np.argmax(similarity))
            margin = two_nearest(similarity) - rival
            if signalled is not None:
                return signalled, margin, True
            # Clearly nearer scope.yaml's questions that no policy answers (pay, dinner money, rotas) than the route's
            # own examples: not a worry of the route's kind, however it compares with the clauses. Nor is one that
            # shows the route's `unless` words ("a yr 11 sent me a message calling me a slag").
            route = int(self.owner[best])
            taken = (
                float(similarity[best]) >= ROUTE_ACCEPT
                and margin >= ROUTE_MARGIN
                and off_topic - two_nearest(similarity) < OFF_TOPIC_MARGIN
                and not self._unless(route, question)
            )
            return (self.routes[route] if taken else None), margin, taken and margin >= ROUTE_CLEAR
        if signalled is not None:
            return signalled, 0.0, True
        asked = self.analyzer.terms(question)
        similarity = self.bm25.get_scores(asked)
        best = int(np.argmax(similarity))
        score = float(similarity[best])
        # A high score can come from one rare word ("lunch"); the example must also share most of what was asked,
        # each typed word counted once with its synonyms ("lunch" brings "rest" and "break").
        groups = [g for g in self.analyzer.groups(question) if g]
        weights = [(max(max(self.bm25.idf_of(t, 0.0), 0.0) for t in g), g) for g in groups]
        total = sum(w for w, _ in weights)
        shared = (
            sum(w for w, g in weights if any(t in self.doc_terms[best] for t in g)) / total if total else 0.0
        )
        route = int(self.owner[best])
        taken = (
            score >= ROUTE_BM25_ACCEPT and shared >= ROUTE_BM25_SHARE and not self._unless(route, question)
        )
        return (self.routes[route] if taken else None), score, False


class OffTopicIndex:
    """scope.yaml's `off_topic` examples: what staff ask that no social media policy answers (leave, pay, rotas).

    Only meaning can tell these apart, so without an embedding model nothing is taken for off-topic."""

    def __init__(self, examples: Sequence[str], store: VectorStore | None):
        self.examples = tuple(examples)
        self.vectors = store.matrix[store.rows_of(self.examples)] if store is not None and examples else None

    def nearness(self, vector: np.ndarray | None) -> float:
        """How near a question (its vector) is to the examples: the mean of the two nearest (0 without a model)."""
        if self.vectors is None or vector is None:
            return 0.0
        return two_nearest(self.vectors @ vector)

    def nearer(self, vector: np.ndarray | None, rival: float, near: float | None = None) -> bool:
        """Whether a question (its vector) is near the examples, and nearer them than `rival` by the margin.
        `near`: its `nearness`, when worked out already."""
        if self.vectors is None or vector is None:
            return False
        near = self.nearness(vector) if near is None else near
        return near >= OFF_TOPIC_ACCEPT and near - rival >= OFF_TOPIC_MARGIN


# The analysis cache's table, in the embedding cache's file; `used` as in bot.semantic.VECTORS_TABLE.
TERMS_TABLE = "terms (key BLOB PRIMARY KEY, terms TEXT NOT NULL, used INTEGER NOT NULL DEFAULT 0)"


class TermsCache:
    """Each knowledge-base text's analysed terms, by content, in a SQLite file: a start analyses only new text.

    Analysing the ~4,300 clause and example texts is most of what building the indexes costs (about 0.5 s), and
    their terms change only when the text or the analysis does. A text's key is the sha256 of the text and of
    everything its analysis depends on: the analyzer's and the stemmer's source, the Unicode tables, and the
    knowledge base's synonyms and word combinations; so a cached entry is exactly what `Analyzer.terms` would
    return, and an edit to any of those simply misses the cache. A file that cannot be used costs speed only.
    """

    def __init__(self, path: Path | None):
        self.path = path

    @staticmethod
    def fingerprint(kb: KnowledgeBase) -> bytes:
        digest = hashlib.sha256(b"terms-v1\0")
        stemmer = Path(analysis.snowballstemmer.__file__).parent
        for source in (Path(analysis.__file__), stemmer / "basestemmer.py", stemmer / "english_stemmer.py"):
            try:
                digest.update(source.read_bytes())
            except OSError:
                digest.update(repr(source).encode())
        digest.update(analysis.stemmer_identity().encode())
        digest.update(f"{unicodedata.unidata_version}\0{sys.version_info[:2]}\0".encode())
        digest.update(repr(list(kb.synonyms.items())).encode())
        digest.update(repr(kb.combinations).encode())
        return digest.digest()

    def _connect(self) -> sqlite3.Connection | None:
        db = open_cache(self.path, TERMS_TABLE, "analysis cache")
        if db is None:
            self.path = None  # texts are analysed at each start
        return db

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, list[str]]:
        found: dict[bytes, list[str]] = {}
        db = self._connect() if keys else None
        if db is None:
            return found
        try:
            with db:
                for start in range(0, len(keys), 500):
                    chunk = keys[start : start + 500]
                    rows = db.execute(
                        f"SELECT key, terms FROM terms WHERE key IN ({','.join('?' * len(chunk))})", chunk
                    )
                    found.update((bytes(key), terms.split()) for key, terms in rows)
        except sqlite3.Error as exc:
            log.warning("analysis cache read failed (%s); texts are analysed again", exc)
        finally:
            db.close()
        return found

    def put_many(self, items: dict[bytes, list[str]]) -> None:
        db = self._connect() if items else None
        if db is None:
            return
        try:
            with db:
                day = cache_day()
                db.executemany(
                    "INSERT OR REPLACE INTO terms (key, terms, used) VALUES (?, ?, ?)",
                    [(key, " ".join(terms), day) for key, terms in items.items()],
                )
        except sqlite3.Error as exc:
            log.warning("analysis cache write failed (%s)", exc)
        finally:
            db.close()


def _analysed_texts(kb: KnowledgeBase, clauses: Iterable[Clause]) -> Iterator[str]:
    """The texts a SchoolIndex over `clauses` analyses: each clause's body and its example questions."""
    for clause in clauses:
        yield body_text(clause, kb)
        yield from clause.examples


def _shared_analysed_texts(kb: KnowledgeBase) -> list[str]:
    """The texts every index's analysis shares: scope.yaml's words and the routes' examples, subjects and signs."""
    return [*kb.social_media_words, *(e for r in kb.routes for e in (*r.examples, *r.about, *r.signs))]


def _terms_key(fingerprint: bytes, text: str) -> bytes:
    """A text's key in the analysis cache (`TermsCache`), given what its analysis depends on."""
    return hashlib.sha256(fingerprint + text.encode("utf-8", "surrogatepass")).digest()[:20]


def _embedded_texts(kb: KnowledgeBase, policies: Sequence[Policy]) -> Iterator[str]:
    """The texts embedded for `policies`: their clauses and example questions, and every index's route and
    off-topic examples."""
    yield from (semantic_text(c) for p in policies for c in p.clauses)
    yield from (e for p in policies for c in p.clauses for e in c.examples)
    yield from (e for r in kb.routes for e in r.examples)
    yield from kb.off_topic_examples


def _distinct(texts: Iterable[str]) -> Iterator[str]:
    """`texts` without repeats, in order, holding only the distinct ones: at 500 schools most texts recur."""
    seen: set[str] = set()
    for text in texts:
        if text not in seen:
            seen.add(text)
            yield text


class Retriever:
    """The per-school indexes for one knowledge base.

    Built with `previous` (the retriever of an earlier version of the same knowledge base), it keeps every index
    whose policies are unchanged and rebuilds only the others; a change to what all indexes are built from
    (synonyms, word combinations, topics, scope words) rebuilds them all, and `rebuilt_all` says why.
    With `terms_cache` (kept from `previous`), texts analysed by an earlier start or version are not analysed
    again. `lazy` (the command line) fetches each index's semantic vectors at its first search, so one question
    reads the vectors of one school, not all; should any be missing from the cache, every text is embedded at
    once as without `lazy`, so the vectors are the same either way.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        analyzer: Analyzer | None = None,
        embedder: Embedder | None = None,
        progress: Progress | None = None,
        previous: Retriever | None = None,
        terms_cache: TermsCache | None = None,
        lazy: bool = False,
    ):
        self.kb = kb
        self.embedder = embedder
        self.terms_cache = terms_cache or (previous.terms_cache if previous is not None else None)
        self.rebuilt_all: tuple[str, ...] = ()  # the shared inputs that changed since `previous`, if any
        if previous is not None and (previous.embedder is not embedder or analyzer is not None):
            previous = None
        if previous is not None:
            self.rebuilt_all = _shared_changes(previous.kb, kb)
            if self.rebuilt_all:
                previous = None
        self.analyzer = analyzer or (previous.analyzer if previous else Analyzer.for_knowledge(kb))
        store = None
        vectors_from: Callable[[Sequence[str]], VectorStore] | None = None
        self._progress = progress
        self._full_store: VectorStore | None = None
        self._full_store_lock = threading.Lock()
        self._all_texts: list[str] = []
        old = previous.store if previous is not None else None
        if embedder is not None:
            # Every text at once: a cold cache embeds in large batches with one progress line, and each distinct
            # text is held once however many schools' indexes use it. A reload looks only at the texts of the
            # policies that changed: the others' are in the store already.
            changed = [
                p
                for p in kb.policies.values()
                if old is None or previous is None or previous.kb.policies.get(p.id) is not p
            ]
            texts = list(_embedded_texts(kb, changed))
            if lazy:
                # Kept only here, for the store that a missing vector makes: at 500 schools the list and its
                # 50,000 heading-and-quote strings are 23 MB that a server would hold for nothing.
                self._all_texts = texts
                vectors_from = self._vectors_for
        if embedder is not None and vectors_from is None:
            store = (
                _store(embedder, texts, old, progress) if old is not None else embedder.store(texts, progress)
            )
        self.store = store
        old_indexes: dict[tuple[str, ...], SchoolIndex] = {}
        if previous is not None:
            for school in previous.kb.schools.values():
                old_indexes.setdefault(school.policies, previous.indexes[school.id])
        analysed: dict[str, list[str]] = {}  # copies of a clause or example question are analysed once
        fresh: list[str] = []  # texts analysed here, for the cache
        # The cache holds what the knowledge base's own analyzer makes of a text, not a caller's analyzer.
        cache = self.terms_cache if analyzer is None else None
        cache_key: Callable[[str], bytes] | None = None
        if cache is not None:
            fingerprint = cache.fingerprint(kb)

            def cache_key(text: str) -> bytes:
                return _terms_key(fingerprint, text)

            to_build: list[str] = []
            planned: set[tuple[str, ...]] = set()
            for school in kb.schools.values():
                if school.policies in planned:
                    continue
                planned.add(school.policies)
                if school.policies not in old_indexes or not _same_policies(previous.kb, kb, school.policies):
                    to_build += _analysed_texts(kb, kb.clauses_for(school.id))
            to_build += _shared_analysed_texts(kb)
            by_key = {cache_key(t): t for t in dict.fromkeys(to_build)}
            for key, found in cache.get_many(list(by_key)).items():
                analysed[by_key[key]] = found

        def terms(text: str) -> list[str]:
            found = analysed.get(text)
            if found is None:
                found = analysed[text] = self.analyzer.terms(text)
                fresh.append(text)
            return found

        # Numbers are shared by every index that holds a text: an unchanged index keeps its numbers valid.
        self.vocabulary = previous.vocabulary if previous is not None else Vocabulary()
        numbered: dict[str, np.ndarray] = {}

        def numbers(text: str) -> np.ndarray:
            found = numbered.get(text)
            if found is None:
                found = numbered[text] = self.vocabulary.add(terms(text))
            return found

        by_policies: dict[tuple[str, ...], SchoolIndex] = {}
        self.indexes: dict[str, SchoolIndex] = {}
        self.built = self.kept = 0
        for school in kb.schools.values():
            key = school.policies
            if key not in by_policies:
                index = old_indexes.get(key)
                if index is not None and _same_policies(previous.kb, kb, key):
                    index = index.moved(store)
                    self.kept += 1
                else:
                    index = SchoolIndex(
                        kb.clauses_for(school.id),
                        self.analyzer,
                        kb,
                        store,
                        terms,
                        vectors_from,
                        lazy,
                        self.vocabulary,
                        numbers,
                    )
                    self.built += 1
                by_policies[key] = index
            self.indexes[school.id] = by_policies[key]
        if previous is not None and previous.kb.routes == kb.routes:
            self.routes = previous.routes
        else:
            route_texts = [e for r in kb.routes for e in r.examples]
            if vectors_from is not None and route_texts:
                store = vectors_from(route_texts)
            self.routes = RouteIndex(kb.routes, self.analyzer, store, terms, self.vocabulary)
        if previous is not None and previous.kb.off_topic_examples == kb.off_topic_examples:
            self.off_topic = previous.off_topic
        else:
            off_topic_store = store
            if vectors_from is not None and kb.off_topic_examples:
                off_topic_store = vectors_from(kb.off_topic_examples)
            self.off_topic = OffTopicIndex(kb.off_topic_examples, off_topic_store)
        if cache is not None and cache_key is not None and fresh:
            cache.put_many({cache_key(t): analysed[t] for t in fresh})

    @property
    def semantic(self) -> bool:
        return self.embedder is not None

    def cache_keys(self) -> tuple[list[bytes], list[bytes]]:
        """The keys of the cache entries this knowledge base reads at a start: its texts' vectors (when semantic
        search is on) and their analysed terms. bot.cachesweep keeps these and lets the others age out."""
        kb = self.kb
        vectors: list[bytes] = []
        if self.embedder is not None:
            # bot.sensitivity embeds sensitive.yaml's examples with the same embedder, into the same file.
            texts = chain(
                _embedded_texts(kb, list(kb.policies.values())), kb.sensitive_examples, kb.routine_examples
            )
            vectors = [text_key(t) for t in _distinct(texts)]
        # Each policy's clauses, once: a school's index analyses those of every policy it holds.
        clauses = (c for p in kb.policies.values() for c in p.clauses)
        analysed = chain(_analysed_texts(kb, clauses), _shared_analysed_texts(kb))
        fingerprint = TermsCache.fingerprint(kb)
        return vectors, [_terms_key(fingerprint, t) for t in _distinct(analysed)]

    def _vectors_for(self, texts: Sequence[str]) -> VectorStore:
        """A store holding `texts`' vectors: from the cache alone, or else the store of every text, built once."""
        assert self.embedder is not None
        store = self.embedder.cached_store(texts) if self._full_store is None else None
        if store is not None:
            return store
        with self._full_store_lock:
            if self._full_store is None:
                self._full_store = self.embedder.store(self._all_texts, self._progress)
            return self._full_store

    def search(self, school_id: str, question: str, limit: int = 3) -> SearchResult:
        self.kb.school(school_id)  # raises UnknownSchool with the list of known ones
        vector = None
        if self.embedder is not None:
            try:
                vector = self.embedder.question(question)
            except ModelUnavailable:  # a model loading in the background (the command line) that failed
                vector = None
        result = self.indexes[school_id].search(question, limit, vector)
        off_topic = self.off_topic.nearness(vector)
        route, _, clear = self.routes.match(question, vector, result.nearest_example, result.terms, off_topic)
        if route is not None:  # a worry about a child is never declined
            return dataclasses.replace(result, route=route, route_clear=clear)
        if self.off_topic.nearer(vector, result.nearest_example, off_topic):
            return dataclasses.replace(result, confident=False, off_topic=True)
        return result


def _shared_changes(old: KnowledgeBase, new: KnowledgeBase) -> tuple[str, ...]:
    """Which of the inputs every index is built from differ between two versions of a knowledge base."""
    changed = []
    if old.synonyms != new.synonyms or old.combinations != new.combinations:
        changed.append("synonyms.yaml")
    if old.topics != new.topics:
        changed.append("topics.yaml")
    if old.social_media_words != new.social_media_words:
        changed.append("scope.yaml")
    return tuple(changed)


def _same_policies(old: KnowledgeBase, new: KnowledgeBase, key: tuple[str, ...]) -> bool:
    """Whether these policies are unchanged: the loader hands back the very same objects for unchanged files."""
    for pid in key:
        before, after = old.policies.get(pid), new.policies.get(pid)
        if before is None or after is None or not (before is after or before == after):
            return False
    return True


def _store(
    embedder: Embedder, texts: Sequence[str], old: VectorStore, progress: Progress | None
) -> VectorStore:
    """`old` itself when it holds every one of `texts`, else `old` with the new texts' vectors appended.

    A reload never renumbers rows, so the indexes it keeps read the same rows from the new matrix. Rows of texts
    no knowledge file uses any more stay until the next start: a few kilobytes per edited clause.
    """
    rows = old.rows
    fresh = list(dict.fromkeys(t for t in texts if t not in rows))
    if not fresh:
        return old
    matrix = np.concatenate([old.matrix, embedder.texts(fresh, progress).astype(old.matrix.dtype)])
    matrix.setflags(write=False)
    grown = dict(rows)
    grown.update((t, len(rows) + i) for i, t in enumerate(fresh))
    return VectorStore(matrix, grown)

"""Text to search terms: normalise, tokenise, expand synonyms, drop stop words, stem.

One `Analyzer` serves clauses and questions alike, so that both sides of a match go through the same steps.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

# With PyStemmer installed (a dependency), snowballstemmer hands out its C stemmer and skips importing thirty
# pure-Python languages (0.05-0.09 s of each command-line start); the stems are the same Snowball algorithm's.
import snowballstemmer

# Function words and question scaffolding ("can I…", "am I allowed to…"). Domain words such as "school" are
# kept here on purpose: how much they count is the ranking's job (see retrieval), not the analyzer's.
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are aren as at be because been before being
    below between both but by can cannot could couldn did didn do does doesn doing don down during each
    either else etc even ever every few for from further get gets getting got had hadn has hasn have haven
    having he her here hers herself him himself his how however i id if im in into is isn it its itself
    ive just let lets like ll me might mine more most must mustn my myself need needs no nor not now of
    off ok okay on once only or other others ought our ours ourselves out over own per please re really
    same say says shall shan she should shouldn so some such than that thats the their theirs them
    themselves then there these they theyre theyve this those though through thus to too under until up
    upon us use used using ve very via want wants was wasn way we well were weren what whats when where
    whether which while who whom whos whose why will with within without won would wouldn yes yet you your
    youre yours yourself yourselves allowed allow okay anyone anybody someone somebody something anything
    thing things know tell im ive id dont doesnt didnt cant wont isnt arent wasnt werent shouldnt wouldnt
    couldnt hes shes youve weve theyll ill youll whens wheres one ones much many lot lots bit sort kind
    stuff just actually basically fine right sure tho pls plz thanks thx hi hey still since ago today
    tonight tomorrow tmrw yesterday day days week weeks month year years people person
    """.split()  # noqa: SIM905 - a word list reads better as prose
)

_CONTRACTIONS = re.compile(r"(?<=[a-z])['\u2019](s|re|m|ve|ll|d|t)\b")
_APOSTROPHES = str.maketrans({"\u2019": "", "\u2018": "", "'": "", "`": "", "\u02bc": ""})
_TOKEN = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    """NFKC, lower case, apostrophes dropped (so "don't" and "dont" agree), everything else a word break."""
    text = unicodedata.normalize("NFKC", text).lower()
    # "someone's" → "someone", "don't" → "don" (a stop word): the clitic carries no meaning for search.
    return _CONTRACTIONS.sub("", text).translate(_APOSTROPHES)


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(normalise(text))


_stemmer = snowballstemmer.stemmer("english")
_stemmer_lock = threading.Lock()  # a stemmer object keeps state per call; the server stems on worker threads


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    with _stemmer_lock:
        return _stemmer.stemWord(word)


def stemmer_identity() -> str:
    """Which stemmer and version stems here, for caches of analysed text to key on."""
    module = type(_stemmer).__module__
    version = getattr(__import__(module.split(".")[0]), "__version__", "")
    return f"{module}:{type(_stemmer).__name__}:{version}"


@dataclass(frozen=True)
class Combination:
    """Words that mean something together: a `when` word followed closely by a `then` word adds `adds`.

    "school" then "insta" means the school's official account; "they" then "check" means monitoring.
    """

    adds: tuple[str, ...]
    when: frozenset[tuple[str, ...]]
    then: frozenset[tuple[str, ...]]


@dataclass
class _Span:
    """Typed tokens that matched together, plus the policy words they stand for (not yet stemmed)."""

    typed: list[str]
    words: list[str]


class Analyzer:
    """Turns text into stemmed terms, adding the policy words that chat words stand for.

    `synonyms` maps a canonical policy word or phrase to the chat words and phrases that mean it
    (`{"instagram": ["insta", "ig"], "rest break": ["break time", "lunch break"]}`). When a variant occurs,
    the canonical terms are added next to the words actually typed, so an exact match still counts.
    `combinations` add policy words for pairs of words found close together (see `Combination`).
    """

    WINDOW = 4  # how many words after a `when` word a `then` word may come

    def __init__(
        self,
        synonyms: Mapping[str, Iterable[str]] | None = None,
        combinations: Iterable[Combination] = (),
    ):
        self._expansions: dict[tuple[str, ...], tuple[str, ...]] = {}
        for canonical, variants in (synonyms or {}).items():
            target = tuple(tokenize(canonical))
            for variant in variants:
                key = tuple(tokenize(str(variant)))
                if key and key != target:
                    merged = self._expansions.get(key, ())
                    self._expansions[key] = merged + tuple(t for t in target if t not in merged)
        self._max_phrase = max((len(k) for k in self._expansions), default=1)
        self._combinations = tuple(combinations)
        # Each rule's possible first words on either side: a text that has none of one side's skips the rule, so
        # a text costs about the same however many rules there are (most rules never apply to a given text).
        self._triggers = tuple(
            (rule, frozenset(p[0] for p in rule.when), frozenset(p[0] for p in rule.then))
            for rule in self._combinations
        )

    @classmethod
    def for_knowledge(cls, kb) -> Analyzer:
        """The analyzer a knowledge base asks for: its synonyms and word combinations."""
        rules = [
            Combination(
                tuple(tokenize(c.adds)),
                frozenset(tuple(tokenize(w)) for w in c.when if tokenize(w)),
                frozenset(tuple(tokenize(w)) for w in c.then if tokenize(w)),
            )
            for c in kb.combinations
        ]
        return cls(kb.synonyms, rules)

    def _spans(self, text: str) -> list[_Span]:
        tokens = tokenize(text)
        spans: list[_Span] = []
        i = 0
        while i < len(tokens):
            for n in range(min(self._max_phrase, len(tokens) - i), 0, -1):
                extra = self._expansions.get(tuple(tokens[i : i + n]))
                if extra is not None:
                    typed = tokens[i : i + n]
                    spans.append(_Span(typed, typed + [e for e in extra if e not in typed]))
                    i += n
                    break
            else:
                spans.append(_Span([tokens[i]], [tokens[i]]))
                i += 1
        present = {w for span in spans for w in span.words}
        for rule, when_first, then_first in self._triggers:
            if present.isdisjoint(when_first) or present.isdisjoint(then_first):
                continue
            self._combine(spans, rule)
            present.update(w for span in spans for w in span.words)
        return spans

    def _combine(self, spans: list[_Span], rule: Combination) -> None:
        when_words, when_phrases = _split(rule.when)
        then_words, then_phrases = _split(rule.then)

        def starts(at: int, words: frozenset[str], phrases: tuple[tuple[str, ...], ...]) -> bool:
            if not words.isdisjoint(spans[at].words):
                return True
            typed = tuple(t for s in spans[at : at + 4] for t in s.typed)
            return any(typed[: len(p)] == p for p in phrases)

        for a in range(len(spans)):
            if not starts(a, when_words, when_phrases):
                continue
            for b in range(a + 1, min(a + 1 + self.WINDOW, len(spans))):
                if starts(b, then_words, then_phrases):
                    spans[b].words += [w for w in rule.adds if w not in spans[b].words]
                    break

    def groups(self, text: str) -> list[tuple[str, ...]]:
        """One group per typed content word: its stem first, then the stems of the policy words it stands for.

        Coverage is judged per group, so a word typed once counts once however many synonyms it expands to.
        """
        out = []
        for span in self._spans(text):
            group = tuple(dict.fromkeys(stem(w) for w in span.words if _is_term(w)))
            if group:
                out.append(group)
        return out

    def terms(self, text: str) -> list[str]:
        """The stemmed search terms of `text`, in order, duplicates kept (BM25 counts them)."""
        return [stem(w) for span in self._spans(text) for w in span.words if _is_term(w)]


@lru_cache(maxsize=256)
def _split(phrases: frozenset[tuple[str, ...]]) -> tuple[frozenset[str], tuple[tuple[str, ...], ...]]:
    """Single words (checked as a set, the common case) apart from multi-word phrases."""
    return frozenset(p[0] for p in phrases if len(p) == 1), tuple(p for p in phrases if len(p) > 1)


def _is_term(token: str) -> bool:
    return (token not in STOP_WORDS and len(token) > 1) or token.isdigit()

"""Text to search terms: normalise, tokenise, expand synonyms, drop stop words, stem.

One `Analyzer` serves clauses and questions alike, so that both sides of a match go through the same steps.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache

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


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


class Analyzer:
    """Turns text into stemmed terms, adding the policy words that chat words stand for.

    `synonyms` maps a canonical policy word or phrase to the chat words and phrases that mean it
    (`{"instagram": ["insta", "ig"], "rest break": ["break time", "lunch break"]}`). When a variant occurs, the
    canonical terms are added next to the words actually typed, so an exact match still counts.
    """

    MAX_PHRASE = 4

    def __init__(self, synonyms: Mapping[str, Iterable[str]] | None = None):
        self._expansions: dict[tuple[str, ...], tuple[str, ...]] = {}
        for canonical, variants in (synonyms or {}).items():
            target = tuple(tokenize(canonical))
            for variant in variants:
                key = tuple(tokenize(str(variant)))
                if key and key != target:
                    merged = self._expansions.get(key, ())
                    self._expansions[key] = merged + tuple(t for t in target if t not in merged)
        self._max_phrase = max((len(k) for k in self._expansions), default=1)

    def expand(self, tokens: list[str]) -> list[str]:
        """Tokens plus the canonical words of every synonym phrase found, longest phrase first."""
        out: list[str] = []
        i = 0
        while i < len(tokens):
            for n in range(min(self._max_phrase, len(tokens) - i), 0, -1):
                extra = self._expansions.get(tuple(tokens[i : i + n]))
                if extra is not None:
                    typed = tokens[i : i + n]
                    out.extend(typed)
                    out.extend(e for e in extra if e not in typed)
                    i += n
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out

    def groups(self, text: str) -> list[tuple[str, ...]]:
        """One group per typed content word: its stem first, then the stems of the policy words it stands for.

        Coverage is judged per group, so a word typed once counts once however many synonyms it expands to.
        """
        out: list[tuple[str, ...]] = []
        tokens = tokenize(text)
        i = 0
        while i < len(tokens):
            for n in range(min(self._max_phrase, len(tokens) - i), 0, -1):
                extra = self._expansions.get(tuple(tokens[i : i + n]))
                if extra is not None:
                    typed = [t for t in tokens[i : i + n] if _is_term(t)]
                    group = tuple(dict.fromkeys(stem(t) for t in typed + [e for e in extra if _is_term(e)]))
                    if group:
                        out.append(group)
                    i += n
                    break
            else:
                if _is_term(tokens[i]):
                    out.append((stem(tokens[i]),))
                i += 1
        return out

    def terms(self, text: str) -> list[str]:
        """The stemmed search terms of `text`, in order, duplicates kept (BM25 counts them)."""
        return [stem(t) for t in self.expand(tokenize(text)) if _is_term(t)]


def _is_term(token: str) -> bool:
    return (token not in STOP_WORDS and len(token) > 1) or token.isdigit()

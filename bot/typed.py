"""Phrases matched in a question's words as typed, before any stemming or synonyms.

HR lists them in knowledge files where the exact wording is the signal: "wants to see me" (sensitive.yaml's
signs) or "calling me" (a route's `unless`). A phrase's last word ending in `*` matches any word it begins
("investigat*" matches "investigated" and "investigation"). Each list is compiled once into one regular
expression over the question's words joined by single spaces: every question is checked against every list,
and a word-by-word loop over some seventy phrases cost about 2 ms a question.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable


def typed_words(text: str) -> list[str]:
    """The words of `text` as typed: lower case, apostrophes dropped ("I'm" is "im"), split at anything else."""
    text = unicodedata.normalize("NFKC", text).lower().replace("'", "").replace("\u2019", "")
    return re.findall(r"[a-z0-9]+", text)


def typed_text(text: str) -> str:
    """`text`'s typed words joined by single spaces: what a PhraseSet searches."""
    return " ".join(typed_words(text))


class PhraseSet:
    """A list of phrases, found in a typed text (`typed_text`) whole word by whole word."""

    def __init__(self, phrases: Iterable[str]):
        patterns = [p for p in (self._pattern(text) for text in phrases) if p]
        self.phrases = len(patterns)
        # Longest first, so that an alternative that is the start of another does not hide it (they all
        # count the same, but the longer ones make the intent plain to a reader of the pattern).
        patterns.sort(key=len, reverse=True)
        body = "|".join(patterns)
        self._regex = re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])") if patterns else None

    @staticmethod
    def _pattern(text: str) -> str:
        tokens = text.split()
        words = []
        for i, token in enumerate(tokens):
            parts = typed_words(token)
            for j, part in enumerate(parts):
                prefix = token.endswith("*") and i == len(tokens) - 1 and j == len(parts) - 1
                words.append(re.escape(part) + ("[a-z0-9]*" if prefix else ""))
        return " ".join(words)

    def __bool__(self) -> bool:
        return self._regex is not None

    def found_in(self, typed: str) -> bool:
        """Whether any phrase occurs in `typed`, a text as `typed_text` gives it."""
        return self._regex is not None and self._regex.search(typed) is not None

"""Phrases matched in a question's words as typed, before any stemming or synonyms.

HR lists them in knowledge files where the exact wording is the signal: "wants to see me" (sensitive.yaml's
signs) or "calling me" (a route's `unless`). A phrase's last word ending in `*` matches any word it begins
("investigat*" matches "investigated" and "investigation").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

Phrase = tuple[tuple[str, bool], ...]  # each word, and whether it matches any word it begins


def typed_words(text: str) -> list[str]:
    """The words of `text` as typed: lower case, apostrophes dropped ("I'm" is "im"), split at anything else."""
    text = unicodedata.normalize("NFKC", text).lower().replace("'", "").replace("\u2019", "")
    return re.findall(r"[a-z0-9]+", text)


def phrase(text: str) -> Phrase:
    """`text` as words to match."""
    return tuple(
        (word, token.endswith("*") and i == len(words) - 1)
        for token in text.split()
        for words in [typed_words(token)]
        for i, word in enumerate(words)
    )


def shows(words: Sequence[str], wanted: Phrase) -> bool:
    """Whether the phrase occurs in `words`, word for word."""
    n = len(wanted)
    return n > 0 and any(
        all(
            w.startswith(p) if prefix else w == p
            for w, (p, prefix) in zip(words[i : i + n], wanted, strict=True)
        )
        for i in range(len(words) - n + 1)
    )


def shows_any(text: str, phrases: Iterable[Phrase]) -> bool:
    """Whether `text`, as typed, shows any of the phrases."""
    words = typed_words(text)
    return any(shows(words, p) for p in phrases)

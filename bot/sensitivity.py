"""Whether a question is personal or about a child's safety, judged by its closeness to knowledge/sensitive.yaml.

An answer is sensitive when its topic is (topics.yaml) or a route takes the question (a worry about a child), but
what a question quotes does not always say what it is about: "a parent's posted that i grabbed their child,
it's all lies" may quote a clause on defamation. So the question itself is also compared with example
situations HR keeps (abuse of staff, a colleague's conduct with pupils, the asker's own disciplinary matter,
being bullied by a colleague, and the child-safety route's examples). It is sensitive when the mean cosine of
its two nearest situations is SENSITIVE_SIMILARITY or more and no lower than that of its two nearest routine
look-alikes (the file's `not_sensitive:` list: "a parent added me on fb, should I accept?" is routine).

Meaning alone misses a summons put in few words: "the head wants to see me about something i posted" sits
nearer "is it ok to post about my day at work" than any disciplinary example. The file's `signs:` catch these
by the words as typed: one of a kind's `about` (the first person) and one of its `any` ("wants to see me",
"investigat*", "written warning"). Signs need no model; without it, they, the topic and the route decide.

The threshold was chosen on the file's routine look-alikes (left out one at a time) and our dialogue set's
sensitive first turns (tests/eval/dialogues.yaml, 9 of them): there it flags all 9 and 3% of routine first
questions; expect fewer of the sensitive ones on questions written by others. A private answer to a routine
question harms no one; a public answer to a sensitive one does. It was 0.52 with the shipped model; with the
derived one (bot.semantic) 0.50 flags 19 of the 20 sensitive first turns of our first four dialogue sets by
meaning (the twentieth by its signs) and 6 of the 40 routine look-alikes left out one at a time; dialogues5 and
dialogues6, written later, have all eight of theirs marked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np

from bot.knowledge import SituationSigns
from bot.semantic import Embedder, ModelUnavailable
from bot.typed import PhraseSet, typed_text

log = logging.getLogger("policybot.sensitivity")

SENSITIVE_SIMILARITY = 0.50
NEAREST = 2


class SensitivityCheck:
    """Called with a question: True when it is close to the example situations.

    The examples' vectors are read (from the embedding cache, or embedded) when it is built, or with `lazy` (the
    command line, which answers one school's questions) at the first question."""

    def __init__(
        self,
        examples: Sequence[str],
        routine: Sequence[str],
        embedder: Embedder | None,
        lazy: bool = False,
        signs: Sequence[SituationSigns] = (),
    ):
        self.signs = tuple((PhraseSet(kind.about), PhraseSet(kind.any)) for kind in signs)
        self.examples = tuple(dict.fromkeys(examples))
        self.routine = tuple(dict.fromkeys(routine))
        self.embedder = embedder
        self._matrices: tuple[np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()
        if not lazy:
            try:
                self._vectors()
            except ModelUnavailable as exc:
                log.warning("sensitive situations are not compared by meaning: %s", exc)

    def _vectors(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self._matrices is None and self.embedder is not None and self.examples:
            with self._lock:
                if self._matrices is None:
                    situations = self.embedder.texts(list(self.examples))
                    routine = self.embedder.texts(list(self.routine)) if self.routine else situations[:0]
                    self._matrices = (situations, routine)
        return self._matrices

    def shows_signs(self, question: str) -> bool:
        """Whether the question names one of a kind's `about` and shows one of its `any`, as typed."""
        if not self.signs or not question:
            return False
        typed = typed_text(question)
        return any(about.found_in(typed) and signs.found_in(typed) for about, signs in self.signs)

    def __call__(self, question: str) -> bool:
        if self.shows_signs(question):
            return True
        if self.embedder is None or not self.examples or not question:
            return False
        try:
            matrices = self._vectors()
            vector = self.embedder.question(question)
        except ModelUnavailable:  # the answer is still sensitive by its topic or route
            return False
        if matrices is None:
            return False
        situations, routine = matrices
        near = _nearest(situations @ vector)
        return near >= SENSITIVE_SIMILARITY and near >= _nearest(routine @ vector)


def _nearest(similarity: np.ndarray) -> float:
    """The mean of the NEAREST highest similarities (0 with none)."""
    return float(np.sort(similarity)[-NEAREST:].mean()) if similarity.size else 0.0

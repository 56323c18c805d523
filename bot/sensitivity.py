"""Whether a question is personal or about a child's safety, judged by its closeness to knowledge/sensitive.yaml.

An answer is sensitive when its topic is (topics.yaml) or a route takes the question (a worry about a child), but
what a question quotes does not always say what it is about: "a parent's posted that i grabbed their child,
it's all lies" may quote a clause on defamation. So the question itself is also compared with example
situations HR keeps (abuse of staff, a colleague's conduct with pupils, the asker's own disciplinary matter,
being bullied by a colleague, and the child-safety route's examples): the mean cosine of its two nearest
examples at SENSITIVE_SIMILARITY or above makes it sensitive. Without the embedding model only the topic and the
route decide.

The threshold was chosen against the file's own routine look-alikes, clause examples and our dialogue set's
sensitive first turns (tests/eval/dialogues.yaml): it flags about 8% of routine first questions there, a cost
we accept, since a private answer to a routine question harms no one and a public answer to a sensitive one does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np

from bot.semantic import Embedder, ModelUnavailable

log = logging.getLogger("policybot.sensitivity")

SENSITIVE_SIMILARITY = 0.55
NEAREST = 2


class SensitivityCheck:
    """Called with a question: True when it is close to the example situations. The examples' vectors are read
    (from the embedding cache, or embedded) at the first question, so building it costs nothing at start."""

    def __init__(self, examples: Sequence[str], embedder: Embedder | None):
        self.examples = tuple(dict.fromkeys(examples))
        self.embedder = embedder
        self._matrix: np.ndarray | None = None
        self._lock = threading.Lock()

    def _vectors(self) -> np.ndarray | None:
        if self._matrix is None and self.embedder is not None and self.examples:
            with self._lock:
                if self._matrix is None:
                    self._matrix = self.embedder.texts(list(self.examples))
        return self._matrix

    def __call__(self, question: str) -> bool:
        if self.embedder is None or not self.examples or not question:
            return False
        try:
            matrix = self._vectors()
            vector = self.embedder.question(question)
        except ModelUnavailable:  # the answer is still sensitive by its topic or route
            return False
        if matrix is None:
            return False
        nearest = np.sort(matrix @ vector)[-NEAREST:]
        return float(nearest.mean()) >= SENSITIVE_SIMILARITY

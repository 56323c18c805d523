"""The answers recently given to questions asked on their own, kept so that the same question is not worked out twice.

An answer depends only on the knowledge base, the school, the question's text and the date (a policy's review
date is read against today), so the same four give the same answer: staff ask the same few things, and a
question asked again is served from here without a search. One memory belongs to one knowledge snapshot, so a
reload starts a fresh one. Follow-ups are never kept: they depend on their thread.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.compose import Answer

# Distinct recent questions whose answers are kept. An answer is a few kB of frozen dataclasses sharing the
# knowledge base's own strings: 1,024 of them (our question sets' questions, each at five schools) took 3.4 MB
# by tracemalloc.
ANSWER_MEMORY = 1024

Key = tuple[str, str, dt.date]


class AnswerMemory:
    """A bounded, thread-safe map from (school as asked, cleaned question, date) to its answer, least recent out."""

    def __init__(self, size: int = ANSWER_MEMORY):
        self.size = size
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self._lock = threading.Lock()  # answers are worked out, and so kept, on the server's worker threads

    def get(self, key: Key) -> Answer | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, key: Key, answer: Answer) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()

    def __len__(self) -> int:
        return len(self._answers)

"""Answer each chat event once: Slack resends an event when its ack is late, Teams can redeliver activities."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class EventDeduplicator:
    """In-process memory of recently seen event ids (bounded, with a time limit)."""

    def __init__(self, max_events: int = 50_000, ttl_seconds: float = 3600.0):
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._max = max_events
        self._ttl = ttl_seconds
        self._lock = threading.Lock()

    def first_time(self, event_id: str) -> bool:
        """True exactly once per id: the caller that gets True answers, everyone else only acks."""
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                len(self._seen) >= self._max or next(iter(self._seen.values())) < now - self._ttl
            ):
                self._seen.popitem(last=False)
            if event_id in self._seen:
                return False
            self._seen[event_id] = now
            return True

    def forget(self, event_id: str) -> None:
        """As if `event_id` had never been seen: its handling failed, and a retry must be handled again."""
        with self._lock:
            self._seen.pop(event_id, None)

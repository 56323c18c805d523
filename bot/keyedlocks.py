"""One asyncio lock per key, held only while a key is busy: work on one conversation goes one at a time, in the
order it came (asyncio hands a lock on first come, first served), while other conversations go on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class KeyedLocks:
    def __init__(self) -> None:
        self._busy: dict[str, tuple[asyncio.Lock, int]] = {}  # each busy key's lock and how many hold or wait

    def __len__(self) -> int:
        return len(self._busy)

    @contextlib.asynccontextmanager
    async def hold(self, key: str | None) -> AsyncIterator[None]:
        """Hold `key`'s lock for the block (None: no lock). Taking a free lock does not yield to the loop, so
        callers that start in order take their locks in order."""
        if key is None:
            yield
            return
        lock, users = self._busy.get(key, (asyncio.Lock(), 0))
        self._busy[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._busy[key]
            if users == 1:
                del self._busy[key]
            else:
                self._busy[key] = (lock, users - 1)

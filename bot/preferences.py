"""Users' chosen schools, keyed by hashed user id. In memory until the storage issue gives it a database."""

from __future__ import annotations

import threading


class Preferences:
    def __init__(self) -> None:
        self._schools: dict[str, str] = {}
        self._lock = threading.Lock()

    def school_of(self, user_hash: str) -> str | None:
        return self._schools.get(user_hash)

    def set_school(self, user_hash: str, school_id: str) -> None:
        with self._lock:
            self._schools[user_hash] = school_id

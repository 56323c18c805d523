"""User ids are personal data: a `UserHasher` hashes them with a secret salt before they are stored or logged.

The salt is POLICYBOT_HASH_SALT when set (replicas must share one), else a random one generated once and kept
in the data directory (mode 0600), so hashes stay stable across restarts of a single server. With neither, the
salt lives only as long as the hasher: nothing can be linked across runs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger("policybot.privacy")

SALT_FILE = "hash-salt"


class UserHasher:
    """Keyed hashes of user ids and of stored event keys; each server (each app in a test) holds its own."""

    def __init__(self, salt: bytes | str | None = None):
        if isinstance(salt, str):
            salt = salt.encode()
        self._salt = salt or secrets.token_bytes(32)

    @classmethod
    def for_server(cls, explicit: str | None, data_dir: Path | None) -> UserHasher:
        """The explicit salt, else the data directory's (created on first use), else a salt for this run only."""
        if explicit:
            return cls(explicit)
        if data_dir is None:
            return cls()
        salt = _salt_file(data_dir)
        return cls(salt)

    def user(self, user_key: str) -> str:
        return hmac.new(self._salt, user_key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[
            :32
        ]

    def event_key(self, key: str) -> str:
        """`kind:ids...` → `kind:<salted hash of the ids>`, for keys that are stored (processed events).

        Event keys carry conversation, member and event ids; a Teams member id is a user id. The kind stays
        readable; every id is hashed like the user ids, so replicas sharing the salt still agree on the key.
        """
        kind, _, ids = key.partition(":")
        return f"{kind}:{self.user(ids)}"

    def __repr__(self) -> str:  # the salt is a secret: never in a log line or a traceback's locals
        return "UserHasher(<salt hidden>)"


def _salt_file(data_dir: Path) -> bytes | None:
    path = data_dir / SALT_FILE
    try:
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process created it first: use theirs
                pass
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_hex(32))
                log.info("generated a hash salt in %s", path)
        return path.read_text().strip().encode() or None
    except OSError as exc:
        log.error("cannot keep a hash salt in %s (%s); hashes will change on restart", data_dir, exc.strerror)
        return None

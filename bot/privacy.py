"""User ids are personal data: they are hashed with a secret salt before they are stored or logged.

The salt is POLICYBOT_HASH_SALT when set (replicas must share one), else a random one generated once and kept
in the data directory (mode 0600), so hashes stay stable across restarts of a single server.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger("policybot.privacy")

_PROCESS_SALT = secrets.token_bytes(32)
_configured: bytes | None = None
SALT_FILE = "hash-salt"


def configure_salt(explicit: str | None, data_dir: Path | None) -> None:
    """Fix the salt for this process: the explicit one, else the data directory's (created on first use)."""
    global _configured
    if explicit:
        _configured = explicit.encode()
        return
    if data_dir is None:
        return
    path = data_dir / SALT_FILE
    try:
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
            log.info("generated a hash salt in %s", path)
        _configured = path.read_text().strip().encode()
    except FileExistsError:  # another process created it first: use theirs
        _configured = path.read_text().strip().encode()
    except OSError as exc:
        log.error("cannot keep a hash salt in %s (%s); hashes will change on restart", data_dir, exc.strerror)


def _salt() -> bytes:
    if _configured is not None:
        return _configured
    env = os.environ.get("POLICYBOT_HASH_SALT")
    # Without any configured salt, hashes are stable only within this process: nothing links across runs.
    return env.encode() if env else _PROCESS_SALT


def hash_user(user_key: str) -> str:
    return hmac.new(_salt(), user_key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


def hash_event_key(key: str) -> str:
    """`kind:ids...` → `kind:<salted hash of the ids>`, for keys that are stored (processed events).

    Event keys carry conversation, member and event ids; a Teams member id is a user id. The kind stays
    readable; every id is hashed like the user ids, so replicas sharing the salt still agree on the key.
    """
    kind, _, ids = key.partition(":")
    return f"{kind}:{hash_user(ids)}"

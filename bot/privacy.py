"""User ids are personal data: they are hashed with a secret salt before they are stored or logged."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

_PROCESS_SALT = secrets.token_bytes(32)


def _salt() -> bytes:
    configured = os.environ.get("POLICYBOT_HASH_SALT")
    # Without a configured salt, hashes are stable only within this process: nothing can be linked across runs.
    return configured.encode() if configured else _PROCESS_SALT


def hash_user(user_key: str) -> str:
    return hmac.new(_salt(), user_key.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

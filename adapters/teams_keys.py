"""The Bot Framework signing keys Teams tokens are checked against: fetched without blocking, cached, backed off.

botbuilder's own key source (`jwt_token_extractor._OpenIdMetadata`) fetches with a blocking `requests.get` that
has no timeout, on the event loop, and fetches again on every request after a failure: one hanging key endpoint
froze every route. It also raises IndexError (a 500) for a token whose `kid` it does not know. `SigningKeys`
takes its place in botbuilder's per-URL cache (`install`):

- keys are fetched with aiohttp under a total timeout, so the event loop keeps answering every other route;
- one fetch at a time: concurrent requests wait for the same fetch instead of starting their own;
- keys are kept for a day; an unknown `kid` refetches at most every few minutes (Microsoft rotates keys);
- after a failed fetch the next is not tried before a backoff (1 s doubling to 60 s); meanwhile the last good
  keys keep serving, or, with none, Teams requests get `SigningKeysUnavailable` (503) at once;
- a token with a missing or unknown `kid` is `UnknownSigningKey`, a PermissionError, which botbuilder's
  CloudAdapter answers with 401.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from botframework.connector.auth import AuthenticationConstants
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger("policybot.teams")

FETCH_TIMEOUT = 5.0  # seconds for the metadata document and the key set together
KEEP_SECONDS = 24 * 3600  # botbuilder's refresh interval
UNKNOWN_KID_REFRESH_SECONDS = 300  # an unknown kid may mean new keys, but not a fetch per forged token
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0
# The documents botbuilder reads keys from; each gets its own SigningKeys.
METADATA_URLS = (
    AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
    AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
)


class UnknownSigningKey(PermissionError):
    """The token names no key we hold (or none at all): the sender's problem, 401."""


class SigningKeysUnavailable(Exception):
    """No signing keys could be fetched yet: our side, retryable, 503."""


@dataclass(frozen=True)
class SigningKey:
    """What botbuilder's token check reads from a key: `public_key` and `endorsements` (channel ids)."""

    public_key: Any
    endorsements: tuple[str, ...] = field(default=())


class SigningKeys:
    """A drop-in for botbuilder's `_OpenIdMetadata`: `await get(kid)` → SigningKey, or a typed error."""

    def __init__(self, metadata_url: str):
        self.metadata_url = metadata_url
        self.keys: dict[str, SigningKey] = {}
        self.fetched_at = float("-inf")  # monotonic time of the last successful fetch
        self.failures = 0
        self.retry_at = float("-inf")
        self._fetching: asyncio.Future | None = None

    async def get(self, key_id: str | None) -> SigningKey:
        now = time.monotonic()
        if now - self.fetched_at > KEEP_SECONDS:
            await self._refresh()
        key = self.keys.get(key_id) if key_id else None
        if key is None and key_id and now - self.fetched_at > UNKNOWN_KID_REFRESH_SECONDS:
            await self._refresh()
            key = self.keys.get(key_id)
        if key is None:
            raise UnknownSigningKey("the token's signing key is missing or unknown")
        return key

    async def _refresh(self) -> None:
        """Fetch the keys unless a backoff is running; raise SigningKeysUnavailable only when none are held."""
        if time.monotonic() < self.retry_at:
            if self.keys:
                return
            raise SigningKeysUnavailable("signing keys unavailable; retrying shortly")
        if self._fetching is None or self._fetching.done():
            self._fetching = asyncio.ensure_future(self._fetch_once())
        # shield: one caller going away (its request cancelled) must not cancel the fetch the others wait on
        await asyncio.shield(self._fetching)
        if not self.keys:
            raise SigningKeysUnavailable("signing keys unavailable; retrying shortly")

    async def _fetch_once(self) -> None:
        try:
            keys = await asyncio.wait_for(self._fetch(), FETCH_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - any failure: back off, keep the keys held
            self.failures += 1
            delay = min(BACKOFF_FIRST * 2 ** (self.failures - 1), BACKOFF_MAX)
            self.retry_at = time.monotonic() + delay
            log.error(
                "Teams signing keys could not be fetched from %s (%s); next try in %.0f s",
                self.metadata_url,
                type(exc).__name__,
                delay,
            )
            return
        self.keys, self.fetched_at, self.failures, self.retry_at = keys, time.monotonic(), 0, float("-inf")
        log.info("Teams signing keys fetched: %d keys", len(keys))

    async def _fetch(self) -> dict[str, SigningKey]:
        async with aiohttp.ClientSession() as session:
            async with session.get(self.metadata_url) as response:
                response.raise_for_status()
                jwks_uri = (await response.json(content_type=None))["jwks_uri"]
            async with session.get(jwks_uri) as response:
                response.raise_for_status()
                document = await response.json(content_type=None)
        keys = {}
        for jwk in document.get("keys", []):
            try:
                public_key = RSAAlgorithm.from_jwk(json.dumps(jwk))
            except Exception:  # noqa: BLE001 - one unusable key must not cost the others
                log.warning("skipping an unusable signing key %r", jwk.get("kid"))
                continue
            keys[jwk["kid"]] = SigningKey(public_key, tuple(jwk.get("endorsements", ())))
        return keys


def install(fetch_from: str | None = None) -> dict[str, SigningKeys]:
    """Put a SigningKeys in botbuilder's cache for each metadata URL it reads (process-wide, as botbuilder's
    cache is). `fetch_from` replaces where they fetch from (tests point it at a local key endpoint)."""
    installed = {url: SigningKeys(fetch_from or url) for url in METADATA_URLS}
    JwtTokenExtractor.metadataCache.update(installed)
    return installed

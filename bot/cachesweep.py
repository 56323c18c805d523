"""Keep the embedding cache file to what the knowledge bases in use need.

The file (`embeddings.sqlite3` in the data directory) holds each text's vector and analysed terms by content.
Nothing was ever deleted from it: an edit to a clause left the old text's vector (1.5 kB) and terms behind, and
an edit to synonyms.yaml changes every text's analysis key, so each such edit added a full set of analysed terms
(5,351 entries for the five seed policies). A server now stamps the entries of the knowledge base it serves as
used, at its start and after each reload, and deletes those that no served knowledge base has used for
KEEP_DAYS. Another process sharing the file keeps its own entries by using them; one that finds an
entry gone only embeds or analyses that text again, so a sweep can cost time, never a wrong answer.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.retrieval import TERMS_TABLE, Retriever
from bot.semantic import VECTORS_TABLE, cache_day, open_cache

log = logging.getLogger("policybot.cachesweep")

KEEP_DAYS = 30  # a month: a knowledge base rolled back after a bad edit finds its entries still there
CHUNK = 500  # keys per statement, under SQLite's limit on bound parameters

TABLES = {"vectors": VECTORS_TABLE, "terms": TERMS_TABLE}


@dataclass(frozen=True)
class SweepResult:
    kept: int  # entries left in the file
    removed: int  # entries unused for longer than the keep period, deleted


def sweep(
    path: Path,
    in_use: dict[str, Sequence[bytes]],
    today: dt.date | None = None,
    keep_days: int = KEEP_DAYS,
) -> SweepResult | None:
    """Stamp the `in_use` keys of each table as used today, then delete every entry unused for `keep_days`.

    None when the file cannot be used (logged by `open_cache`) or the sweep fails: a cache is never worth an
    error."""
    day = cache_day(today)
    kept = removed = 0
    for table, keys in in_use.items():
        db = open_cache(path, TABLES[table], "embedding cache")
        if db is None:
            return None
        try:
            with db:
                for start in range(0, len(keys), CHUNK):
                    chunk = list(keys[start : start + CHUNK])
                    db.execute(
                        f"UPDATE {table} SET used = ? WHERE key IN ({','.join('?' * len(chunk))})",
                        [day, *chunk],
                    )
                removed += db.execute(f"DELETE FROM {table} WHERE used < ?", (day - keep_days,)).rowcount
                kept += db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        except sqlite3.Error as exc:
            log.warning("embedding cache sweep of %s failed (%s); left as it was", path, exc)
            return None
        finally:
            db.close()
    return SweepResult(kept, removed)


def sweep_for(
    retriever: Retriever, today: dt.date | None = None, keep_days: int = KEEP_DAYS
) -> SweepResult | None:
    """`sweep` the cache file `retriever` reads, keeping what its knowledge base uses; None without a file."""
    cache = retriever.terms_cache
    if cache is None or cache.path is None:
        return None
    vectors, terms = retriever.cache_keys()
    in_use = {"terms": terms}
    if retriever.embedder is not None:
        in_use["vectors"] = vectors
    result = sweep(cache.path, in_use, today, keep_days)
    if result is not None:
        log.info(
            "embedding cache: %d entries kept, %d unused for %d days removed",
            result.kept,
            result.removed,
            keep_days,
        )
    return result

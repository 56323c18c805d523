"""The embedding cache keeps what the knowledge bases in use need and lets the rest age out."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
import sqlite3

import numpy as np

from bot import Assistant
from bot.cachesweep import KEEP_DAYS, sweep, sweep_for
from bot.knowledge import load_knowledge
from bot.reload import KnowledgeReloader
from bot.retrieval import TermsCache
from bot.semantic import DIMENSION, EmbeddingCache, cache_day

TODAY = dt.date(2026, 11, 26)


def _rows(path, table: str) -> dict[bytes, int]:
    db = sqlite3.connect(path)
    try:
        return {bytes(k): used for k, used in db.execute(f"SELECT key, used FROM {table}")}
    finally:
        db.close()


def _age(path, table: str, day: int, keys: list[bytes] | None = None) -> None:
    db = sqlite3.connect(path)
    with db:
        if keys is None:
            db.execute(f"UPDATE {table} SET used = ?", (day,))
        else:
            db.executemany(f"UPDATE {table} SET used = ? WHERE key = ?", [(day, k) for k in keys])
    db.close()


def test_entries_unused_for_the_keep_period_go_and_those_in_use_or_used_lately_stay(tmp_path):
    path = tmp_path / "embeddings.sqlite3"
    vector = np.ones(DIMENSION, dtype=np.float32)
    EmbeddingCache(path).put_many({b"live": vector, b"stale": vector, b"recent": vector})
    TermsCache(path).put_many({b"live": ["a"], b"stale": ["b"]})
    long_ago = cache_day(TODAY) - KEEP_DAYS - 1
    _age(path, "vectors", long_ago, [b"live", b"stale"])
    _age(path, "vectors", cache_day(TODAY) - 3, [b"recent"])  # another process's, used three days ago
    _age(path, "terms", long_ago)

    result = sweep(path, {"vectors": [b"live"], "terms": [b"live"]}, today=TODAY)

    assert result is not None and (result.kept, result.removed) == (3, 2)
    assert _rows(path, "vectors") == {b"live": cache_day(TODAY), b"recent": cache_day(TODAY) - 3}
    assert _rows(path, "terms") == {b"live": cache_day(TODAY)}
    assert EmbeddingCache(path).get_many([b"live"])[b"live"].shape == (DIMENSION,)


def test_a_cache_file_from_before_entries_had_a_used_day_is_upgraded_in_place(tmp_path):
    path = tmp_path / "embeddings.sqlite3"
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        db.execute("INSERT INTO vectors VALUES (?, ?)", (b"old", np.ones(DIMENSION, np.float32).tobytes()))
    db.close()

    assert b"old" in EmbeddingCache(path).get_many([b"old"])  # still read
    EmbeddingCache(path).put_many({b"new": np.zeros(DIMENSION, np.float32)})
    assert _rows(path, "vectors") == {b"old": 0, b"new": cache_day()}
    # An entry from before has no day: kept if the knowledge base uses it, else gone at the first sweep.
    sweep(path, {"vectors": [b"old"]}, today=dt.date.today())
    assert set(_rows(path, "vectors")) == {b"old", b"new"}
    sweep(path, {"vectors": []}, today=dt.date.today() + dt.timedelta(days=KEEP_DAYS + 1))
    assert _rows(path, "vectors") == {}


def test_a_file_that_cannot_be_opened_is_left_alone_without_an_error(tmp_path):
    (tmp_path / "blocked").write_text("a file where the cache's directory should be")
    assert sweep(tmp_path / "blocked" / "embeddings.sqlite3", {"terms": [b"k"]}) is None


def test_after_a_sweep_a_restart_embeds_and_analyses_nothing_again(tmp_path, embedding_cache, caplog):
    # The sweep must keep every entry a start reads: clause texts, example questions, route, off-topic and
    # sensitive examples, and every text's analysed terms. A key it missed would be embedded again here.
    Assistant(load_knowledge(), embedding_cache=embedding_cache)  # the session's cache holds the shipped base
    path = tmp_path / "embeddings.sqlite3"
    shutil.copy(embedding_cache, path)
    assistant = Assistant(load_knowledge(), embedding_cache=path)
    for table in ("vectors", "terms"):
        _age(path, table, 0)  # as if nothing had been used for years
    future = dt.date.today() + dt.timedelta(days=KEEP_DAYS + 1)

    result = sweep_for(assistant.retriever, today=future)

    assert result is not None and result.kept > 0
    counts = {table: len(_rows(path, table)) for table in ("vectors", "terms")}
    caplog.set_level(logging.INFO, logger="bot.semantic")
    again = Assistant(load_knowledge(), embedding_cache=path)
    assert again.ask("can i go on insta at lunch?", "reading").status == "answered"
    assert "new texts" not in caplog.text
    assert {table: len(_rows(path, table)) for table in ("vectors", "terms")} == counts


def test_a_server_sweeps_at_its_start_and_after_a_reload(tmp_path, embedding_cache, kb_copy):
    path = tmp_path / "embeddings.sqlite3"
    shutil.copy(embedding_cache, path)
    assistant = Assistant(load_knowledge(kb_copy), embedding_cache=path)
    reloader = KnowledgeReloader(assistant, kb_copy)
    vector = np.ones(DIMENSION, dtype=np.float32)

    def leave_stale_entry() -> None:
        EmbeddingCache(path).put_many({b"stale": vector})
        _age(path, "vectors", 0, [b"stale"])

    async def start_then_reload() -> None:
        leave_stale_entry()
        reloader.start()
        await reloader.stop()
        assert b"stale" not in _rows(path, "vectors")
        leave_stale_entry()
        policy = kb_copy / "policies" / "reading.yaml"
        policy.write_text(policy.read_text().replace("such as lunch breaks.", "such as lunch breaks (HR)."))
        assert (await reloader.reload("test")).changed
        await reloader.stop()
        assert b"stale" not in _rows(path, "vectors")

    asyncio.run(start_then_reload())

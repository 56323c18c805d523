"""`policybot ask` starts light: answering one question loads none of the database, Slack or Teams libraries.

The command runs in a fresh interpreter (a test process has imported everything already), and what it imported is
read from `sys.modules` after it answered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

HEAVY = ("sqlalchemy", "alembic", "asyncpg", "aiosqlite", "slack_bolt", "slack_sdk", "botbuilder", "aiohttp")

# `cli`, not `main`: run as the whole process, the command ends without tearing down, before this could look.
RUN_ASK = """
import json, sys
from bot.cli import cli
try:
    cli(["ask", "--school", "reading", "can i go on insta at lunch?"], obj={})
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


def test_ask_imports_no_database_or_channel_library(tmp_path: Path):
    env = {
        **os.environ,
        "POLICYBOT_SEMANTIC": "off",
        "POLICYBOT_STORAGE": "off",
        "POLICYBOT_DATA_DIR": str(tmp_path),
    }
    proc = subprocess.run(
        [sys.executable, "-c", RUN_ASK], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "§2.1" in proc.stdout  # it really answered
    loaded = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    assert "bot" in loaded and "numpy" in loaded  # the check sees what the command imported
    assert sorted(loaded.intersection(HEAVY)) == []


def test_ask_as_its_own_process_writes_the_whole_answer_and_exits_0(tmp_path: Path):
    env = {**os.environ, "POLICYBOT_STORAGE": "off", "POLICYBOT_DATA_DIR": str(tmp_path)}
    ask = [sys.executable, "-m", "bot.cli", "ask", "--school", "reading"]
    proc = subprocess.run(
        [*ask, "--json", "can i go on insta at lunch?"], cwd=REPO, env=env, capture_output=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["clauses"][0]["section"] == "2.1"  # every byte reached the pipe
    unknown = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", "--school", "nowhere", "hi"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert unknown.returncode == 1 and "nowhere" in unknown.stderr


def test_importing_bot_loads_no_submodule():
    code = "import sys, bot; print(sorted(m for m in sys.modules if m.startswith('bot.')))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# -- what the command line builds at start is what the server builds ------------------------------------------

QUESTIONS = [
    ("reading", "can i go on insta at lunch?"),
    ("howitt", "a parent sent me a friend request on facebook"),
    ("crynallt", "a pupil DMd me saying she is scared to go home"),
    ("wolverhampton", "how do i book a day off"),
]


def results(retriever):
    return [
        [(h.clause.id, h.score) for h in retriever.search(school, question, limit=10).hits]
        + [retriever.search(school, question).route]
        for school, question in QUESTIONS
    ]


def test_analysed_terms_come_back_from_the_cache_exactly(kb, tmp_path, monkeypatch):
    from bot import retrieval

    cache = retrieval.TermsCache(tmp_path / "cache.sqlite3")
    first = retrieval.Retriever(kb, terms_cache=cache)
    analysed = []
    real = retrieval.Analyzer.terms
    monkeypatch.setattr(
        retrieval.Analyzer, "terms", lambda self, text: analysed.append(text) or real(self, text)
    )
    again = retrieval.Retriever(kb, terms_cache=cache)
    assert analysed == []  # clauses, examples, scope words and route examples all came from the cache
    assert again.vocabulary.terms == first.vocabulary.terms
    for school in kb.schools:
        a, b = first.indexes[school], again.indexes[school]
        assert (a.body.terms == b.body.terms).all() and (a.body.idf_values == b.body.idf_values).all()
        assert (a.examples.ids == b.examples.ids).all() and (a.examples.tfs == b.examples.tfs).all()
    assert results(again) == results(first)


def test_a_change_to_the_synonyms_misses_the_terms_cache(kb):
    import dataclasses

    from bot.retrieval import TermsCache

    fewer = dataclasses.replace(kb, synonyms={k: v for k, v in list(kb.synonyms.items())[1:]})
    assert TermsCache.fingerprint(fewer) != TermsCache.fingerprint(kb)
    assert TermsCache.fingerprint(kb) == TermsCache.fingerprint(kb)


def test_a_lazy_retriever_answers_as_the_eager_one_and_reads_only_the_asked_schools_vectors(
    kb, embedding_cache
):
    from bot.retrieval import Retriever
    from bot.semantic import shared_embedder

    embedder = shared_embedder(embedding_cache).embedder
    if embedder is None:
        import pytest

        pytest.skip("no embedding model")
    eager = Retriever(kb, embedder=embedder)
    lazy = Retriever(kb, embedder=embedder, lazy=True)
    assert lazy.store is None
    lazy.search("reading", "can i go on insta at lunch?")
    fetched = {school for school, index in lazy.indexes.items() if index.vectors is not None}
    assert fetched == {s for s in kb.schools if kb.schools[s].policies == kb.schools["reading"].policies}
    assert results(lazy) == results(eager)


def test_one_question_loads_the_embedding_model_once(embedding_cache, monkeypatch):
    # The command's quick embedder is the one its assistant answers with: a second, for the assistant, cost a
    # start-up a second model session (about 60 ms of the 4x budget).
    from click.testing import CliRunner

    import bot.semantic as semantic
    from bot.cli import cli

    made = []
    original = semantic.EmbeddingModel.__init__

    def counted(self, *args, **kwargs):
        made.append(kwargs.get("one_question", False))
        original(self, *args, **kwargs)

    monkeypatch.setattr(semantic.EmbeddingModel, "__init__", counted)
    monkeypatch.setattr(semantic, "_shared", {})
    monkeypatch.setenv("POLICYBOT_EMBEDDING_CACHE", str(embedding_cache))
    result = CliRunner().invoke(cli, ["ask", "--school", "reading", "can i go on insta at lunch?"], obj={})
    assert result.exit_code == 0, result.output
    assert made == [True]

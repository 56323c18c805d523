"""Incremental reload: only changed files are parsed again and only the indexes of the policies they touch are
rebuilt, and the result is the same as loading and building everything from scratch."""

from __future__ import annotations

import numpy as np

from bot import Assistant
from bot.contract import answer_dict
from bot.knowledge import check_knowledge, load_knowledge

OLD = "such as lunch breaks."  # the end of reading.2.1
NEW = "such as lunch breaks (edited by HR)."
QUESTIONS = [
    ("reading", "can i go on tiktok on the school computer at lunch?"),
    ("howitt", "can i add a parent on facebook?"),
    ("crynallt", "a pupil sent me a friend request"),
    ("rutland", "who do i tell if i see something worrying about a child online?"),
    ("wolverhampton", "can i post photos of my class?"),
]


def edit(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def answers(assistant: Assistant) -> list[tuple]:
    out = []
    for school, question in QUESTIONS:
        snap = assistant._snapshot
        result = snap.retriever.search(school, question, limit=8)
        out.append(
            (
                tuple((h.clause.id, round(h.score, 9)) for h in result.hits),
                result.confident,
                result.route.id if result.route else None,
                answer_dict(assistant.ask(question, school)),
            )
        )
    return out


def test_an_edited_policy_is_parsed_again_and_the_others_are_reused(kb_copy):
    before = load_knowledge(kb_copy)
    edit(kb_copy / "policies" / "reading.yaml", OLD, NEW)
    after = load_knowledge(kb_copy, previous=before)
    full = load_knowledge(kb_copy)
    assert after == full  # same objects' content, same version, same warnings
    assert after.version != before.version
    assert after.policies["reading"] is not before.policies["reading"]
    assert any("edited by HR" in c.text for c in after.policies["reading"].clauses)
    for pid in ("howitt", "npt", "crynallt", "rutland", "wolverhampton"):
        assert after.policies[pid] is before.policies[pid]
    for sid in ("howitt", "crynallt", "rutland", "wolverhampton"):
        assert after.schools[sid] is before.schools[sid]
    assert after.schools["reading"] is not before.schools["reading"]  # it depends on the edited policy


def test_problems_are_the_same_as_a_full_loads_when_an_edit_duplicates_a_clause_id(kb_copy):
    before = load_knowledge(kb_copy)
    # crynallt.yaml sorts before howitt.yaml: howitt's unchanged clause is now the duplicate, and must be reported
    edit(kb_copy / "policies" / "crynallt.yaml", "id: crynallt.guidance.p1\n", "id: howitt.1.p1\n")
    incremental = check_knowledge(kb_copy, previous=before)
    full = check_knowledge(kb_copy)
    assert incremental[0] is None and full[0] is None
    assert [str(p) for p in incremental[1]] == [str(p) for p in full[1]]
    assert any("duplicate clause id" in str(p) and "howitt.yaml" in str(p) for p in full[1])


def test_a_shared_file_change_parses_everything_again(kb_copy):
    before = load_knowledge(kb_copy)
    roles = kb_copy / "roles.yaml"
    roles.write_text(roles.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    after = load_knowledge(kb_copy, previous=before)
    assert after == load_knowledge(kb_copy)
    assert all(after.policies[p] is not before.policies[p] for p in before.policies)


def test_only_the_edited_policys_index_is_rebuilt_and_answers_match_a_full_build(kb_copy):
    assistant = Assistant.from_directory(kb_copy)
    kept_index = assistant._snapshot.retriever.indexes["howitt"]
    edit(kb_copy / "policies" / "reading.yaml", OLD, NEW)
    kb = load_knowledge(kb_copy, previous=assistant.kb)
    assistant.swap(kb)
    retriever = assistant._snapshot.retriever
    assert (retriever.built, retriever.rebuilt_all) == (1, ())
    assert retriever.kept == len(set(s.policies for s in kb.schools.values())) - 1
    assert retriever.indexes["howitt"].clauses is kept_index.clauses
    fresh = Assistant(load_knowledge(kb_copy))
    assert answers(assistant) == answers(fresh)
    assert (
        "edited by HR"
        in assistant.ask("can i go on tiktok on the school computer at lunch?", "reading").clauses[0].quote
    )
    # Every kept index reads its vectors from the new store: the old one is not kept alive beside it.
    if retriever.store is not None:
        for index in retriever.indexes.values():
            assert index.vectors.matrix is retriever.store.matrix
        store = retriever.store
        for policy in kb.policies.values():
            for clause in policy.clauses:
                for example in clause.examples[:1]:
                    fresh_row = fresh._snapshot.retriever.store.rows[example]
                    assert np.array_equal(
                        store.matrix[store.rows[example]], fresh._snapshot.retriever.store.matrix[fresh_row]
                    )


def test_a_topics_change_rebuilds_every_index_and_says_why(kb_copy):
    assistant = Assistant.from_directory(kb_copy)
    edit(kb_copy / "topics.yaml", '"What counts as social media"', '"What counts as social media online"')
    kb = load_knowledge(kb_copy, previous=assistant.kb)
    assistant.swap(kb)
    retriever = assistant._snapshot.retriever
    assert retriever.rebuilt_all == ("topics.yaml",)
    assert retriever.kept == 0
    assert answers(assistant) == answers(Assistant(load_knowledge(kb_copy)))


def test_bm25_alone_reloads_incrementally_too(kb_copy):
    assistant = Assistant.from_directory(kb_copy, embedder=None)
    edit(kb_copy / "policies" / "reading.yaml", OLD, NEW)
    assistant.swap(load_knowledge(kb_copy, previous=assistant.kb))
    assert assistant._snapshot.retriever.built == 1
    assert answers(assistant) == answers(Assistant(load_knowledge(kb_copy), embedder=None))


def test_the_reload_log_names_the_changed_files_and_the_indexes_rebuilt(kb_copy, caplog):
    import asyncio
    import logging

    from bot.reload import KnowledgeReloader

    assistant = Assistant.from_directory(kb_copy, embedder=None)
    reloader = KnowledgeReloader(assistant, kb_copy)
    caplog.set_level(logging.INFO, logger="policybot.reload")
    edit(kb_copy / "policies" / "reading.yaml", OLD, NEW)
    assert asyncio.run(reloader.reload("test")).changed
    assert "1 file changed (policies/reading.yaml); 1 of 5 indexes rebuilt" in caplog.text
    caplog.clear()
    edit(kb_copy / "topics.yaml", '"What counts as social media"', '"What counts as social media online"')
    assert asyncio.run(reloader.reload("test")).changed
    assert "shared file changed (topics.yaml)" in caplog.text
    assert "5 of 5 indexes rebuilt (all: topics.yaml changed)" in caplog.text


def test_postings_idf_and_lengths_are_rank_bm25s_to_the_bit(kb):
    from rank_bm25 import BM25Okapi

    from bot import retrieval

    retriever = retrieval.Retriever(kb)
    for index in {id(i): i for i in retriever.indexes.values()}.values():
        docs = [index._body(c, kb) for c in index.clauses]
        examples = [index.analyzer.terms(e) for c in index.clauses for e in c.examples]
        for texts in (docs, examples):
            reference = BM25Okapi(texts, k1=retrieval.K1, b=retrieval.B, epsilon=retrieval.EPSILON)
            ours, theirs = retrieval.Postings(None, texts), retrieval.Postings(reference, texts)
            assert ours.idf == reference.idf
            assert list(ours.idf) == list(reference.idf)  # the same terms in the same order
            assert np.array_equal(ours.norm, theirs.norm)
            for question in ("can i be friends with pupils on facebook", "report a breach", "zzz"):
                terms = index.analyzer.terms(question)
                assert np.array_equal(ours.get_scores(terms), theirs.get_scores(terms))


def test_a_reload_works_out_the_answer_parts_of_the_edited_policy_alone(kb_copy):
    from bot.compose import Composer

    assistant = Assistant.from_directory(kb_copy)
    before = assistant._snapshot
    edit(kb_copy / "policies" / "reading.yaml", OLD, NEW)
    assistant.swap(load_knowledge(kb_copy, previous=assistant.kb))
    after = assistant._snapshot
    assert after.composer.parts["howitt"] is before.composer.parts["howitt"]
    assert after.composer.parts["reading"] is not before.composer.parts["reading"]
    assert after.composer.speakers == Composer(after.kb, after.retriever).speakers
    if before.retriever.store is not None:  # new texts are appended; no kept index's rows move
        rows = len(before.retriever.store.rows)
        assert np.array_equal(after.retriever.store.matrix[:rows], before.retriever.store.matrix)
        assert all(after.retriever.store.rows[t] == r for t, r in before.retriever.store.rows.items())


def test_a_reload_that_swapped_the_knowledge_base_hands_freed_memory_back(kb_copy, monkeypatch):
    import asyncio

    from bot import heap
    from bot.reload import KnowledgeReloader

    trims = []
    monkeypatch.setattr(heap, "trim", lambda: trims.append(1))
    reloader = KnowledgeReloader(Assistant.from_directory(kb_copy, embedder=None), kb_copy)
    assert not asyncio.run(reloader.reload("test")).changed
    assert trims == []  # nothing was swapped, so nothing was freed
    edit(kb_copy / "policies" / "reading.yaml", OLD, NEW)
    assert asyncio.run(reloader.reload("test")).changed
    assert trims == [1]


def test_trimming_the_heap_is_safe_to_call_anywhere():
    from bot import heap

    heap.trim()
    heap.trim()


def test_files_written_long_ago_are_vouched_for_by_their_stat_and_not_read_again(kb_copy, monkeypatch):
    import os
    import time
    from pathlib import Path

    old = time.time() - 60
    for path in kb_copy.rglob("*.yaml"):
        os.utime(path, (old, old))
    before = load_knowledge(kb_copy)
    read = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self.name) or real(self))
    again = load_knowledge(kb_copy, previous=before)
    assert again == before and again.version == before.version
    assert not {p.name for p in (kb_copy / "policies").glob("*.yaml")} & set(read)
    read.clear()
    edit(kb_copy / "policies" / "reading.yaml", OLD, NEW)  # a new mtime: read, hashed and parsed again
    edited = load_knowledge(kb_copy, previous=again)
    assert "reading.yaml" in read
    assert any("edited by HR" in c.text for c in edited.policies["reading"].clauses)


def test_a_file_written_just_now_is_hashed_again_however_its_stat_looks(kb_copy, monkeypatch):
    from pathlib import Path

    edit(kb_copy / "policies" / "reading.yaml", OLD, NEW)  # written within the clock's resolution of now
    before = load_knowledge(kb_copy)
    read = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self.name) or real(self))
    load_knowledge(kb_copy, previous=before)
    assert "reading.yaml" in read

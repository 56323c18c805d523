"""The semantic signal: a pinned model, vectors cached by content, and BM25 alone when the model cannot load."""

from __future__ import annotations

import asyncio
import shutil

import aiohttp
import numpy as np
import pytest

from bot import semantic
from bot.assistant import Assistant
from bot.server import create_app
from bot.settings import Settings
from tests.fakes.servers import serving


class CountingModel:
    """Wraps the real model and counts the texts it embeds."""

    def __init__(self, model):
        self.model = model
        self.embedded = 0
        self.one_question = model.one_question

    def embed(self, texts, max_tokens=semantic.MAX_TOKENS):
        self.embedded += len(texts)
        return self.model.embed(texts, max_tokens)


@pytest.fixture(scope="module")
def model(embedding_cache):
    return semantic.EmbeddingModel(model_dir=embedding_cache.parent)


def test_vectors_are_unit_length_and_close_for_the_same_meaning(model):
    vectors = model.embed(
        [
            "can i accept a friend request from a parent",
            "a mum from my class wants to add me on facebook",
            "how do i book a day off",
        ]
    )
    assert vectors.shape == (3, semantic.DIMENSION)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.2


def test_a_restart_embeds_nothing_the_cache_already_holds(model, tmp_path):
    cache = tmp_path / "embeddings.sqlite3"
    texts = ["employees must not accept friend requests from pupils", "passwords must be changed"]
    first = semantic.Embedder(CountingModel(model), semantic.EmbeddingCache(cache))
    before = first.texts(texts)
    again = semantic.Embedder(CountingModel(model), semantic.EmbeddingCache(cache))
    after = again.texts(texts + [texts[0]])
    assert first.model.embedded == 2
    assert again.model.embedded == 0
    assert np.array_equal(before, after[:2]) and np.array_equal(after[0], after[2])


def test_only_new_text_is_embedded_after_an_edit(model, tmp_path):
    cache = semantic.EmbeddingCache(tmp_path / "embeddings.sqlite3")
    semantic.Embedder(model, cache).texts(["one clause", "another clause"])
    counting = CountingModel(model)
    semantic.Embedder(counting, cache).texts(["one clause", "another clause, reworded by HR"])
    assert counting.embedded == 1


def test_the_model_run_is_derived_once_from_the_pinned_file_and_kept(tmp_path, monkeypatch):
    made = []
    real = semantic.derive_model
    monkeypatch.setattr(semantic, "derive_model", lambda *a: made.append(a) or real(*a))
    first = semantic.EmbeddingModel(model_dir=tmp_path)
    again = semantic.EmbeddingModel(model_dir=tmp_path)
    assert len(made) == 1
    assert first._path == again._path == tmp_path / semantic.DERIVED_NAME
    assert semantic._sha256(again._path) == semantic.DERIVED_SHA256
    text = ["can i accept a friend request from a parent"]
    assert np.array_equal(first.embed(text), again.embed(text))


def test_the_derived_model_gives_nearly_the_vectors_of_the_shipped_one(model):
    import onnxruntime as ort

    shipped = ort.InferenceSession(str(semantic.default_model_path()), providers=["CPUExecutionProvider"])
    texts = [
        "i leave tiktok open on my phone during lessons but dont look at it, is that ok?",
        "a parent keeps messaging me on facebook about her son",
        "who do i tell if a colleague posts something about a pupil",
    ]
    tokenizer = model._parts()[0]
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    names = {i.name for i in shipped.get_inputs()}
    feeds = {"input_ids": ids, "attention_mask": mask} | (
        {"token_type_ids": np.zeros_like(ids)} if "token_type_ids" in names else {}
    )
    hidden = shipped.run(None, feeds)[0]
    pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    reference = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    assert ((model.embed(texts) * reference).sum(axis=1) > 0.98).all()


def test_a_derived_model_file_that_does_not_match_its_pin_is_never_run(tmp_path):
    derived = tmp_path / semantic.DERIVED_NAME
    derived.write_bytes(b"not the model")  # a damaged or replaced file: made again from the shipped one
    model = semantic.EmbeddingModel(model_dir=tmp_path)
    assert model._path == derived and semantic._sha256(derived) == semantic.DERIVED_SHA256


def test_a_derivation_that_does_not_match_its_pin_is_refused_and_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(
        semantic, "DERIVED_SHA256", "0" * 64
    )  # as other onnx or onnxruntime versions would make
    with pytest.raises(semantic.ModelUnavailable, match="prepared model does not match its pinned sha256"):
        semantic.EmbeddingModel(model_dir=tmp_path)
    assert not (tmp_path / semantic.DERIVED_NAME).exists()


def test_a_model_file_that_does_not_match_its_pinned_hash_is_refused(tmp_path):
    tampered = tmp_path / "model.onnx"
    shutil.copyfile(semantic.default_model_path(), tampered)
    with tampered.open("r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(semantic.ModelUnavailable, match="sha256"):
        semantic.EmbeddingModel(tampered)


def test_an_unwritable_cache_costs_speed_not_answers(model, tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    embedder = semantic.Embedder(model, semantic.EmbeddingCache(blocked / "embeddings.sqlite3"))
    assert embedder.texts(["still embedded"]).shape == (1, semantic.DIMENSION)


def test_a_corrupt_cache_file_is_passed_over_not_fatal(model, tmp_path):
    cache = tmp_path / "embeddings.sqlite3"
    cache.write_bytes(b"this is not a database" * 100)
    embedder = semantic.Embedder(model, semantic.EmbeddingCache(cache))
    assert embedder.texts(["still embedded"]).shape == (1, semantic.DIMENSION)
    assert embedder.cache.path is None  # memory only from now on, with a warning in the log


def test_without_the_model_the_assistant_answers_on_bm25_and_healthz_says_degraded(kb, tmp_path, monkeypatch):
    monkeypatch.setattr(semantic, "default_model_path", lambda: tmp_path / "missing.onnx")
    assistant = Assistant(kb, embedding_cache=tmp_path / "no-model.sqlite3")
    assert assistant.embedder is None and "not found" in assistant.semantic_off
    answer = assistant.ask("can i accept a friend request from a parent on facebook", "howitt")
    assert answer.status == "answered"

    async def health():
        app = create_app(assistant, Settings(data_dir=tmp_path), storage=False)
        async with (
            serving(app) as base,
            aiohttp.ClientSession() as http,
            http.get(f"{base}/healthz") as response,
        ):
            return response.status, await response.json()

    status, body = asyncio.run(health())
    assert status == 200
    assert body["status"] == "degraded"
    assert "semantic search unavailable" in body["reason"]


def test_semantic_search_switched_off_on_purpose_is_not_a_fault(kb):
    assistant = Assistant(kb, embedder=None)
    assert assistant.semantic_off == "turned off"
    assert assistant.ask("can i go on insta at lunch?", "reading").status == "answered"


def test_a_repeated_question_is_embedded_once(model):
    counting = CountingModel(model)
    embedder = semantic.Embedder(counting)
    first = embedder.question("can i go on insta at lunch")
    again = embedder.question("can i go on insta at lunch")
    assert counting.embedded == 1 and np.array_equal(first, again)
    embedder.forget_questions()  # what the benchmark does to time a question no one has asked yet
    assert np.array_equal(embedder.question("can i go on insta at lunch"), first) and counting.embedded == 2


def test_many_texts_are_embedded_on_a_session_of_their_own_that_is_dropped_afterwards(model, monkeypatch):
    questions_session = model._parts()[1]
    seen = []
    real = model.embed

    def spy(texts, *args):
        seen.append((model._bulk or model._parts())[1])
        return real(texts, *args)

    monkeypatch.setattr(model, "embed", spy)
    texts = [f"can i post photo number {i} of the school trip" for i in range(semantic.BATCH + 5)]
    vectors = semantic.Embedder(model, semantic.EmbeddingCache(None)).texts(texts)
    assert seen and all(s is not questions_session for s in seen)  # the batches ran on a spare session
    assert model._bulk is None and model._parts()[1] is questions_session  # and it is gone
    monkeypatch.setattr(model, "embed", real)
    assert np.allclose(vectors[:3], model.embed(texts[:3]), atol=1e-6)


def test_a_one_question_session_skips_graph_optimisation_and_agrees_with_the_optimised_one(model):
    import onnxruntime as ort

    quick = semantic.EmbeddingModel(one_question=True)
    off = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert quick._parts()[1].get_session_options().graph_optimization_level == off
    assert model._parts()[1].get_session_options().graph_optimization_level != off
    texts = ["i leave tiktok open on my phone during lessons, is that ok?", "who do i tell about a worry"]
    assert np.allclose(quick.embed(texts), model.embed(texts), atol=1e-5)
    with quick.bulk():  # vectors cached for every later run come from an optimised session, as the server's
        assert quick._bulk[1].get_session_options().graph_optimization_level != off


def test_a_question_embedded_ahead_is_embedded_once_and_ready_when_asked(model):
    counting = CountingModel(model)
    embedder = semantic.Embedder(counting)
    embedder.embed_ahead("can i go on insta at lunch")
    vector = embedder.question("can i go on insta at lunch")
    assert counting.embedded == 1
    assert np.allclose(vector, model.embed(["can i go on insta at lunch"], semantic.QUESTION_TOKENS)[0])


def test_long_texts_are_embedded_a_few_at_a_time_so_a_first_start_stays_within_its_memory():
    lengths = sorted([20] * 100 + [400] * 40 + [1200] * 20)  # characters, sorted as `vectors` sorts them
    todo = [(str(i).encode(), "x" * n) for i, n in enumerate(lengths)]
    runs = list(semantic.batches(todo))
    assert [item for run in runs for item in run] == todo  # every text once, in order
    for run in runs:
        pieces = min(semantic.MAX_TOKENS, len(run[-1][1]) // semantic.CHARS_PER_PIECE + 2)
        assert len(run) == 1 or len(run) * pieces**2 <= semantic.BATCH_WORK
        assert len(run) <= semantic.BATCH
    assert len(runs[0]) == semantic.BATCH and len(runs[-1]) <= 2  # short ones 32 at a time, the longest 2


def test_a_model_file_that_cannot_be_read_is_reported_as_such(monkeypatch):
    def unreadable(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(semantic, "_sha256", unreadable)
    with pytest.raises(semantic.ModelUnavailable, match="cannot be read.*Permission denied"):
        semantic.EmbeddingModel()


def test_a_model_directory_that_cannot_be_written_costs_a_derivation_per_start_not_answers(tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    model = semantic.EmbeddingModel(model_dir=blocked)
    assert semantic._sha256(model._path) == semantic.DERIVED_SHA256 and not str(model._path).startswith(
        str(blocked)
    )
    assert model.embed(["still embedded"]).shape == (1, semantic.DIMENSION)


def test_texts_are_cached_from_an_optimised_session_whatever_the_process(model, tmp_path):
    # A one-question command's own session differs from a server's in the sixth decimal place; what it caches
    # for every later process must not, or answers near a threshold would depend on which ran first.
    quick = semantic.EmbeddingModel(one_question=True, model_dir=model._model_dir)
    text = "staff must not accept friend requests from pupils"
    cached = semantic.Embedder(quick, semantic.EmbeddingCache(tmp_path / "c.sqlite3")).texts([text])[0]
    assert np.array_equal(cached, model.embed([text])[0])


def test_a_one_question_embedder_is_kept_apart_from_the_servers(tmp_path):
    cache = tmp_path / "shared.sqlite3"
    quick = semantic.shared_embedder(cache, one_question=True).embedder
    served = semantic.shared_embedder(cache).embedder
    assert quick is not None and served is not None
    assert quick is not served and not served.model.one_question
    assert semantic.shared_embedder(cache).embedder is served

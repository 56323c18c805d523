"""Hot reload of `knowledge/`: build the new knowledge base and indexes off to the side, validate, swap.

Triggered by a change to the files (polled, so it works on any filesystem, including Kubernetes ConfigMap
volumes), by SIGHUP, or by POST /admin/reload. An invalid edit is refused: the last good knowledge base keeps
serving, every problem is logged as `file:line: message`, and `status()` (shown on /healthz) carries them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bot import heap
from bot.assistant import Assistant
from bot.cachesweep import sweep_for
from bot.knowledge import check_knowledge

log = logging.getLogger("policybot.reload")

POLL_SECONDS = 0.5


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    version: str  # the version now being served
    changed: bool = False
    problems: tuple[str, ...] = ()


@dataclass
class ReloadState:
    serving_version: str
    loaded_at: str
    error: tuple[str, ...] = ()
    error_at: str | None = None
    history: list[str] = field(default_factory=list)


SHARED_FILES = ("roles.yaml", "topics.yaml", "synonyms.yaml", "scope.yaml", "routes.yaml")


def _signature(directory: Path) -> tuple:
    """What changes when any knowledge file is edited, added or removed (run off the event loop: it stats
    every file)."""
    entries = []
    for path in sorted(directory.rglob("*.yaml")):
        try:
            stat = path.stat()
        except OSError:
            continue
        entries.append((str(path.relative_to(directory)), stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


def _changed(before: tuple, after: tuple) -> list[str]:
    """Files added, removed or modified between two signatures, by their path in the knowledge directory."""
    old, new = {e[0]: e[1:] for e in before}, {e[0]: e[1:] for e in after}
    return sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))


def _describe(files: list[str]) -> str:
    if not files:
        return "no file changed since the last check"
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return f"{len(files)} file{'s' if len(files) != 1 else ''} changed ({shown})"


def _load_and_build(assistant: Assistant, directory: Path):
    """Load (reusing unchanged files) and, when the version changed, build the next snapshot; in a worker thread.

    The cyclic garbage collector is paused meanwhile: at hundreds of schools its sweeps of the objects being
    built held the GIL for 30-60 ms at a time, and /healthz waited. What was built is then frozen out of later
    sweeps, as `policybot serve` does with the first knowledge base at start.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        kb, problems = check_knowledge(directory, None, assistant.kb)
        changed = kb is not None and kb.version != assistant.kb.version
        return kb, problems, assistant.build(kb) if changed else None
    finally:
        if collecting:
            gc.freeze()
            gc.enable()


class KnowledgeReloader:
    def __init__(self, assistant: Assistant, directory: Path | str):
        self.assistant = assistant
        self.directory = Path(directory)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.state = ReloadState(assistant.kb.version, now)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._sweeper: threading.Thread | None = None
        self._seen = _signature(self.directory)

    async def reload(self, reason: str = "request") -> ReloadResult:
        async with self._lock:  # one reload at a time; a second trigger waits and then sees the new files
            before, self._seen = self._seen, await asyncio.to_thread(_signature, self.directory)
            changed_files = _changed(before, self._seen)
            shared = [f for f in changed_files if f in SHARED_FILES]
            if shared:
                log.info(
                    "knowledge reload (%s): shared file changed (%s): every index may be rebuilt",
                    reason,
                    ", ".join(shared),
                )
            # Files unchanged since the knowledge base being served are not parsed again.
            kb, problems, snapshot = await asyncio.to_thread(_load_and_build, self.assistant, self.directory)
            if kb is None:
                errors = tuple(str(p) for p in problems if p.severity == "error")
                for line in errors:
                    log.error("knowledge reload (%s) refused: %s", reason, line)
                self.state.error = errors
                self.state.error_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                return ReloadResult(False, self.assistant.kb.version, problems=errors)
            changed = snapshot is not None
            if snapshot is not None:
                self.assistant.install(snapshot)
                self.sweep_cache()
                # The old snapshot's own objects were freed with it: hand their memory back to the system.
                await asyncio.to_thread(heap.trim)
                self.state.serving_version = kb.version
                self.state.loaded_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                retriever = snapshot.retriever
                log.info(
                    "knowledge reloaded (%s): version %s, %d clauses; %s; %d of %d indexes rebuilt%s",
                    reason,
                    kb.version,
                    kb.clause_count,
                    _describe(changed_files),
                    retriever.built,
                    retriever.built + retriever.kept,
                    f" (all: {', '.join(retriever.rebuilt_all)} changed)" if retriever.rebuilt_all else "",
                )
            self.state.error, self.state.error_at = (), None
            return ReloadResult(True, kb.version, changed=changed)

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                # Stat-ing hundreds of files takes tens of ms: never on the event loop, where answers wait.
                current = await asyncio.to_thread(_signature, self.directory)
                if current != self._seen:
                    await self.reload("files changed")
            except Exception:  # the watcher must outlive any one bad reload
                log.exception("knowledge watcher failed; will retry")

    def start(self) -> None:
        self._task = asyncio.create_task(self.watch())
        self.sweep_cache()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._sweeper is not None:
            await asyncio.to_thread(self._sweeper.join, 10)

    def sweep_cache(self) -> threading.Thread | None:
        """Let the cache entries that the knowledge base being served does not use age out (bot.cachesweep).

        On a thread of its own, not an answer thread: at 500 schools it walks every clause and example (0.18 s).
        A sweep still running when the next is asked for covers it: whatever a reload adds is stamped as it is
        written."""
        if self._sweeper is not None and self._sweeper.is_alive():
            return None
        retriever = self.assistant.retriever

        def run() -> None:
            try:
                sweep_for(retriever)
            except Exception:  # a cache is never worth a failure
                log.exception("embedding cache sweep failed")

        self._sweeper = threading.Thread(target=run, name="cache-sweep", daemon=True)
        self._sweeper.start()
        return self._sweeper

    def status(self) -> dict:
        return {
            "directory": str(self.directory),
            "version": self.state.serving_version,
            "loaded_at": self.state.loaded_at,
            "reload_error": list(self.state.error) or None,
            "reload_error_at": self.state.error_at,
        }

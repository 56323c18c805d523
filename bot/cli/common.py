"""What the commands share: the settings the root group builds once, the `--knowledge` and `--since` options,
the knowledge base or assistant loaded with `file:line` problems on failure, and one database job run.

Nothing heavy is imported here: each command imports what it needs when it runs, so `policybot ask` never loads
the database, Slack or Teams libraries.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    import datetime as dt

    from bot.assistant import Assistant
    from bot.knowledge import KnowledgeBase
    from bot.parsecache import ParseCache
    from bot.settings import Settings

T = TypeVar("T")

SETTINGS = "settings"  # key of the Settings in the root context's obj
OWN_PROCESS = "own_process"  # key in the root context's obj: true when the command is the whole process
KNOWLEDGE = "policybot.knowledge"  # key in ctx.meta (shared by every context) of a --knowledge given anywhere
KNOWLEDGE_HELP = "Knowledge directory (default: the one shipped with the package)."


def _root_obj(ctx: click.Context) -> dict[str, Any]:
    root = ctx.find_root()
    if not isinstance(root.obj, dict):
        root.obj = {}
    return root.obj


def settings(ctx: click.Context) -> Settings:
    """The settings, read from the environment once per run: by the root group, or by the first command that
    asks when a command is invoked on its own (tests). A bad variable is a one-line error naming it."""
    obj = _root_obj(ctx)
    found = obj.get(SETTINGS)
    if found is None:
        from bot.errors import SettingsError
        from bot.settings import Settings

        try:
            found = obj[SETTINGS] = Settings.from_env()
        except SettingsError as exc:
            raise click.ClickException(exc.user_message) from exc
    return found


def _remember_knowledge(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    if value is not None:
        ctx.meta[KNOWLEDGE] = value  # a subcommand's --knowledge overrides the root's
    return value


def knowledge_option(help: str = KNOWLEDGE_HELP) -> Callable[[T], T]:
    """`--knowledge DIR`, on the root group and on the commands that write into a knowledge directory; read the
    chosen directory with `knowledge_dir(ctx)`."""
    return click.option(
        "--knowledge",
        type=click.Path(file_okay=False, path_type=Path),
        expose_value=False,
        callback=_remember_knowledge,
        help=help,
    )


def knowledge_dir(ctx: click.Context) -> Path:
    """--knowledge (the command's, else the root's), else POLICYBOT_KNOWLEDGE_DIR, else the shipped one."""
    chosen = ctx.meta.get(KNOWLEDGE)
    if chosen is not None:
        return Path(chosen)
    configured = settings(ctx).knowledge_dir
    if configured is not None:
        return configured
    from bot.knowledge import default_knowledge_dir

    return default_knowledge_dir()


def existing_dir(directory: Path) -> Path:
    """`directory`, or a one-line error naming it: a missing directory is a typo, not a file:line problem."""
    if not Path(directory).is_dir():
        raise click.ClickException(f"knowledge directory not found: {directory}")
    return directory


def parse_cache(ctx: click.Context) -> ParseCache:
    """Where a load finds the files an earlier run parsed (in the data directory), so it parses only changes."""
    from bot.parsecache import ParseCache

    return ParseCache(settings(ctx).parse_cache)


def load_kb(ctx: click.Context) -> KnowledgeBase:
    """The knowledge base of `knowledge_dir(ctx)`, or its problems as `file:line: message` and exit 1."""
    from bot.errors import KnowledgeError
    from bot.knowledge import load_knowledge

    try:
        return load_knowledge(existing_dir(knowledge_dir(ctx)), cache=parse_cache(ctx))
    except KnowledgeError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException("the knowledge base did not load; run `policybot kb validate`") from exc


def assistant(ctx: click.Context, *, server: bool = False, one_question: str | None = None) -> Assistant:
    """The assistant over `load_kb(ctx)`, with semantic search as the settings say.

    A command lets the embedding model load in the background while the knowledge base is indexed; the
    `server` has it loaded (or knows it cannot be) before it starts listening. A command that answers
    `one_question` makes the model's quick session (see bot.semantic.EmbeddingModel), and embeds the
    question as soon as the model is there.
    """
    config = settings(ctx)
    embedder = None
    if config.semantic and not server:
        from bot.semantic import shared_embedder

        # The model loads on a thread while the rest of the code is imported and the knowledge base loaded.
        quick = one_question is not None
        embedder = shared_embedder(config.embedding_cache, background=True, one_question=quick).embedder
    elif config.semantic:
        from bot.semantic import shared_embedder

        # The server loads the model before the knowledge base: a first start on a new data directory prepares it
        # (bot.semantic.derive_model, some 350 MB for a few seconds), and 500 schools' files hold about 300 MB,
        # so one after the other the pod's high-water mark is the larger of the two, not their sum.
        shared_embedder(config.embedding_cache)
    from bot.assistant import SHARED, Assistant, clean_question
    from bot.errors import InvalidQuestion
    from bot.semantic import TerminalProgress

    if embedder is not None and one_question is not None:
        with contextlib.suppress(InvalidQuestion):  # the question itself says so when it is asked
            embedder.embed_ahead(clean_question(one_question))

    kb = load_kb(ctx)
    return Assistant(
        kb,
        embedder=SHARED if config.semantic else None,
        embedding_cache=config.embedding_cache,
        # A cold embedding cache takes a while on first start: say so on a terminal, not in a pipe.
        progress=TerminalProgress() if sys.stderr.isatty() else None,
        quick_start=not server,
        answer_memory=config.answer_memory,
        one_question=one_question is not None and not server,
    )


def exit_if_own_process(ctx: click.Context) -> None:
    """End the process now, with status 0, when the command runs as `policybot` and has written its output.

    What is left is the interpreter's teardown: freeing the knowledge base, its indexes and onnxruntime one
    object at a time, about 50 ms that a person waiting on `policybot ask` gains nothing from. Output and
    logs are flushed first. In-process callers (tests, `CliRunner`) do not set OWN_PROCESS and return as usual.
    """
    if not _root_obj(ctx).get(OWN_PROCESS):
        return
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def since_option(help: str = "Period such as 30d, 12h or 2w.") -> Callable[[T], T]:
    """`--since PERIOD` (default 30d); turn it into a start time with `period(value)`."""
    return click.option("--since", default="30d", show_default=True, help=help)


def period(value: str, param_hint: str = "--since") -> dt.datetime:
    """The start of a period such as 30d, 12h or 2w before now; a bad one is a usage error naming the option."""
    from bot.report import parse_period

    try:
        return parse_period(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=param_hint) from exc


def run_db(make_coroutine: Callable[[], Awaitable[T]]) -> T:
    """Run one database job from the CLI; a database that cannot be reached is a clear error, not a trace."""
    import asyncio

    try:
        return asyncio.run(make_coroutine())  # type: ignore[arg-type]
    except (OSError, TimeoutError) as exc:
        raise click.ClickException(f"cannot reach the database: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3")):
            raise click.ClickException(f"database error: {type(exc).__name__}: {exc}") from exc
        raise

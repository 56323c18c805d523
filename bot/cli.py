"""`policybot`: ask, eval, kb validate. Each command is a thin wrapper over a library function."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.assistant import SHARED, Assistant
from bot.compare_cli import compare_command
from bot.contract import answer_dict, error_dict
from bot.errors import KnowledgeError, PolicyBotError, UnknownSchool
from bot.importer_cli import import_command
from bot.knowledge import check_knowledge, default_knowledge_dir
from bot.settings import Settings
from bot.suggest_cli import suggest_command

MAX_JSONL_LINE = 64 * 1024


def _knowledge_dir(directory: Path) -> Path:
    """`directory`, or a one-line error naming it: a missing directory is a typo, not a file:line problem."""
    if not Path(directory).is_dir():
        raise click.ClickException(f"knowledge directory not found: {directory}")
    return directory


def _assistant(ctx: click.Context) -> Assistant:
    from bot.semantic import TerminalProgress

    _knowledge_dir(ctx.obj["knowledge"])
    settings = Settings.from_env()
    try:
        return Assistant.from_directory(
            ctx.obj["knowledge"],
            embedder=SHARED if settings.semantic else None,
            embedding_cache=settings.embedding_cache,
            # A cold embedding cache takes a while on first start: say so on a terminal, not in a pipe.
            progress=TerminalProgress() if sys.stderr.isatty() else None,
        )
    except KnowledgeError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException("the knowledge base did not load; run `policybot kb validate`") from exc


@click.group()
@click.option(
    "--knowledge",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="POLICYBOT_KNOWLEDGE_DIR",
    help="Knowledge directory (default: the one shipped with the package).",
)
@click.pass_context
def cli(ctx: click.Context, knowledge: Path | None) -> None:
    """Policy Assistant: answers staff questions about their school's social media policy."""
    ctx.ensure_object(dict)
    ctx.obj["knowledge"] = knowledge or default_knowledge_dir()


class _AskCommand(click.Command):
    """`ask`, whose help ends with the school ids of the knowledge base it would answer from."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        root = ctx.find_root().obj
        directory = root.get("knowledge") if isinstance(root, dict) else None
        kb_, _ = check_knowledge(directory or default_knowledge_dir())
        with formatter.section("School ids"):
            if kb_ is None:
                formatter.write_text("(the knowledge base did not load: run `policybot kb validate`)")
            else:
                formatter.write_text(", ".join(sorted(kb_.schools)) + " (any case)")


@cli.command(cls=_AskCommand)
@click.option("--school", "-s", help="School id, e.g. howitt (listed below).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON answer contract.")
@click.option("--jsonl", is_flag=True, help='Answer {"school","question"} JSON lines from stdin.')
@click.argument("question", required=False)
@click.pass_context
def ask(ctx: click.Context, school: str | None, as_json: bool, jsonl: bool, question: str | None) -> None:
    """Answer QUESTION for --school, or every JSON line on stdin with --jsonl."""
    assistant = _assistant(ctx)
    if jsonl:
        for line in sys.stdin:
            click.echo(json.dumps(answer_jsonl_line(assistant, line), ensure_ascii=False))
            sys.stdout.flush()
        return
    if not school or question is None:
        raise click.UsageError("give --school ID and a QUESTION, or use --jsonl")
    try:
        answer = assistant.ask(question, school)
    except PolicyBotError as exc:
        if as_json:
            click.echo(json.dumps(error_dict(exc.user_message, school, question)))
            sys.exit(1)
        raise click.ClickException(exc.user_message) from exc
    if as_json:
        click.echo(json.dumps(answer_dict(answer), ensure_ascii=False, indent=2))
    else:
        from adapters.terminal import render_text

        click.echo(render_text(answer), nl=False)


def answer_jsonl_line(assistant: Assistant, line: str) -> dict:
    """One input line to one output object; a bad line gets an error object, never an exception."""
    if len(line) > MAX_JSONL_LINE:
        return error_dict(f"line too long ({len(line)} characters)")
    try:
        request = json.loads(line)
    except json.JSONDecodeError as exc:
        return error_dict(f"invalid JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(request, dict):
        return error_dict('each line must be a JSON object {"school": ..., "question": ...}')
    school, question = request.get("school"), request.get("question")
    if not isinstance(school, str) or not school:
        return error_dict("missing `school`", school, question)
    try:  # no question at all is an empty one, answered with what to type
        return answer_dict(assistant.ask("" if question is None else question, school))
    except PolicyBotError as exc:
        return error_dict(exc.user_message, school, question)


@cli.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--min-top1", type=float)
@click.option("--min-top3", type=float)
@click.option("--min-contacts", type=float)
@click.option("--min-no-match", type=float)
@click.option("--max-false-no-match", type=int)
@click.pass_context
def eval_command(ctx, file, as_json, min_top1, min_top3, min_contacts, min_no_match, max_false_no_match):
    """Score a question set (shared/eval format); exit 1 under any given floor."""
    from bot.evaluation import evaluate, load_cases

    report = evaluate(_assistant(ctx), load_cases(file))
    metrics = report.metrics
    if as_json:
        click.echo(json.dumps(metrics))
    else:
        for r in report.misses():
            got = r.response.get("clauses") or []
            first = got[0]["id"] if got else "-"
            roles = ",".join(c["role"] for c in r.response.get("contacts", []))
            click.echo(
                f"MISS {r.case.id} [{r.case.school}] {r.case.question!r}: status={r.response.get('status')} "
                f"top1={first} top3={'yes' if r.top3 else 'no'} contacts={roles}"
            )
        declined = [r.case.id for r in report.misses() if r.response.get("status") == "no_match"]
        answered_wrongly = [r.case.id for r in report.misses() if r.response.get("status") != "no_match"]
        click.echo(f"misses declined (no_match): {len(declined)} {' '.join(declined)}".rstrip())
        click.echo(f"misses answered: {len(answered_wrongly)} {' '.join(answered_wrongly)}".rstrip())
        click.echo(
            "top1={top1:.3f} top3={top3:.3f} contacts={contacts:.3f} no_match={no_match:.3f} "
            "false_no_match={false_no_match} cases={cases}".format(**metrics)
        )
    floors = [
        ("top1", min_top1, lambda v, f: v >= f),
        ("top3", min_top3, lambda v, f: v >= f),
        ("contacts", min_contacts, lambda v, f: v >= f),
        ("no_match", min_no_match, lambda v, f: v >= f),
        ("false_no_match", max_false_no_match, lambda v, f: v <= f),
    ]
    failed = [name for name, floor, ok in floors if floor is not None and not ok(metrics[name], floor)]
    if failed:
        raise click.ClickException("below the floor for: " + ", ".join(failed))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="POLICYBOT_HOST")
@click.option("--port", default=8080, show_default=True, type=int, envvar="POLICYBOT_PORT")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Run the server: the web chat at /, /api/ask, /healthz and /metrics."""
    import gc
    import logging

    from aiohttp import web

    from bot.server import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(_assistant(ctx))
    # The knowledge base and indexes live for the whole process: freezing them keeps the garbage collector
    # from sweeping them again and again (a full sweep of them paused answers for ~100 ms under load).
    gc.collect()
    gc.freeze()
    click.echo(f"Policy Assistant web chat: http://{host}:{port}/")
    web.run_app(app, host=host, port=port, print=None)


@cli.group()
def db() -> None:
    """The database: SQLite in POLICYBOT_DATA_DIR, or POLICYBOT_DATABASE_URL=postgresql://…"""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (serve also does this on start)."""
    from bot.store import open_store

    async def run() -> str | None:
        store = await open_store(Settings.from_env(), upgrade=False)
        try:
            return await store.upgrade()
        finally:
            await store.close()

    revision = _database(run)
    click.echo(f"schema at revision {revision}")


def _database(make_coroutine):
    """Run one database job from the CLI; a database that cannot be reached is a clear error, not a trace."""
    import asyncio

    try:
        return asyncio.run(make_coroutine())
    except (OSError, TimeoutError) as exc:
        raise click.ClickException(f"cannot reach the database: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3")):
            raise click.ClickException(f"database error: {type(exc).__name__}: {exc}") from exc
        raise


@cli.command()
@click.option("--older-than", "older_than", required=True, help="Age such as 30d, 12h or 2w.")
def purge(older_than: str) -> None:
    """Delete interactions, feedback and processed events older than the given age."""
    from bot.report import parse_period
    from bot.store import open_store

    try:
        cutoff = parse_period(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from exc

    async def run() -> dict[str, int]:
        store = await open_store(Settings.from_env())
        try:
            return await store.purge(cutoff)
        finally:
            await store.close()

    counts = _database(run)
    click.echo(
        f"purged records older than {cutoff.isoformat(timespec='seconds')}: "
        + ", ".join(f"{table} {n}" for table, n in counts.items())
    )


@cli.command()
@click.option("--since", default="30d", show_default=True, help="Period such as 30d, 12h or 2w.")
@click.option("--school", help="Only this school.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV: one row per question to look at.")
@click.option("--json", "as_json", is_flag=True, help="JSON.")
@click.pass_context
def report(ctx: click.Context, since: str, school: str | None, as_csv: bool, as_json: bool) -> None:
    """HR's report: questions, answered vs no_match, 👎 rate, top topics, unanswered and down-voted questions."""
    from bot.report import build_report, parse_period, report_csv, report_json, report_text
    from bot.store import open_store

    try:
        start = parse_period(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    assistant = _assistant(ctx)
    if school is not None:
        try:  # an unknown school is a mistake to point out, not a period with no questions
            school = assistant.kb.school(school).id
        except UnknownSchool as exc:
            raise click.ClickException(exc.user_message) from exc

    async def run():
        store = await open_store(Settings.from_env())
        try:
            return await build_report(store, assistant, start, school)
        finally:
            await store.close()

    result = _database(run)
    if as_json:
        click.echo(json.dumps(report_json(result), ensure_ascii=False, indent=2))
    elif as_csv:
        click.echo(report_csv(result), nl=False)
    else:
        click.echo(report_text(result), nl=False)


@cli.group()
def kb() -> None:
    """Knowledge-base tools for HR."""


kb.add_command(compare_command, "compare")
kb.add_command(import_command, "import")
kb.add_command(suggest_command, "suggest")


@kb.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.pass_context
def validate(ctx: click.Context, directory: Path | None) -> None:
    """Check every file; print `file:line: message` per problem; exit 1 on any error."""
    kb_, problems = check_knowledge(_knowledge_dir(directory or ctx.obj["knowledge"]))
    for problem in problems:
        click.echo(str(problem), err=problem.severity == "error")
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        click.echo(f"{len(errors)} error(s)", err=True)
        sys.exit(1)
    assert kb_ is not None
    click.echo(
        f"ok: {len(kb_.schools)} schools, {len(kb_.policies)} policies, {kb_.clause_count} clauses, "
        f"{len(kb_.topics)} topics, version {kb_.version}"
    )


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()

"""`policybot serve`, `db upgrade`, `purge` and `report`: running the server and looking after its database."""

from __future__ import annotations

import json

import click

from bot.cli import common


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Run the server: the web chat at /, /api/ask, /healthz and /metrics."""
    import gc
    import logging

    from aiohttp import web

    from bot import blas, heap
    from bot.server import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(common.assistant(ctx, server=True), common.settings(ctx))
    blas.single_threaded()  # the server answers on worker threads: one BLAS thread each, not one per core
    # The knowledge base and indexes live for the whole process: freezing them keeps the garbage collector
    # from sweeping them again and again (a full sweep of them paused answers for ~100 ms under load).
    gc.collect()
    gc.freeze()
    heap.trim()  # what loading the model and building the indexes freed goes back to the system
    click.echo(f"Policy Assistant web chat: http://{host}:{port}/")
    web.run_app(app, host=host, port=port, print=None)


@click.group()
def db() -> None:
    """The database: SQLite in POLICYBOT_DATA_DIR, or POLICYBOT_DATABASE_URL=postgresql://…"""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply pending schema migrations (serve also does this on start)."""
    from bot.store import open_store

    config = common.settings(ctx)

    async def run() -> str | None:
        store = await open_store(config, upgrade=False)
        try:
            return await store.upgrade()
        finally:
            await store.close()

    revision = common.run_db(run)
    click.echo(f"schema at revision {revision}")


@click.command()
@click.option("--older-than", "older_than", required=True, help="Age such as 30d, 12h or 2w.")
@click.pass_context
def purge(ctx: click.Context, older_than: str) -> None:
    """Delete interactions, feedback and processed events older than the given age."""
    from bot.store import open_store

    cutoff = common.period(older_than, param_hint="--older-than")
    config = common.settings(ctx)

    async def run() -> dict[str, int]:
        store = await open_store(config)
        try:
            return await store.purge(cutoff)
        finally:
            await store.close()

    counts = common.run_db(run)
    click.echo(
        f"purged records older than {cutoff.isoformat(timespec='seconds')}: "
        + ", ".join(f"{table} {n}" for table, n in counts.items())
    )


@click.command()
@common.since_option()
@click.option("--school", help="Only this school.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV: one row per question to look at.")
@click.option("--json", "as_json", is_flag=True, help="JSON.")
@click.pass_context
def report(ctx: click.Context, since: str, school: str | None, as_csv: bool, as_json: bool) -> None:
    """HR's report: questions, answered vs no_match, 👎 rate, top topics, unanswered and down-voted questions."""
    from bot.errors import UnknownSchool
    from bot.report import build_report, report_csv, report_json, report_text
    from bot.store import open_store

    start = common.period(since)
    assistant = common.assistant(ctx)
    if school is not None:
        try:  # an unknown school is a mistake to point out, not a period with no questions
            school = assistant.kb.school(school).id
        except UnknownSchool as exc:
            raise click.ClickException(exc.user_message) from exc
    config = common.settings(ctx)

    async def run():
        store = await open_store(config)
        try:
            return await build_report(store, assistant, start, school)
        finally:
            await store.close()

    result = common.run_db(run)
    if as_json:
        click.echo(json.dumps(report_json(result), ensure_ascii=False, indent=2))
    elif as_csv:
        click.echo(report_csv(result), nl=False)
    else:
        click.echo(report_text(result), nl=False)

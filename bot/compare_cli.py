"""`policybot kb compare [TOPIC]`: the schools' rules compared, as text, CSV or one HTML page for HR.

A thin wrapper over `bot.compare`; bot/cli.py mounts it in the `kb` group.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from bot.compare import DEFAULT_WIDTH, MIN_WIDTH, UnknownTopic, compare, render_csv, render_html, render_text
from bot.errors import KnowledgeError
from bot.knowledge import KnowledgeBase, default_knowledge_dir, load_knowledge

MAX_TERMINAL_WIDTH = 160  # wider lines are hard to read, however wide the terminal


def _load(ctx: click.Context) -> KnowledgeBase:
    obj = ctx.find_root().obj or {}
    try:
        return load_knowledge(obj.get("knowledge") or default_knowledge_dir())
    except KnowledgeError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException("the knowledge base did not load; run `policybot kb validate`") from exc


@click.command("compare")
@click.argument("topic", required=False)
@click.option(
    "--text", "fmt", flag_value="text", help="Readable text, wrapped to the terminal (the default)."
)
@click.option("--csv", "fmt", flag_value="csv", help="CSV: the matrix, or one row per clause for TOPIC.")
@click.option("--html", "fmt", flag_value="html", help="One self-contained HTML page to email.")
@click.option("--width", type=click.IntRange(min=MIN_WIDTH), help="Text width (default: the terminal's).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to FILE instead of standard output (CSV files get a byte-order mark for Excel).",
)
@click.pass_context
def compare_command(
    ctx: click.Context, topic: str | None, fmt: str | None, width: int | None, output: Path | None
) -> None:
    """Compare the schools' rules: a topic x school matrix, or TOPIC's rules side by side.

    Without TOPIC, each cell names the sections that cover the topic, or "—" where the school has no clause.
    With a topic id from knowledge/topics.yaml (e.g. personal_use_at_work), every school's rule and clauses.
    """
    kb = _load(ctx)
    try:
        view = compare(kb, topic)
    except UnknownTopic as exc:
        raise click.ClickException(exc.user_message) from exc
    fmt = fmt or "text"
    if fmt == "csv":
        content = render_csv(view)
    elif fmt == "html":
        content = render_html(view)
    else:
        columns = width or (
            shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns if output is None else DEFAULT_WIDTH
        )
        content = render_text(view, columns)
    if output is None:
        click.echo(content, nl=False)
        return
    output.write_text(content, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    click.echo(f"wrote {output}", err=True)

"""`policybot kb`: HR's tools for the knowledge base. `kb validate`, `kb compare` (over `bot.compare`) and
`kb import` (over `bot.importer`) are here; `kb suggest` (over `bot.suggest`) is in `bot.cli.suggest`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from bot.cli import common
from bot.cli.suggest import suggest_command
from bot.import_limits import describe_limits

MIN_WIDTH = 40  # bot.compare.MIN_WIDTH (a test checks they agree): `ask` need not import the compare code


@click.group()
def kb() -> None:
    """Knowledge-base tools for HR."""


@kb.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.pass_context
def validate(ctx: click.Context, directory: Path | None) -> None:
    """Check every file; print `file:line: message` per problem; exit 1 on any error."""
    from bot.knowledge import check_knowledge

    directory = common.existing_dir(directory or common.knowledge_dir(ctx))
    kb_, problems = check_knowledge(directory, cache=common.parse_cache(ctx))
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


@kb.command("compare")
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
    from bot.compare import DEFAULT_WIDTH, UnknownTopic, compare, render_csv, render_html, render_text

    kb_ = common.load_kb(ctx)
    try:
        view = compare(kb_, topic)
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


def _school_id(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from bot.importer import SCHOOL_ID

    if not SCHOOL_ID.match(value):
        raise click.BadParameter(
            f"{value!r} is not an id: use lower-case letters, digits, '_' and '-' (e.g. st-marys)"
        )
    return value


@kb.command("import", epilog=f"Limits: {describe_limits()}.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--school",
    "school_id",
    required=True,
    callback=_school_id,
    help="School id (a-z, 0-9, _ and -); the draft is written to policies/<ID>.yaml.",
)
@click.option(
    "--name", help="The policy's title, when the document does not state one (or states it wrongly)."
)
@click.option("--force", is_flag=True, help="Overwrite an existing policies/<ID>.yaml.")
@common.knowledge_option(
    "Knowledge directory to write into (default: policybot's --knowledge, else the shipped one)."
)
@click.pass_context
def import_command(ctx: click.Context, file: Path, school_id: str, name: str | None, force: bool) -> None:
    """Import FILE (.txt, .md, .docx or .pdf) as a DRAFT clause file for HR to review.

    Prints the clauses found per section and warnings (numbering gaps, very long clauses, text it could not
    place). Never overwrites an existing policy file without --force.
    """
    from bot.importer import (
        PolicyImportError,
        draft_path,
        import_policy,
        render_yaml,
        summary_lines,
        write_draft,
    )

    directory = common.knowledge_dir(ctx)
    target = draft_path(directory, school_id)
    if target.exists() and not force:
        raise click.ClickException(f"{target} already exists; use --force to overwrite it")
    try:
        policy = import_policy(file, school_id, title=name)
        if not policy.clauses:
            for line in summary_lines(policy):
                click.echo(line)
            raise click.ClickException(f"no clauses found in {file.name}; nothing written")
        written = write_draft(policy, directory, force=force, text=render_yaml(policy))
    except PolicyImportError as exc:
        raise click.ClickException(exc.user_message) from exc
    click.echo(f"Imported {file.name} as a DRAFT: {written}")
    for line in summary_lines(policy):
        click.echo(line)
    click.echo(
        "Next: check every clause against the document, fill in topics, contacts, examples and topic_notes, "
        f"list `{school_id}` in a school file's policies, then run `policybot kb validate`."
    )


kb.add_command(suggest_command, "suggest")

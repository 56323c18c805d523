"""`policybot kb import FILE --school ID`: write a DRAFT policy file for HR to review.

A thin click wrapper over `bot.importer`; registered in `bot.cli` as the `kb` group's `import` command.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.import_limits import describe_limits
from bot.importer import (
    SCHOOL_ID,
    PolicyImportError,
    draft_path,
    import_policy,
    render_yaml,
    summary_lines,
    write_draft,
)
from bot.knowledge import default_knowledge_dir


def _school_id(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not SCHOOL_ID.match(value):
        raise click.BadParameter(
            f"{value!r} is not an id: use lower-case letters, digits, '_' and '-' (e.g. st-marys)"
        )
    return value


@click.command("import", epilog=f"Limits: {describe_limits()}.")
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
@click.option(
    "--knowledge",
    type=click.Path(file_okay=False, path_type=Path),
    help="Knowledge directory to write into (default: policybot's --knowledge, else the shipped one).",
)
@click.pass_context
def import_command(
    ctx: click.Context, file: Path, school_id: str, name: str | None, force: bool, knowledge: Path | None
) -> None:
    """Import FILE (.txt, .md, .docx or .pdf) as a DRAFT clause file for HR to review.

    Prints the clauses found per section and warnings (numbering gaps, very long clauses, text it could not
    place). Never overwrites an existing policy file without --force.
    """
    root = ctx.find_root().obj
    directory = (
        knowledge or (root.get("knowledge") if isinstance(root, dict) else None) or default_knowledge_dir()
    )
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

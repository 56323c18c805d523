"""`policybot kb suggest`: unanswered and 👎-voted questions grouped by similarity, and `--accept` to turn one
into an example question of the clause that answers it.

A thin click wrapper over `bot.suggest`; `bot.cli.knowledge` mounts it in the `kb` group. `bot.suggest` reads
the log's records, so it is imported when the command runs, not when the command line starts.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from bot.cli import common

if TYPE_CHECKING:
    from bot.knowledge import KnowledgeBase
    from bot.suggest import Asked, Group

EVAL_HINT = "Next: run `policybot eval QUESTIONS.yaml` on your question sets to see the effect."
RELOAD_NOTE = "A running server picks up the edited file by itself (hot reload)."


@dataclasses.dataclass(frozen=True)
class _Source:
    """Where the questions came from, for the listing's heading and JSON."""

    name: str  # "log" or the JSONL file
    since: str | None
    asked: tuple[Asked, ...]
    skipped: tuple[str, ...] = ()
    without_text: int = 0


@click.command("suggest")
@common.since_option("Period of the log to read: 30d, 12h or 2w.")
@click.option("--school", help="Only this school's questions.")
@click.option(
    "--from-jsonl",
    "from_jsonl",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
    help='Read questions from FILE instead of the log: {"school", "question", "status"?, "helpful"?} per line.',
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--accept", "accept", metavar="ID", help="Add group ID's question as an example of --clause.")
@click.option(
    "--accept-question", "accept_question", metavar="TEXT", help="Add TEXT as an example of --clause."
)
@click.option(
    "--clause", "clause_id", metavar="CLAUSE_ID", help="The clause that answers the accepted question."
)
@common.knowledge_option(
    "Knowledge directory to read and edit (default: policybot's --knowledge, else the shipped one)."
)
@click.pass_context
def suggest_command(
    ctx: click.Context,
    since: str,
    school: str | None,
    from_jsonl: Path | None,
    as_json: bool,
    accept: str | None,
    accept_question: str | None,
    clause_id: str | None,
) -> None:
    """List unanswered and 👎-voted questions, grouped by similarity, with their 3 nearest clauses.

    Each group has an id; `--accept ID --clause CLAUSE_ID` adds the group's question to that clause's example
    questions in its policy file under knowledge/policies/ (comments and layout kept, then the whole
    knowledge base is validated). Give --accept the same --since, --school and --from-jsonl as the listing.
    `--accept-question "TEXT" --clause CLAUSE_ID` adds any question directly.
    """
    if accept and accept_question:
        raise click.UsageError("give either --accept ID or --accept-question TEXT, not both")
    if (accept or accept_question) and not clause_id:
        raise click.UsageError("--accept and --accept-question need --clause CLAUSE_ID")
    if clause_id and not (accept or accept_question):
        raise click.UsageError("--clause goes with --accept ID or --accept-question TEXT")
    from bot.retrieval import Retriever
    from bot.suggest import build_groups, find_group

    directory = common.knowledge_dir(ctx)
    kb = common.load_kb(ctx)
    if school is not None:
        given, school = school, kb.find_school_id(school)  # ids are case-insensitive, as for `ask`
        if school is None:
            raise click.ClickException(f"unknown school `{given}`; known: {', '.join(sorted(kb.schools))}")
    if accept_question is not None:
        assert clause_id is not None
        _accept(directory, kb, clause_id, accept_question, school, as_json, None)
        return
    source = _read(ctx, kb, since, school, from_jsonl, quiet=bool(accept))
    groups = build_groups(source.asked, Retriever(kb))
    if accept is not None:
        assert clause_id is not None
        group = find_group(groups, accept)
        if group is None:
            raise click.ClickException(
                f"no group `{accept}` among the questions from {_describe(source, school)}; "
                "list them with the same options and without --accept"
            )
        _accept(directory, kb, clause_id, group.question, group.school, as_json, group)
        return
    if as_json:
        click.echo(json.dumps(_listing_json(source, school, groups), ensure_ascii=False, indent=2))
    else:
        click.echo(_listing_text(source, school, groups), nl=False)


# -- reading --------------------------------------------------------------------------------------------------


def _read(
    ctx: click.Context, kb: KnowledgeBase, since: str, school: str | None, path: Path | None, quiet: bool
) -> _Source:
    if path is not None:
        if ctx.get_parameter_source("since") == ParameterSource.COMMANDLINE:
            click.echo(
                "note: --since applies to the log only; a JSONL file's questions carry no dates", err=True
            )
        return _read_jsonl(kb, path, school, quiet)
    return _read_log(ctx, since, school)


def _read_jsonl(kb: KnowledgeBase, path: Path, school: str | None, quiet: bool) -> _Source:
    from bot.suggest import read_jsonl

    name = "standard input" if str(path) == "-" else str(path)
    try:
        with click.open_file(str(path), encoding="utf-8-sig") as fh:
            asked, problems = read_jsonl(fh, schools=set(kb.schools), school=school)
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{name} is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot read {name}: {exc.strerror}") from exc
    skipped = tuple(f"{name}:{p.line}: {p.message}" for p in problems)
    if not quiet:
        for line in skipped:
            click.echo(f"skipped {line}", err=True)
    return _Source(name, None, asked, skipped)


def _read_log(ctx: click.Context, since: str, school: str | None) -> _Source:
    from bot.store import open_store
    from bot.suggest import from_log

    start = common.period(since)
    settings = common.settings(ctx)
    if not settings.storage:
        raise click.ClickException(
            "storage is off (POLICYBOT_STORAGE=off), so there is no log to read; use --from-jsonl FILE"
        )

    async def run():
        store = await open_store(settings)
        try:
            return await store.interactions(start, school), await store.feedback(start)
        finally:
            await store.close()

    interactions, feedback = common.run_db(run)
    asked, without_text = from_log(interactions, feedback, school)
    return _Source("log", start.isoformat(timespec="seconds"), asked, (), without_text)


# -- accepting ------------------------------------------------------------------------------------------------


def _accept(
    directory: Path,
    kb: KnowledgeBase,
    clause_id: str,
    question: str,
    school: str | None,
    as_json: bool,
    group: Group | None,
) -> None:
    from bot.errors import PolicyBotError
    from bot.suggest import EditRejected, add_example, check_clause_for_school, find_clause

    try:
        clause = find_clause(kb, clause_id)
        if school is not None:
            check_clause_for_school(kb, clause, school)
        changed = add_example(directory, clause_id, question, school=school)
    except EditRejected as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(exc.user_message) from exc
    except PolicyBotError as exc:
        raise click.ClickException(exc.user_message) from exc
    text = " ".join(question.split())
    if as_json:
        body = {
            "added": changed is not None,
            "file": str(changed) if changed else None,
            "clause": clause_id,
            "question": text,
            "group": group.id if group else None,
            "school": school,
            "next": EVAL_HINT,
        }
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    from bot.compose import cite

    citation = cite(kb, clause).citation
    if changed is None:
        click.echo(f"{text!r} is already an example question of {clause_id} ({citation}); nothing changed.")
        return
    click.echo(f"Added {text!r} as an example question of {clause_id} ({citation}) in {changed}.")
    click.echo(EVAL_HINT)
    click.echo(RELOAD_NOTE)


# -- listing --------------------------------------------------------------------------------------------------


def _describe(source: _Source, school: str | None) -> str:
    where = f"the log since {source.since}" if source.name == "log" else source.name
    return where + (f" for {school}" if school else "")


def _listing_json(source: _Source, school: str | None, groups: tuple[Group, ...]) -> dict[str, Any]:
    return {
        "source": source.name,
        "since": source.since,
        "school": school,
        "groups": [dataclasses.asdict(g) for g in groups],
        "skipped_lines": list(source.skipped),
        "without_text": source.without_text,
    }


def _listing_text(source: _Source, school: str | None, groups: tuple[Group, ...]) -> str:
    lines: list[str] = []
    if not groups:
        lines.append(f"No unanswered or down-voted questions in {_describe(source, school)}.")
    else:
        questions = sum(g.times for g in groups)
        lines += [
            f"{questions} unanswered or down-voted questions in {_describe(source, school)}, "
            f"{len(groups)} groups:",
            "",
        ]
    for g in groups:
        kinds = ", ".join(
            part
            for part in (
                f"{g.no_match} unanswered" if g.no_match else "",
                f"{g.downvoted} 👎" if g.downvoted else "",
            )
            if part
        )
        last = f", last {g.last_asked}" if g.last_asked else ""
        lines.append(f"[{g.id}] {g.school}, {g.times}× ({kinds}{last}): {g.question!r}")
        if len(g.questions) > 1 or g.questions[0].text != g.question:
            lines.append("  asked as:")
            for w in g.questions:
                lines.append(f"    {w.text!r}" + (f" ×{w.times}" if w.times > 1 else ""))
        if g.quoted:
            lines.append("  👎 answers quoted: " + ", ".join(g.quoted))
        if g.nearest:
            lines.append("  nearest clauses:")
            for n in g.nearest:
                lines.append(f"    {n.clause_id} ({n.score}): {n.citation}")
        else:
            lines.append("  nearest clauses: none share a word with this question")
        lines.append("")
    if source.without_text:
        lines.append(
            f"{source.without_text} more question(s) had no stored text (POLICYBOT_STORE_QUESTIONS=0)."
        )
    if source.skipped:
        lines.append(f"Skipped {len(source.skipped)} bad line(s) of {source.name}.")
    if groups:
        lines.append(
            "To answer a group next time: policybot kb suggest --accept ID --clause CLAUSE_ID "
            "(with the same --since, --school or --from-jsonl)."
        )
    return "\n".join(lines).rstrip() + "\n"

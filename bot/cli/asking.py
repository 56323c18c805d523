"""`policybot ask` and `policybot eval`: answers, one at a time or a question set scored.

`ask` is the command people wait on: it imports the assistant and nothing of the database or the channels, and
builds only the indexes of the school it is asked about.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli import common

if TYPE_CHECKING:
    from bot.followup import ThreadMemory

MAX_JSONL_LINE = 64 * 1024


class _AskCommand(click.Command):
    """`ask`, whose help ends with the school ids of the knowledge base it would answer from."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from bot.knowledge import check_knowledge

        super().format_epilog(ctx, formatter)
        kb_, _ = check_knowledge(common.knowledge_dir(ctx), cache=common.parse_cache(ctx))
        with formatter.section("School ids"):
            if kb_ is None:
                formatter.write_text("(the knowledge base did not load: run `policybot kb validate`)")
            else:
                formatter.write_text(", ".join(sorted(kb_.schools)) + " (any case)")


@click.command(cls=_AskCommand)
@click.option("--school", "-s", help="School id, e.g. howitt (listed below).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON answer contract.")
@click.option("--jsonl", is_flag=True, help='Answer {"school","question"} JSON lines from stdin.')
@click.argument("question", required=False)
@click.pass_context
def ask(ctx: click.Context, school: str | None, as_json: bool, jsonl: bool, question: str | None) -> None:
    """Answer QUESTION for --school, or every JSON line on stdin with --jsonl."""
    # First, since it starts loading the embedding model.
    assistant = common.assistant(ctx, one_question=None if jsonl or question is None else question)
    from bot.contract import answer_dict, error_dict
    from bot.errors import PolicyBotError

    if jsonl:
        from bot.followup import ThreadMemory

        threads = ThreadMemory(assistant)  # lines sharing a "thread" are one conversation, in input order
        for line in sys.stdin:
            click.echo(json.dumps(answer_jsonl_line(threads, line), ensure_ascii=False))
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
    common.exit_if_own_process(ctx)


def answer_jsonl_line(threads: ThreadMemory, line: str) -> dict:
    """One input line to one output object; a bad line gets an error object, never an exception.

    A line may carry `"thread"`: it is then read in the light of the earlier lines of that thread."""
    from bot.contract import answer_dict, error_dict
    from bot.errors import PolicyBotError
    from bot.followup import thread_id

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
        thread = thread_id(request.get("thread"))
        return answer_dict(threads.ask("" if question is None else question, school, thread))
    except PolicyBotError as exc:
        return error_dict(exc.user_message, school, question)


@click.command("eval")
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

    report = evaluate(common.assistant(ctx), load_cases(file))
    metrics = report.metrics
    if as_json:
        click.echo(json.dumps(metrics))
    else:
        misses = report.misses()
        for r in misses:
            got = r.response.get("clauses") or []
            first = got[0]["id"] if got else "-"
            roles = ",".join(c["role"] for c in r.response.get("contacts", []))
            click.echo(
                f"MISS {r.case.id} [{r.case.school}] {r.case.question!r}: status={r.response.get('status')} "
                f"top1={first} top3={'yes' if r.top3 else 'no'} contacts={roles}"
            )
        declined = [r.case.id for r in misses if r.response.get("status") == "no_match"]
        answered_wrongly = [r.case.id for r in misses if r.response.get("status") != "no_match"]
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

"""`policybot ask`, `--json`, `--jsonl` and `eval`, through click and through the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.conftest import REPO, SHARED

DEV_SET = SHARED / "eval" / "dev.yaml"


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, obj={})


def test_ask_prints_a_readable_answer_with_citation_and_contacts():
    result = run("ask", "--school", "rutland", "who do i tell if a colleague breaks the social media policy?")
    assert result.exit_code == 0, result.output
    assert "§7.10" in result.output and "Report to HR" in result.output
    assert "Who to contact:" in result.output and "HR (Human Resources)" in result.output


def test_ask_json_prints_the_answer_contract():
    result = run("ask", "--json", "--school", "howitt", "can i use facebook at work?")
    data = json.loads(result.output)
    assert data["status"] == "answered" and data["school"] == "howitt"
    first = data["clauses"][0]
    assert {"id", "school", "section", "heading", "text", "score"} <= set(first)
    assert {"role", "title", "name", "how"} <= set(data["contacts"][0])
    assert isinstance(data["variants"], list)


def test_jsonl_lines_sharing_a_thread_are_one_conversation_and_a_bad_thread_is_an_error_line():
    lines = [
        {"school": "reading", "question": "can i go on fb at lunch?", "thread": "t1"},
        {"school": "reading", "question": "what about on my own phone?", "thread": "t1"},
        {"school": "reading", "question": "what about on my own phone?", "thread": "t2"},
        {"school": "reading", "question": "what about on my own phone?", "thread": {"id": 1}},
        {"school": "reading", "question": "what about on my own phone?", "thread": "t" * 101},
    ]
    result = run("ask", "--jsonl", input="\n".join(json.dumps(x) for x in lines) + "\n")
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o.get("follow_up") for o in out[:3]] == [False, True, False]
    assert all(o["sensitive"] is False for o in out[:3])
    assert [o["status"] for o in out[3:]] == ["error", "error"] and "thread" in out[3]["error"]


def test_ask_unknown_school_is_a_clear_error():
    result = run("ask", "--school", "hogwarts", "hello?")
    assert result.exit_code == 1 and "Unknown school 'hogwarts'" in result.output


def test_jsonl_answers_each_line_in_order_and_bad_lines_get_their_own_error_line():
    lines = [
        {"school": "reading", "question": "can i use tiktok at lunch?"},
        {"school": "hogwarts", "question": "can i post?"},
        {"school": "reading", "question": ""},
        {"school": "reading", "question": "x" * 5000},
        "{not json",
        ["a", "list"],
        {"question": "no school"},
        {"school": "reading", "question": "How do I book a day off?"},
    ]
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    result = run("ask", "--jsonl", input=stdin)
    assert result.exit_code == 0
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o["status"] for o in out] == [
        "answered",
        "error",
        "error",
        "error",
        "error",
        "error",
        "error",
        "no_match",
    ]
    assert "Unknown school" in out[1]["error"]
    assert "too long" in out[3]["error"]
    assert out[4]["error"].startswith("invalid JSON")


def test_eval_prints_misses_and_metrics_and_fails_under_a_floor(tmp_path: Path):
    cases = tmp_path / "set.yaml"
    cases.write_text(
        "cases:\n"
        '  - {id: A, school: reading, question: "can i go on social media at lunch?",'
        ' quote_any: ["limit their use of social media"]}\n'
        '  - {id: B, school: reading, question: "can i go on social media at lunch?",'
        ' quote_any: ["text that is in no clause"]}\n'
        '  - {id: N, school: reading, question: "when is payday?", expect: no_match}\n',
        encoding="utf-8",
    )
    result = run("eval", str(cases))
    assert result.exit_code == 0
    assert "MISS B" in result.output and "MISS A" not in result.output
    assert "top1=0.500" in result.output and "no_match=1.000" in result.output
    failing = run("eval", str(cases), "--min-top1", "0.9")
    assert failing.exit_code == 1 and "below the floor for: top1" in failing.output


def test_eval_says_which_misses_were_declined_and_which_answered_wrongly(tmp_path: Path):
    cases = tmp_path / "set.yaml"
    cases.write_text(
        "cases:\n"
        '  - {id: W, school: reading, question: "can i go on social media at lunch?",'
        ' quote_any: ["text that is in no clause"]}\n'
        '  - {id: D, school: reading, question: "when is payday?", quote_any: ["text that is in no clause"]}\n',
        encoding="utf-8",
    )
    result = run("eval", str(cases))
    assert "misses declined (no_match): 1 D" in result.output
    assert "misses answered: 1 W" in result.output
    assert "false_no_match=1" in result.output


@pytest.mark.skipif(not DEV_SET.exists(), reason="shared/eval/dev.yaml is not beside this checkout")
def test_installed_console_script_answers_jsonl_from_any_folder(tmp_path: Path):
    exe = shutil.which("policybot", path=str(Path(sys.executable).parent))
    assert exe, "policybot console script is not installed"
    proc = subprocess.run(
        [exe, "ask", "--jsonl"],
        input='{"school": "wolverhampton", "question": "can i be friends with pupils on fb?"}\n',
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["status"] == "answered"
    assert "must NOT include pupils" in answer["clauses"][0]["text"]
    assert REPO.exists()


def test_ask_accepts_a_school_id_in_any_case():
    result = run("ask", "--json", "--school", "Reading", "can i use tiktok at lunch?")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["school"] == "reading"


def test_report_for_an_unknown_school_gives_the_same_error_as_ask_and_exits_non_zero():
    asked = run("ask", "--school", "narnia", "can i post?")
    reported = run("report", "--school", "narnia")
    assert reported.exit_code == asked.exit_code == 1
    assert "Unknown school 'narnia'. Known schools: crynallt, howitt" in reported.output
    assert reported.output == asked.output
    assert "No questions" not in reported.output


def test_report_accepts_a_school_id_in_any_case():
    result = run("report", "--school", "Reading")
    assert result.exit_code == 0, result.output
    assert "No questions in this period." in result.output


def test_a_decline_leaves_a_blank_line_between_its_message_and_who_to_contact():
    result = run("ask", "--school", "reading", "how do I book annual leave?")
    assert result.exit_code == 0, result.output
    message, contacts = result.output.split("\n\nWho to contact:\n")
    assert "does not cover this" in message and contacts.strip().startswith("- ")


def test_kb_validate_of_a_missing_directory_names_it():
    result = run("kb", "validate", "/nonexistent")
    assert result.exit_code == 1
    assert "knowledge directory not found: /nonexistent" in result.output
    assert "nonexistent:1:" not in result.output


def test_ask_help_lists_the_school_ids():
    result = run("ask", "--help")
    assert result.exit_code == 0
    assert "School ids:" in result.output
    assert "crynallt, howitt, reading, rutland, wolverhampton" in result.output


def test_a_jsonl_line_without_a_question_is_asked_to_type_one():
    result = run("ask", "--jsonl", input=json.dumps({"school": "reading"}) + "\n")
    assert json.loads(result.output)["error"].startswith("Please type a question")

"""`policybot kb suggest`: unanswered and 👎-voted questions grouped by similarity with their nearest clauses,
read from the log or a JSONL file; `--accept` writes a group's question into a clause's examples in its YAML
file (comments and key order kept, no duplicates, wrong clauses refused) and the assistant then answers it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from bot import Assistant, load_knowledge
from bot.cli import cli
from bot.errors import Problem
from bot.retrieval import Retriever
from bot.settings import Settings
from bot.store import Feedback, Interaction, Store, database_url_for
from bot.suggest import (
    Asked,
    EditRejected,
    SuggestError,
    add_example,
    build_groups,
    from_log,
    group_id,
    normalise_question,
    read_jsonl,
)

GLASSDOOR = "can i review the school on glassdoor"
GLASSDOOR_VARIANTS = (
    GLASSDOOR,
    "Can I review the school on Glassdoor??",
    "can i review my school on glassdoor pls",
    "could i leave a glassdoor review of my school",
)
PARENT_ON_FB = "can i add a parent on fb"
ANSWERING_CLAUSE = "howitt.6.4.b1.1"  # "must not bring the organisation into disrepute … criticising"


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, obj={})


@pytest.fixture(scope="module")
def retriever(kb) -> Retriever:
    return Retriever(kb)


# -- grouping ---------------------------------------------------------------------------------------------------


def test_chat_variants_of_one_question_group_together_and_an_unrelated_question_stays_apart(kb, retriever):
    asked = [Asked("howitt", q) for q in GLASSDOOR_VARIANTS] + [
        Asked("howitt", GLASSDOOR),
        Asked("howitt", PARENT_ON_FB, kind="downvoted", clause_id="howitt.appendix.b5"),
    ]
    groups = build_groups(asked, retriever)
    assert len(groups) == 2
    glassdoor, parent = groups
    assert glassdoor.times == 5 and glassdoor.no_match == 5 and glassdoor.downvoted == 0
    assert {w.text for w in glassdoor.questions} == set(GLASSDOOR_VARIANTS)
    assert normalise_question(glassdoor.question) == GLASSDOOR  # the wording asked most often represents it
    assert (parent.times, parent.downvoted, parent.quoted) == (1, 1, ("howitt.appendix.b5",))
    assert [w.text for w in parent.questions] == [PARENT_ON_FB]
    for g in groups:
        assert re.fullmatch(r"[0-9a-f]{8}", g.id) and g.id == group_id(
            "howitt", normalise_question(g.question)
        )
        assert 1 <= len(g.nearest) <= 3
        howitt_clauses = {c.id for c in kb.clauses_for("howitt")}
        assert all(n.clause_id in howitt_clauses and "§" in n.citation for n in g.nearest)
    # the same questions in another order give the same groups and ids
    assert build_groups(list(reversed(asked)), retriever) == groups


def test_the_same_question_from_two_schools_is_two_groups_with_each_schools_own_clauses(kb, retriever):
    question = "can i go on tiktok at lunch"
    groups = build_groups([Asked("howitt", question), Asked("crynallt", question)], retriever)
    assert sorted(g.school for g in groups) == ["crynallt", "howitt"]
    assert len({g.id for g in groups}) == 2
    for g in groups:
        own = {c.id for c in kb.clauses_for(g.school)}
        assert g.nearest and all(n.clause_id in own for n in g.nearest)
    crynallt = next(g for g in groups if g.school == "crynallt")
    assert all(n.clause_id.split(".")[0] in ("npt", "crynallt") for n in crynallt.nearest)


def test_from_log_keeps_no_match_and_down_voted_questions_only():
    day = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    rows = [
        Interaction("howitt", "web", "no_match", question="how do i book a day off", created_at=day),
        Interaction("howitt", "web", "answered", question="voted down", clause_id="howitt.5.p4", id="down"),
        Interaction("howitt", "web", "answered", question="voted up", id="up"),
        Interaction("howitt", "web", "answered", question="never voted"),
        Interaction("howitt", "web", "no_match", question=None),
        Interaction("reading", "web", "no_match", question="other school"),
    ]
    votes = [
        Feedback(False, "web", "howitt", interaction_id="down"),
        Feedback(True, "web", interaction_id="up"),
    ]
    asked, without_text = from_log(rows, votes, school="howitt")
    assert [(a.question, a.kind, a.clause_id) for a in asked] == [
        ("how do i book a day off", "no_match", None),
        ("voted down", "downvoted", "howitt.5.p4"),
    ]
    assert without_text == 1


# -- reading the log --------------------------------------------------------------------------------------------


def seed_log(data_dir: Path) -> dict[str, str]:
    """A log with no_match questions, a 👎, a 👍, a plain answer and an old question; returns their ids."""
    settings = Settings(data_dir=data_dir)
    now = dt.datetime.now(dt.UTC)
    day = now - dt.timedelta(days=1)
    down = Interaction(
        "howitt", "slack", "answered", question=PARENT_ON_FB, clause_id="howitt.appendix.b5", created_at=day
    )
    up = Interaction(
        "howitt", "slack", "answered", question="can i use facebook at work", clause_id="howitt.6.3.p1"
    )
    plain = Interaction("howitt", "web", "answered", question="can i go on tiktok at lunch", created_at=day)
    unanswered = [
        Interaction("howitt", channel, "no_match", question=q, created_at=day + dt.timedelta(minutes=n))
        for n, (channel, q) in enumerate(zip(("slack", "teams", "web"), GLASSDOOR_VARIANTS, strict=False))
    ]
    old = Interaction(
        "howitt",
        "web",
        "no_match",
        question="what is the wifi password",
        created_at=now - dt.timedelta(days=60),
    )
    reading = Interaction("reading", "web", "no_match", question="can i sell my lesson plans on tes")

    async def seed() -> None:
        store = Store(database_url_for(settings))
        await store.upgrade()
        await store.write(
            [down, up, plain, old, reading, *unanswered],
            [
                Feedback(False, "slack", "howitt", clause_id=down.clause_id, interaction_id=down.id),
                Feedback(True, "slack", "howitt", clause_id=up.clause_id, interaction_id=up.id),
            ],
        )
        await store.close()

    asyncio.run(seed())
    return {"down": down.id, "up": up.id}


def test_the_log_gives_no_match_and_down_voted_questions_but_not_up_voted_or_plain_answers(
    tmp_path, monkeypatch
):
    seed_log(tmp_path)
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path))
    result = run("kb", "suggest", "--json")
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert listing["source"] == "log" and listing["since"]
    questions = {w["text"] for g in listing["groups"] for w in g["questions"]}
    assert set(GLASSDOOR_VARIANTS[:3]) | {PARENT_ON_FB, "can i sell my lesson plans on tes"} == questions
    assert "can i use facebook at work" not in questions  # 👍
    assert "can i go on tiktok at lunch" not in questions  # answered, no vote
    assert "what is the wifi password" not in questions  # older than 30 days
    by_question = {g["question"].lower().rstrip("?"): g for g in listing["groups"]}
    glassdoor = by_question[GLASSDOOR]
    assert (glassdoor["school"], glassdoor["times"], glassdoor["no_match"]) == ("howitt", 3, 3)
    assert by_question[PARENT_ON_FB]["downvoted"] == 1
    assert by_question[PARENT_ON_FB]["quoted"] == ["howitt.appendix.b5"]
    assert all(len(g["nearest"]) <= 3 for g in listing["groups"])
    assert [g["id"] for g in listing["groups"]][0] == glassdoor["id"]  # most asked first

    wider = json.loads(run("kb", "suggest", "--json", "--since", "90d").stdout)
    assert "what is the wifi password" in {g["question"] for g in wider["groups"]}

    only_reading = run("kb", "suggest", "--school", "reading")
    assert only_reading.exit_code == 0, only_reading.output
    assert (
        "can i sell my lesson plans on tes" in only_reading.stdout and "glassdoor" not in only_reading.stdout
    )

    text = run("kb", "suggest")
    assert (
        f"[{glassdoor['id']}] howitt, 3× (3 unanswered" in text.stdout and "nearest clauses:" in text.stdout
    )
    assert "--accept ID --clause CLAUSE_ID" in text.stdout


def test_a_bad_period_or_unknown_school_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path))
    assert run("kb", "suggest", "--since", "forever").exit_code == 2
    unknown = run("kb", "suggest", "--school", "hogwarts")
    assert unknown.exit_code == 1 and "unknown school `hogwarts`" in unknown.output


# -- reading a JSONL file ---------------------------------------------------------------------------------------


def write_jsonl(path: Path, lines: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_jsonl_questions_are_grouped_and_bad_lines_reported_with_their_number_and_skipped(tmp_path):
    source = write_jsonl(
        tmp_path / "questions.jsonl",
        [
            {"school": "howitt", "question": GLASSDOOR},
            "{not json",
            {"school": "howitt", "question": GLASSDOOR_VARIANTS[1], "status": "no_match"},
            {"school": "howitt", "question": PARENT_ON_FB, "status": "answered", "helpful": False},
            {
                "school": "howitt",
                "question": "can i use facebook at work",
                "status": "answered",
                "helpful": True,
            },
            {"school": "howitt", "question": "can i go on tiktok at lunch", "status": "answered"},
            {"school": "hogwarts", "question": "can i fly"},
            {"school": "howitt", "status": "no_match"},
            {"school": "howitt", "question": "x", "status": "maybe"},
            "",
        ],
    )
    result = run("kb", "suggest", "--from-jsonl", str(source), "--json")
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert [(g["question"], g["times"]) for g in listing["groups"]] == [
        (GLASSDOOR_VARIANTS[1], 2),
        (PARENT_ON_FB, 1),
    ]
    skipped = listing["skipped_lines"]
    assert [line.split(":")[1] for line in skipped] == ["2", "7", "8", "9"]
    assert "invalid JSON" in skipped[0] and "unknown school `hogwarts`" in skipped[1]
    assert f"{source}:2: invalid JSON" in result.stderr

    asked, problems = read_jsonl(source.read_text().splitlines(), schools={"howitt"})
    assert len(asked) == 3 and [p.line for p in problems] == [2, 7, 8, 9]


# -- accepting --------------------------------------------------------------------------------------------------


def clause_keys(path: Path, clause_id: str) -> list[str]:
    data = YAML(typ="rt").load(path.read_text())
    return list(next(c for c in data["clauses"] if c["id"] == clause_id))


def test_accept_adds_the_question_to_the_clause_keeping_comments_and_order_and_the_assistant_then_answers(
    kb_copy, tmp_path
):
    policy_file = kb_copy / "policies" / "howitt.yaml"
    # A comment HR wrote, inside the very clause being edited.
    original = policy_file.read_text()
    anchor = f"  - id: {ANSWERING_CLAUSE}\n"
    assert anchor in original
    commented = original.replace(anchor, anchor + "    # HR: checked against the 2018 document\n")
    policy_file.write_text(commented)
    keys_before = clause_keys(policy_file, ANSWERING_CLAUSE)
    top_before = list(YAML(typ="rt").load(commented))

    before = Assistant(load_knowledge(kb_copy)).ask(GLASSDOOR, "howitt")
    assert before.status == "no_match" and not before.clauses

    source = write_jsonl(
        tmp_path / "q.jsonl", [{"school": "howitt", "question": q} for q in GLASSDOOR_VARIANTS[:1] * 2]
    )
    listing = json.loads(
        run("--knowledge", str(kb_copy), "kb", "suggest", "--from-jsonl", str(source), "--json").stdout
    )
    (group,) = listing["groups"]
    assert group["question"] == GLASSDOOR

    accepted = run(
        "--knowledge", str(kb_copy), "kb", "suggest", "--from-jsonl", str(source),
        "--accept", group["id"], "--clause", ANSWERING_CLAUSE,
    )  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    assert "policybot eval" in accepted.stdout and str(policy_file) in accepted.stdout

    edited = policy_file.read_text()
    assert "    # HR: checked against the 2018 document\n" in edited
    assert clause_keys(policy_file, ANSWERING_CLAUSE) == keys_before
    assert list(YAML(typ="rt").load(edited)) == top_before
    old_lines, new_lines = commented.splitlines(), edited.splitlines()
    assert len(new_lines) == len(old_lines) + 1  # one line added, nothing else touched
    added = next(i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=False)) if a != b)
    assert new_lines[added] == f'      - "{GLASSDOOR}"'
    assert new_lines[:added] + new_lines[added + 1 :] == old_lines

    clause = next(c for c in load_knowledge(kb_copy).clauses_for("howitt") if c.id == ANSWERING_CLAUSE)
    assert clause.examples[-1] == GLASSDOOR

    after = Assistant(load_knowledge(kb_copy)).ask(GLASSDOOR, "howitt")
    assert after.status == "answered" and after.clauses[0].id == ANSWERING_CLAUSE

    again = run(
        "--knowledge", str(kb_copy), "kb", "suggest", "--from-jsonl", str(source),
        "--accept", group["id"], "--clause", ANSWERING_CLAUSE,
    )  # fmt: skip
    assert again.exit_code == 0 and "already an example" in again.stdout
    assert policy_file.read_text() == edited
    assert add_example(kb_copy, ANSWERING_CLAUSE, GLASSDOOR_VARIANTS[1]) is None  # same question, other case


def test_accept_refuses_unknown_groups_unknown_clauses_and_other_schools_clauses(kb_copy, tmp_path):
    source = write_jsonl(tmp_path / "q.jsonl", [{"school": "howitt", "question": GLASSDOOR}])
    gid = group_id("howitt", GLASSDOOR)
    files = {p: p.read_bytes() for p in (kb_copy / "policies").glob("*.yaml")}

    def accept(group: str, clause: str) -> Result:
        return run(
            "--knowledge", str(kb_copy), "kb", "suggest", "--from-jsonl", str(source),
            "--accept", group, "--clause", clause,
        )  # fmt: skip

    unknown_clause = accept(gid, "howitt.99.b7")
    assert unknown_clause.exit_code == 1 and "unknown clause `howitt.99.b7`" in unknown_clause.output
    other_school = accept(gid, "reading.5.3")
    assert other_school.exit_code == 1
    assert "belongs to the `reading` policy" in other_school.output and "`howitt`" in other_school.output
    unknown_group = accept("0badc0de", ANSWERING_CLAUSE)
    assert unknown_group.exit_code == 1 and "no group `0badc0de`" in unknown_group.output
    assert {p: p.read_bytes() for p in files} == files

    with pytest.raises(SuggestError, match="does not use"):
        add_example(kb_copy, "npt.7.9.b1", GLASSDOOR, school="howitt")
    assert run("kb", "suggest", "--accept", gid).exit_code == 2  # --accept needs --clause


def test_accept_question_adds_any_question_even_to_an_empty_examples_list_before_a_comment(kb_copy):
    policy_file = kb_copy / "policies" / "howitt.yaml"
    heading = "\n  # 6.2 Access to social media for work purposes\n"
    # howitt.6.1.p7 has `examples: []`, then a blank line and the `# 6.2 …` heading of the next clause; HR
    # also left a note on the `examples` line.
    shipped = policy_file.read_text()
    assert "    examples: []\n" + heading in shipped
    original = shipped.replace("    examples: []\n" + heading, "    examples: []  # HR: none yet\n" + heading)
    policy_file.write_text(original)
    question = "where do i find more guidance, is it the appendix?"
    result = run(
        "--knowledge", str(kb_copy), "kb", "suggest", "--accept-question", question,
        "--clause", "howitt.6.1.p7", "--school", "howitt", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["added"] is True and body["file"] == str(policy_file) and "policybot eval" in body["next"]
    edited = policy_file.read_text()
    block = re.search(r'\n    examples: +# HR: none yet\n      - "(.*)"\n' + re.escape(heading), edited)
    assert block and block.group(1) == question
    assert edited.replace(block.group(0), "\n    examples: []  # HR: none yet\n" + heading, 1) == original

    # howitt.1.p3's list is followed by a blank line and the `# 2. Scope` heading: the new item goes above them.
    before_scope = original[: original.index("\n\n  # 2. Scope\n")]
    last = before_scope[before_scope.rindex("\n") + 1 :] + "\n"  # the list's last example, whatever it is
    assert last.startswith('      - "')
    assert last + "\n  # 2. Scope\n" in edited
    assert add_example(kb_copy, "howitt.1.p3", "is the policy on our side") == policy_file
    assert last + '      - "is the policy on our side"\n\n  # 2. Scope\n' in policy_file.read_text()
    refused = run(
        "--knowledge", str(kb_copy), "kb", "suggest", "--accept-question", question,
        "--clause", "reading.5.3", "--school", "howitt",
    )  # fmt: skip
    assert refused.exit_code == 1 and "does not use" in refused.output


def test_an_edit_that_does_not_validate_is_rolled_back(kb_copy, monkeypatch):
    import bot.suggest as suggest

    policy_file = kb_copy / "policies" / "howitt.yaml"
    original = policy_file.read_bytes()
    real = suggest.check_knowledge
    calls = []

    def failing_after_the_write(directory, today=None):
        calls.append(directory)
        if len(calls) == 1:
            return real(directory, today)
        return None, [Problem("knowledge/policies/howitt.yaml", 1, "broken on purpose")]

    monkeypatch.setattr(suggest, "check_knowledge", failing_after_the_write)
    with pytest.raises(EditRejected, match="restored") as caught:
        add_example(kb_copy, ANSWERING_CLAUSE, GLASSDOOR)
    assert [p.message for p in caught.value.problems] == ["broken on purpose"]
    assert policy_file.read_bytes() == original
    assert not list(policy_file.parent.glob(".*.tmp"))

    calls.clear()
    result = run(
        "--knowledge",
        str(kb_copy),
        "kb",
        "suggest",
        "--accept-question",
        GLASSDOOR,
        "--clause",
        ANSWERING_CLAUSE,
    )
    assert result.exit_code == 1 and "broken on purpose" in result.stderr and "restored" in result.output
    assert policy_file.read_bytes() == original

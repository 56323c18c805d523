"""The knowledge base: all five seed policies load, and `kb validate` names the file and line of each problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.errors import KnowledgeError, UnknownSchool
from bot.knowledge import check_knowledge, load_knowledge
from tests.conftest import CORE_ROLES as ROLES
from tests.conftest import REPO

SCHOOLS = {"howitt", "wolverhampton", "crynallt", "rutland", "reading"}


def test_all_five_schools_load_with_clause_level_policies(kb):
    assert set(kb.schools) == SCHOOLS
    for school_id in SCHOOLS:
        assert len(kb.clauses_for(school_id)) >= 45, school_id
    assert kb.clause_count >= 350


def test_every_school_has_every_contact_role_with_its_own_title_and_no_invented_people(kb):
    for school in kb.schools.values():
        assert set(school.contacts) >= ROLES, school.id
        for contact in school.contacts.values():
            assert contact.title
            assert contact.name is None and contact.email is None  # HR fill these in; we never invent people
    assert kb.schools["rutland"].contact("comms_adviser").title == "Strategic Communications Adviser"
    assert kb.schools["crynallt"].contact("comms_adviser").title == "Communications and Marketing Team"


def test_every_school_has_a_designated_safeguarding_lead_by_statute(kb):
    for school in kb.schools.values():
        dsl = school.contact("safeguarding_lead")
        assert dsl is not None, school.id
        assert (dsl.title, dsl.name) == ("Designated Safeguarding Lead (DSL)", None)


def test_contact_titles_read_inside_a_sentence_and_each_names_one_person(kb):
    for school in kb.schools.values():
        titles = {role: contact.title for role, contact in school.contacts.items()}
        for role, title in titles.items():
            assert not title.startswith(("The ", "Your ", "A ")), (
                school.id,
                title,
            )  # "please ask your manager"
            others = [t for r, t in titles.items() if r != role]
            assert not any(other.lower() in title.lower() for other in others), (school.id, title)


def test_crynallt_inherits_the_council_policy_and_adds_its_guidance_note(kb):
    policies = [p.id for p in kb.policies_for("crynallt")]
    assert policies == ["npt", "crynallt"]
    ids = {c.id for c in kb.clauses_for("crynallt")}
    assert "npt.7.1" in ids and any(i.startswith("crynallt.") for i in ids)


def test_clauses_are_clean_of_page_banners_and_keep_bullet_lead_ins(kb):
    for policy in kb.policies.values():
        for clause in policy.clauses:
            assert "NEATH PORT TALBOT COUNTY BOROUGH COUNCIL" not in clause.text
            assert "**" not in clause.text and "[bookmark" not in clause.text
    npt_5_2 = next(c for c in kb.policies["npt"].clauses if c.id == "npt.5.2")
    assert "ensure that all employees using an Authority branded social media site" in npt_5_2.text
    bullet = next(c for c in kb.policies["howitt"].clauses if c.id == "howitt.6.4.b1.1")
    assert bullet.lead_in and bullet.lead_in.startswith("Any communications that employees make")


def test_routing_follows_the_policy_text(kb):
    clause = next(c for c in kb.policies["wolverhampton"].clauses if c.id == "wolverhampton.10.5")
    assert clause.contacts[:2] == ("headteacher", "chair_of_governors")
    clause = next(c for c in kb.policies["rutland"].clauses if "Report to HR" in c.text)
    assert clause.contacts[0] == "hr_provider"


def test_unknown_school_is_a_typed_error_listing_the_known_ones(kb):
    with pytest.raises(UnknownSchool) as err:
        kb.school("hogwarts")
    assert "howitt" in err.value.user_message


def test_rutland_is_past_review_and_howitt_has_no_review_date(kb):
    warnings = [str(w) for w in kb.warnings]
    assert any("rutland" in w and "due for review in 2020-01" in w for w in warnings)
    assert any("howitt" in w and "no review date" in w for w in warnings)


def test_a_policy_whose_clauses_mostly_lack_example_questions_is_warned_about_at_the_first(kb_copy: Path):
    path = kb_copy / "policies" / "reading.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    kept, skipping = [], False
    for line in lines:  # every `examples:` block removed, as a freshly imported policy has none
        if line.strip() == "examples:":
            skipping = True
            continue
        if skipping and line.startswith("      - "):
            continue
        skipping = False
        kept.append(line)
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    kb, problems = check_knowledge(kb_copy)
    assert kb is not None  # a warning, not an error: the knowledge base still loads
    first = kb.policies["reading"].clauses[0]
    count = len(kb.policies["reading"].clauses)
    [warning] = [p for p in problems if "example questions" in p.message]
    assert (warning.file, warning.line, warning.severity) == (first.file, first.line, "warning")
    assert f"policy `reading`: {count} of {count} clauses have no example questions" in warning.message


def test_a_few_list_fragments_without_examples_are_not_warned_about(kb):
    assert [c.id for c in kb.policies["npt"].clauses if not c.examples]  # "This list is not exhaustive." etc.
    assert not [w for w in kb.warnings if "example questions" in w.message]


# -- validation: each kind of mistake HR can make is reported as file:line ----------------------------------


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def _errors(directory: Path) -> list[str]:
    kb, problems = check_knowledge(directory)
    assert kb is None
    return [str(p) for p in problems if p.severity == "error"]


def test_yaml_syntax_error_is_reported_with_its_line(kb_copy: Path):
    path = kb_copy / "policies" / "reading.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[20] = "  - id: [unclosed"
    path.write_text("\n".join(lines), encoding="utf-8")
    errors = _errors(kb_copy)
    assert len(errors) == 1
    assert errors[0].startswith("knowledge/policies/reading.yaml:2")  # PyYAML points at or just after line 21
    assert "YAML syntax error" in errors[0]


def test_duplicate_clause_id_is_reported_at_the_second_one(kb_copy: Path):
    path = kb_copy / "policies" / "reading.yaml"
    text = path.read_text(encoding="utf-8").replace("id: reading.2.2\n", "id: reading.2.1\n")
    path.write_text(text, encoding="utf-8")
    line = _line_of(path, "id: reading.2.1") + 0
    second = [n for n, ln in enumerate(text.splitlines(), 1) if "id: reading.2.1" in ln][1]
    errors = _errors(kb_copy)
    assert f"knowledge/policies/reading.yaml:{second}: duplicate clause id `reading.2.1` " in errors[0]
    assert f"first at knowledge/policies/reading.yaml:{line}" in errors[0]


def test_unknown_contact_role_is_reported(kb_copy: Path):
    path = kb_copy / "policies" / "rutland.yaml"
    text = path.read_text(encoding="utf-8")
    needle = "contacts: [hr_provider]"
    assert needle in text
    path.write_text(text.replace(needle, "contacts: [hr_wizard]", 1), encoding="utf-8")
    line = _line_of(path, "contacts: [hr_wizard]")
    assert any(
        e.startswith(f"knowledge/policies/rutland.yaml:{line}: ") and "`hr_wizard`" in e
        for e in _errors(kb_copy)
    )


def test_clause_with_empty_text_is_reported(kb_copy: Path):
    path = kb_copy / "policies" / "howitt.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip() == "- id: howitt.6.3.p1")
    text_at = next(i for i in range(start, len(lines)) if lines[i].strip().startswith("text:"))
    end = text_at + 1
    while lines[end].startswith("      "):
        end += 1
    lines[text_at:end] = ['    text: ""']
    path.write_text("\n".join(lines), encoding="utf-8")
    errors = _errors(kb_copy)
    assert errors == [f"knowledge/policies/howitt.yaml:{text_at + 1}: `text` is missing or empty"]


def test_school_without_a_needed_contact_is_reported(kb_copy: Path):
    path = kb_copy / "schools" / "reading.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(
        "\n".join(ln for ln in lines if not ln.strip().startswith("hr_provider:")), encoding="utf-8"
    )
    assert any("has no contact for role `hr_provider`" in e for e in _errors(kb_copy))


def test_load_knowledge_raises_with_every_error(kb_copy: Path):
    (kb_copy / "topics.yaml").write_text("topics: [oops", encoding="utf-8")
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(kb_copy)
    assert err.value.problems[0].file == "knowledge/topics.yaml"


def test_kb_validate_command_prints_file_line_and_exits_non_zero(kb_copy: Path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["kb", "validate", str(kb_copy)], obj={})
    assert ok.exit_code == 0, ok.output
    assert "ok: 5 schools" in ok.output
    (kb_copy / "synonyms.yaml").write_text(
        "synonyms:\n  facebook: [fb]\n  facebook: [face]\n", encoding="utf-8"
    )
    bad = runner.invoke(cli, ["kb", "validate", str(kb_copy)], obj={})
    assert bad.exit_code == 1
    assert (
        "knowledge/synonyms.yaml:3: YAML syntax error: duplicate key 'facebook' (first on line 2)"
        in bad.output
    )


@pytest.mark.parametrize("given", ["reading", "Reading", "READING", " reading "])
def test_a_school_id_is_found_whatever_its_case_or_surrounding_spaces(kb, given: str):
    assert kb.school(given).id == "reading"
    assert kb.find_school_id(given) == "reading"


def test_a_school_id_that_matches_no_school_in_any_case_is_still_unknown(kb):
    assert kb.find_school_id("Narnia") is None and kb.find_school_id(None) is None
    with pytest.raises(UnknownSchool, match="Unknown school 'Narnia'"):
        kb.school("Narnia")


def test_mistakes_in_sensitive_yaml_and_topic_flags_are_file_line_errors(kb_copy):
    from bot.knowledge import check_knowledge

    (kb_copy / "sensitive.yaml").write_text(
        "situations:\n  abuse_of_staff: not a list\nnot_sensitive: [1, 2]\n", encoding="utf-8"
    )
    topics = kb_copy / "topics.yaml"
    topics.write_text(
        topics.read_text(encoding="utf-8")
        .replace("sensitive: true}", 'sensitive: "yes"}', 1)
        .replace("leads_contacts: true, asked_with", "leads_contacts: 1, asked_with", 1)
        .replace(
            'purpose: {title: "Aims and purpose of the policy",',
            'purpose: {leads_contacts: true, title: "Aims",',
            1,
        ),
        encoding="utf-8",
    )
    kb, problems = check_knowledge(kb_copy)
    shown = [str(p) for p in problems if p.severity == "error"]
    assert kb is None
    assert any("sensitive.yaml:2:" in s and "abuse_of_staff" in s for s in shown), shown
    assert any("sensitive.yaml:3:" in s and "not_sensitive" in s for s in shown), shown
    assert any("topics.yaml" in s and "`sensitive` must be true or false" in s for s in shown), shown
    assert any("topics.yaml" in s and "`leads_contacts` must be true or false" in s for s in shown), shown
    assert any("topic `purpose`: `leads_contacts` needs `asked_with`" in s for s in shown), shown


def test_copies_of_a_policy_share_one_copy_of_each_text(tmp_path):
    import shutil

    root = tmp_path / "knowledge"
    shutil.copytree(REPO / "knowledge", root)
    original = (root / "policies" / "reading.yaml").read_text(encoding="utf-8")
    copy = original.replace("id: reading", "id: reading-copy", 1).replace("id: reading.", "id: reading-copy.")
    (root / "policies" / "reading-copy.yaml").write_text(copy, encoding="utf-8")
    kb = load_knowledge(root)
    for a, b in zip(kb.policies["reading"].clauses, kb.policies["reading-copy"].clauses, strict=True):
        assert a.text is b.text and all(x is y for x, y in zip(a.examples, b.examples, strict=True))


@pytest.mark.parametrize("given", ["who", "[who, '']", "[who, [tell]]", "{who: 1}"])
def test_asked_with_words_that_are_not_a_list_of_phrases_are_reported_with_their_line(kb_copy: Path, given):
    topics = kb_copy / "topics.yaml"
    text = topics.read_text(encoding="utf-8")
    assert "asked_with: [who, report*, tell, contact, ask]" in text
    topics.write_text(
        text.replace("asked_with: [who, report*, tell, contact, ask]", f"asked_with: {given}", 1)
    )
    line = _line_of(topics, f"asked_with: {given}")
    assert (
        f"knowledge/topics.yaml:{line}: topic `reporting_breach`: `asked_with` must be a list of words or short "
        "phrases" in _errors(kb_copy)
    )

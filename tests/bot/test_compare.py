"""`policybot kb compare`: the topic x school matrix, one topic side by side, and their text, CSV and HTML."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.compare import (
    GAP,
    NO_CLAUSE,
    TOPIC_CSV_HEADER,
    Matrix,
    UnknownTopic,
    compare_all,
    compare_page,
    compare_topic,
    render_csv,
    render_html,
    render_text,
)
from bot.knowledge import load_knowledge

TOPIC = "personal_use_at_work"
READING_CITATION = "Social Media Policy, §2.1, Personal use of social media at work"
HOWITT_CITATION = (
    "Acceptable Use of Social Media Policy, §6.3, Access to social media at work, for personal use"
)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), obj={})


def flat(text: str) -> str:
    """Text with its wrapping undone, so that assertions do not depend on where lines break."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def matrix(kb) -> Matrix:
    return compare_all(kb)


# -- the views -----------------------------------------------------------------------------------------------


def test_matrix_has_every_topic_in_order_and_every_school(kb, matrix):
    assert [r.topic_id for r in matrix.rows] == list(kb.topics)
    assert [s.id for s in matrix.schools] == list(kb.schools)
    assert all([c.school_id for c in r.cells] == list(kb.schools) for r in matrix.rows)
    assert [c.topic_id for c in matrix.comparisons] == list(kb.topics)


def test_matrix_marks_a_school_without_a_clause_on_a_topic_as_a_gap(kb, matrix):
    # Reading's policy has no aims-and-purpose section: no clause is tagged `purpose`.
    assert not any("purpose" in c.topics for c in kb.clauses_for("reading"))
    cell = matrix.cell("purpose", "reading")
    assert cell.label == GAP and not cell.covered and cell.sections == ()
    # ... and a topic only Crynallt's guidance note covers is a gap everywhere else.
    row = {
        c.school_id: c.label for c in next(r for r in matrix.rows if r.topic_id == "friends_colleagues").cells
    }
    assert row == {
        "crynallt": "crynallt: Guidance note",
        "howitt": GAP,
        "reading": GAP,
        "rutland": GAP,
        "wolverhampton": GAP,
    }


def test_matrix_cells_name_the_sections_that_cover_the_topic(matrix):
    reading = matrix.cell(TOPIC, "reading")
    assert reading.covered and reading.sections[0] == "§2.1" and reading.label.startswith("§2.1, §2.2")
    # Howitt's two §6.3 paragraphs collapse into one section, and its appendix is abbreviated.
    assert matrix.cell(TOPIC, "howitt").label == "§6.3, App."
    # A school with two documents says which document each section is in.
    assert matrix.cell(TOPIC, "crynallt").label == "npt: §7.1; crynallt: Guidance note"


def test_one_topic_sets_reading_rest_breaks_beside_howitt_no_personal_use_with_citations(kb):
    comparison = compare_topic(kb, TOPIC)
    assert [s.school_id for s in comparison.schools] == list(kb.schools)
    reading = comparison.school("reading").documents[0]
    howitt = comparison.school("howitt").documents[0]
    assert "rest breaks" in reading.note and "No personal social media" in howitt.note
    assert reading.clauses[0].citation == READING_CITATION
    assert "official rest breaks such as lunch breaks" in reading.clauses[0].text
    assert howitt.clauses[0].citation == HOWITT_CITATION
    assert "not allowed to access social media websites for personal use" in howitt.clauses[0].text

    text = flat(render_text(comparison))
    for needle in (
        reading.note,
        READING_CITATION,
        "Employees must limit their use of social media to their official rest breaks such as lunch breaks.",
        howitt.note,
        HOWITT_CITATION,
        "Employees are not allowed to access social media websites for personal use",
    ):
        assert needle in text
    assert text.index("Howitt Primary") < text.index("A Reading Borough Council school")


def test_crynallt_shows_the_council_policy_and_its_guidance_note(kb):
    crynallt = compare_topic(kb, TOPIC).school("crynallt")
    assert [d.document.id for d in crynallt.documents] == ["npt", "crynallt"]
    assert all(d.note and d.clauses for d in crynallt.documents)
    text = flat(render_text(compare_topic(kb, TOPIC)))
    assert "Social Media Policy — Neath Port Talbot County Borough Council [npt]" in text
    assert "Guidance Note for Schools — Neath Port Talbot County Borough Council [crynallt]" in text
    assert "Social Media Policy, §7.1, Personal Use of Social Media" in text


def test_a_school_with_no_clause_on_the_topic_says_no_clause(kb):
    comparison = compare_topic(kb, "purpose")
    reading = comparison.school("reading")
    assert not reading.has_clause
    block = render_text(comparison).split("A Reading Borough Council school (reading)\n", 1)[1]
    assert block.split("\n\n", 1)[0].strip() == NO_CLAUSE
    # A document with a rule but no clause tagged with the topic keeps its rule and says so.
    rutland = compare_topic(kb, "safeguarding").school("rutland")
    assert rutland.documents[0].note and not rutland.has_clause
    assert (
        f"{NO_CLAUSE}"
        in render_text(compare_topic(kb, "safeguarding")).split("(rutland)")[1].split("\n\n")[0]
    )


def test_unknown_topic_raises_with_the_known_ids(kb):
    with pytest.raises(UnknownTopic) as info:
        compare_topic(kb, "personal_use")
    assert "personal_use_at_work" in info.value.user_message and "Did you mean" in info.value.user_message
    with pytest.raises(UnknownTopic):
        compare_page(kb, "nope")


# -- text ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [100, 140])
def test_text_matrix_is_a_wrapped_table_within_the_width(matrix, width):
    lines = render_text(matrix, width).splitlines()
    assert max(len(line) for line in lines) <= width
    header = next(line for line in lines if line.startswith("topic "))
    assert header.split() == ["topic", "crynallt", "howitt", "reading", "rutland", "wolverhampton"]
    purpose = next(line for line in lines if line.startswith("purpose "))
    column = header.index("reading")
    assert purpose[column:].startswith(f"{GAP} ")  # Reading has no clause on the policy's purpose
    assert purpose[header.index("howitt") :].startswith("§1 ")


@pytest.mark.parametrize("width", [40, 60, 80])
def test_text_matrix_on_a_narrow_terminal_lists_each_topics_schools(matrix, width):
    lines = render_text(matrix, width).splitlines()
    assert max(len(line) for line in lines) <= width
    at = lines.index("purpose: Aims and purpose of the policy")
    assert lines[at + 3].split() == ["reading", GAP]
    assert "topic" not in [line.split()[0] for line in lines if line.strip()]


# -- csv -----------------------------------------------------------------------------------------------------


def test_matrix_csv_is_a_topic_by_school_table(kb, matrix):
    rows = list(csv.reader(io.StringIO(render_csv(matrix))))
    assert rows[0] == ["topic_id", "topic", *kb.schools]
    assert [r[0] for r in rows[1:]] == list(kb.topics)
    assert {len(r) for r in rows} == {2 + len(kb.schools)}
    table = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert table["purpose"]["reading"] == GAP
    assert table[TOPIC]["howitt"] == "§6.3, App."
    assert table[TOPIC]["topic"] == kb.topics[TOPIC].title


def test_topic_csv_has_one_row_per_clause_and_a_no_clause_row(kb):
    rows = list(csv.DictReader(io.StringIO(render_csv(compare_topic(kb, TOPIC)))))
    clauses = [c for s in kb.schools for c in kb.clauses_for(s) if TOPIC in c.topics]
    assert len(rows) == len(clauses)
    assert list(rows[0]) == list(TOPIC_CSV_HEADER)
    reading = next(r for r in rows if r["clause_id"] == "reading.2.1")
    assert reading["citation"] == READING_CITATION and "rest breaks" in reading["rule"]
    assert reading["section"] == "2.1" and "lunch breaks" in reading["text"]
    assert {r["policy_id"] for r in rows if r["school_id"] == "crynallt"} == {"npt", "crynallt"}

    gaps = list(csv.DictReader(io.StringIO(render_csv(compare_topic(kb, "purpose")))))
    assert [(r["school_id"], r["citation"], r["clause_id"]) for r in gaps if r["school_id"] == "reading"] == [
        ("reading", NO_CLAUSE, "")
    ]
    assert {r["school_id"] for r in gaps} == set(kb.schools)


# -- html ----------------------------------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(values["id"])
        if "href" in values:
            self.hrefs.append(values["href"] or "")
        if "src" in values:
            self.srcs.append(values["src"] or "")


def parse(page: str) -> _Links:
    parser = _Links()
    parser.feed(page)
    parser.close()
    return parser


def assert_self_contained(page: str) -> _Links:
    assert (
        page.startswith("<!DOCTYPE html>") and page.count("<html") == 1 and page.rstrip().endswith("</html>")
    )
    links = parse(page)
    assert links.tags.count("html") == 1 and links.tags.count("body") == 1
    assert "script" not in links.tags and "link" not in links.tags and links.srcs == []
    assert not re.search(r"""(?:href|src)\s*=\s*["']?\s*(?:https?:|//)""", page, re.I)
    assert "<style>" in page
    assert all(h.startswith("#") for h in links.hrefs)
    assert len(links.ids) == len(set(links.ids)), "anchors must be unique"
    assert {h[1:] for h in links.hrefs} <= set(links.ids), "every in-page link has its anchor"
    return links


def test_matrix_html_is_one_page_linking_each_cell_to_the_topic_sections(kb, matrix):
    page = compare_page(kb, None)
    assert page == render_html(matrix)
    links = assert_self_contained(page)
    assert {f"topic-{t}" for t in kb.topics} <= set(links.ids)
    assert (
        "#topic-personal_use_at_work--reading" in links.hrefs and "#topic-personal_use_at_work" in links.hrefs
    )
    assert ">§2.1, §2.2, §4.1</a>" in page
    assert page.count('class="gap"') >= 1 and f'<td class="gap">{GAP}</td>' in page
    for school in kb.schools.values():
        assert school.name in page


def test_topic_html_is_just_that_topics_section(kb):
    page = compare_page(kb, TOPIC)
    links = assert_self_contained(page)
    assert "topic-personal_use_at_work" in links.ids and "topic-purpose" not in links.ids
    assert page.count('<section class="topic"') == 1 and 'id="matrix"' not in page
    assert "Social Media Policy, §2.1, Personal use of social media at work" in page
    assert "Guidance Note for Schools" in page and "Neath Port Talbot" in page


def test_html_escapes_knowledge_text(kb_copy: Path):
    policy = kb_copy / "policies" / "reading.yaml"
    lines = policy.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"  {TOPIC}: "))
    lines[at] = f'  {TOPIC}: "Rest <b>& breaks"'
    policy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kb = load_knowledge(kb_copy)
    assert kb.policies["reading"].topic_notes[TOPIC] == "Rest <b>& breaks"

    for page in (compare_page(kb, TOPIC), compare_page(kb, None)):
        assert "Rest &lt;b&gt;&amp; breaks" in page and "<b>" not in page
        assert_self_contained(page)
    assert "Rest <b>& breaks" in render_text(compare_topic(kb, TOPIC))

    result = run("--knowledge", str(kb_copy), "kb", "compare", "--html", TOPIC)
    assert result.exit_code == 0, result.output
    assert "Rest &lt;b&gt;&amp; breaks" in result.output


# -- the command ---------------------------------------------------------------------------------------------


def test_kb_compare_prints_the_matrix_as_text_by_default():
    result = run("kb", "compare", "--width", "120")
    assert result.exit_code == 0, result.output
    assert "personal_use_at_work" in result.output and "§6.3, App." in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 120


def test_kb_compare_topic_prints_the_rules_side_by_side():
    result = run("kb", "compare", TOPIC)
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert READING_CITATION in text and HOWITT_CITATION in text and "[npt]" in text and "[crynallt]" in text


def test_kb_compare_csv_and_html(kb):
    matrix_csv = run("kb", "compare", "--csv")
    assert matrix_csv.exit_code == 0
    assert list(csv.reader(io.StringIO(matrix_csv.output)))[0] == ["topic_id", "topic", *kb.schools]
    topic_csv = run("kb", "compare", "--csv", TOPIC)
    assert list(csv.reader(io.StringIO(topic_csv.output)))[0] == list(TOPIC_CSV_HEADER)
    html_page = run("kb", "compare", "--html")
    assert html_page.exit_code == 0 and html_page.output == compare_page(kb, None)


def test_kb_compare_writes_a_file(tmp_path: Path, kb):
    target = tmp_path / "compare.html"
    result = run("kb", "compare", "--html", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == compare_page(kb, None)
    sheet = tmp_path / "compare.csv"
    assert run("kb", "compare", "--csv", "-o", str(sheet)).exit_code == 0
    rows = list(csv.reader(io.StringIO(sheet.read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "topic_id" and len(rows) == len(kb.topics) + 1


def test_kb_compare_unknown_topic_exits_non_zero_naming_the_known_topics(kb):
    result = run("kb", "compare", "hogwarts")
    assert result.exit_code != 0
    assert "Unknown topic 'hogwarts'" in result.output
    assert all(t in result.output for t in kb.topics)

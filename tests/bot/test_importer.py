"""`policybot kb import`: drafts from the five seed policies keep the curated clauses; Word and PDF input; the CLI.

The seed test is the importer's yardstick: after the same normalisation on both sides, each curated clause's
text must be contained in one draft clause's text, for at least 90% of the curated clauses of every seed.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import cli
from bot.importer import (
    Block,
    DraftPolicy,
    DraftRejected,
    PolicyImportError,
    check_policy_id,
    clean_inline,
    import_policy,
    parse_document,
    read_document,
    render_yaml,
    summary_lines,
    write_draft,
)
from bot.knowledge import check_knowledge, load_knowledge
from tests.conftest import KNOWLEDGE, SHARED

# `policybot kb import` as registered, wherever the CLI package defines it.
import_command = cli.commands["kb"].commands["import"]  # type: ignore[attr-defined]
SEEDS = SHARED / "seeds"
SEED_POLICIES = {
    "howitt-primary-derbyshire-2018.txt": ("howitt",),
    "wolverhampton-connected-2022.txt": ("wolverhampton",),
    "neath-port-talbot-crynallt.txt": ("npt", "crynallt"),
    "rutland-county-council-2017.txt": ("rutland",),
    "reading-borough-school.txt": ("reading",),
}
MIN_RECALL = 0.90
BANNERS = ("NEATH PORT TALBOT COUNTY BOROUGH COUNCIL", "CYNGOR BWRDEISTREF SIROL CASTELL NEDD PORT TALBOT")


def seed(name: str) -> Path:
    path = SEEDS / name
    if not path.exists():
        pytest.skip(f"seed policy {path} is not present (the shared seeds live in ../shared/seeds)")
    return path


def normalise(text: str) -> str:
    """Lower case, one space between words, no `*`, straight or curly quotes: the brief's comparison."""
    return " ".join(re.sub(r"[*'\"‘’“”]", "", text.lower()).split())


def curated_texts(policy_ids: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for pid in policy_ids:
        data = yaml.safe_load((KNOWLEDGE / "policies" / f"{pid}.yaml").read_text(encoding="utf-8"))
        out.extend((c["id"], c["text"]) for c in data["clauses"])
    return out


def recall(draft: DraftPolicy, curated: list[tuple[str, str]]) -> tuple[float, list[str]]:
    """Share of curated clauses whose normalised text is inside one draft clause's normalised text."""
    texts = [normalise(c.text) for c in draft.clauses]
    missed = [cid for cid, text in curated if not any(normalise(text) in t for t in texts)]
    return 1 - len(missed) / len(curated), missed


# -- the five seeds --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed_name", sorted(SEED_POLICIES))
def test_draft_from_each_seed_keeps_at_least_90_percent_of_the_curated_clauses(seed_name: str):
    draft = import_policy(seed(seed_name), SEED_POLICIES[seed_name][0])
    curated = curated_texts(SEED_POLICIES[seed_name])
    figure, missed = recall(draft, curated)
    print(
        f"\n{seed_name}: {figure:.1%} of {len(curated)} curated clauses "
        f"({'+'.join(SEED_POLICIES[seed_name])}) found in {len(draft.clauses)} draft clauses"
    )
    assert figure >= MIN_RECALL, f"recall {figure:.1%} < {MIN_RECALL:.0%}; missed {missed}"


def test_the_recall_measure_fails_a_draft_that_is_not_the_curated_policy():
    draft = import_policy(seed("reading-borough-school.txt"), "reading")
    figure, _ = recall(draft, curated_texts(("howitt",)))
    assert figure < 0.2


def contents_lines(text: str) -> list[str]:
    """The seed's contents-table rows, found independently of the importer: tab-separated rows that end in a
    page number or start with "Paragraph N" / "Appendix X"."""
    rows = []
    for line in text.splitlines():
        line = re.sub(r"</?i>", "", line).strip()
        if re.search(r"\t\s*\d{1,3}$", line) or re.match(r"^(Paragraph \d+|Appendix \w+)\t", line):
            rows.append(" ".join(line.split()))
    return rows


@pytest.mark.parametrize("seed_name", sorted(SEED_POLICIES))
def test_no_draft_clause_carries_a_page_banner_contents_row_form_or_markup(seed_name: str):
    path = seed(seed_name)
    draft = import_policy(path, "x")
    rows = contents_lines(path.read_text(encoding="utf-8"))
    for clause in draft.clauses:
        for text in (clause.text, clause.lead_in or "", clause.heading or ""):
            assert not any(b in text for b in BANNERS), clause.id
            assert not any(row in text for row in rows), (clause.id, text)
            assert "**" not in text and "[bookmark" not in text and "](" not in text, (clause.id, text)
            assert not re.search(r"print name|Employees Declaration|^Signed:|Witnessed:", text, re.I), (
                clause.id
            )
    if seed_name == "neath-port-talbot-crynallt.txt":
        assert len(rows) >= 10  # the contents table really was there to leave out
        assert dict(draft.skipped)["running page banners"] >= 8


def test_sentences_cut_by_a_page_banner_or_a_blank_line_are_joined():
    npt = {c.id: c.text for c in import_policy(seed("neath-port-talbot-crynallt.txt"), "npt").clauses}
    assert (
        "It is a key responsibility to ensure that all employees using an Authority branded" in npt["npt.5.2"]
    )
    assert "Directorate Management" in npt["npt.7.1"] and "with the policies contained" in npt["npt.7.1"]
    wolves = {c.id: c for c in import_policy(seed("wolverhampton-connected-2022.txt"), "w").clauses}
    assert "personal capacity, may amount to gross misconduct" in wolves["w.10.4"].text
    assert wolves["w.10.4.b1"].section == "10.4(a)"
    assert wolves["w.10.4.b1"].lead_in == wolves["w.10.4"].text


def test_structure_of_a_seed_follows_the_curated_conventions():
    clauses = {c.id: c for c in import_policy(seed("howitt-primary-derbyshire-2018.txt"), "howitt").clauses}
    nested = clauses["howitt.6.4.b1.1"]
    assert nested.section == "6.4" and nested.heading == "Key Principles"
    assert nested.lead_in == (
        "Any communications that employees make through social media must not: "
        "Bring the organisation into disrepute, for example by:"
    )
    assert (
        clauses["howitt.6.4.b1"].lead_in
        == "Any communications that employees make through social media must not:"
    )
    assert clauses["howitt.3"].text.startswith("The social media policy will not apply")
    assert clauses["howitt.appendix.b13"].section == "Appendix"
    npt = {c.id: c for c in import_policy(seed("neath-port-talbot-crynallt.txt"), "npt").clauses}
    assert npt["npt.appendix_a.1.2"].section == "Appendix A 1.2"  # named in the contents table
    assert npt["npt.appendix_a.1.2"].text.startswith("To set up a new social media account: A business case")
    assert [npt[f"npt.7.9.b{i}"].text for i in (3, 4)] == ["Bullying & Harassment", "Grievance"]


def test_metadata_is_detected_where_the_document_states_it():
    rutland = import_policy(seed("rutland-county-council-2017.txt"), "rutland")
    assert (rutland.title, rutland.issuer) == ("Social Media Policy", "Rutland County Council")
    assert (rutland.date, rutland.version, rutland.review_date) == ("2017-01", "Version 2", "2020-01")
    howitt = import_policy(seed("howitt-primary-derbyshire-2018.txt"), "howitt")
    assert (howitt.title, howitt.date, howitt.review_date) == (
        "Acceptable Use of Social Media Policy",
        "2018-01",
        None,
    )
    reading = import_policy(seed("reading-borough-school.txt"), "reading")
    assert reading.title is None and reading.date is None
    assert any("no title" in w for w in reading.warnings)
    assert (
        import_policy(seed("reading-borough-school.txt"), "reading", title="Social Media").title
        == "Social Media"
    )


# -- Word and PDF ----------------------------------------------------------------------------------------------

HEADING_LINE = re.compile(r"^\s*(?:\[bookmark:[^\]]*\])?\s*(\d+)\.\s+(\S.*?)\s*$")
BULLET_LINE = re.compile(r"^\s*·\s+(.*?)\s*$")


def docx_from_seed(text: str, target: Path, numbers_in_headings: bool) -> Path:
    import docx

    document = docx.Document()
    for line in text.splitlines():
        if not line.strip():
            continue
        if m := HEADING_LINE.match(line):
            title = f"{m.group(1)}. {m.group(2)}" if numbers_in_headings else m.group(2)
            document.add_paragraph(title, style="Heading 1")
        elif m := BULLET_LINE.match(line):
            document.add_paragraph(m.group(1), style="List Bullet")
        else:
            document.add_paragraph(line.strip())
    document.save(str(target))
    return target


@pytest.mark.parametrize("numbers_in_headings", [True, False], ids=["typed-numbers", "word-numbering"])
def test_a_word_document_imports_to_the_same_clauses_as_its_text(tmp_path: Path, numbers_in_headings: bool):
    path = seed("reading-borough-school.txt")
    as_text = import_policy(path, "reading")
    as_word = import_policy(
        docx_from_seed(path.read_text(encoding="utf-8"), tmp_path / "reading.docx", numbers_in_headings),
        "reading",
    )
    assert [normalise(c.text) for c in as_word.clauses] == [normalise(c.text) for c in as_text.clauses]
    assert [(c.id, c.section, c.lead_in) for c in as_word.clauses] == [
        (c.id, c.section, c.lead_in) for c in as_text.clauses
    ]
    styles = {b.style for b in read_document(tmp_path / "reading.docx")}
    assert {"Heading 1", "List Bullet"} <= styles


def test_word_tables_come_through_as_rows(tmp_path: Path):
    import docx

    document = docx.Document()
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Next Review Date", "January 2025"
    table.cell(1, 0).text, table.cell(1, 1).text = "Version", "3"
    document.add_paragraph("Staff Policy", style="Title")
    document.add_paragraph("1. Scope", style="Heading 1")
    document.add_paragraph("1.1 This policy applies to all staff.")
    document.save(str(tmp_path / "p.docx"))
    blocks = read_document(tmp_path / "p.docx")
    assert Block("table_row", "Next Review Date\tJanuary 2025") in blocks
    draft = import_policy(tmp_path / "p.docx", "p")
    assert (draft.review_date, draft.version, draft.title) == ("2025-01", "Version 3", "Staff Policy")
    assert [(c.id, c.text) for c in draft.clauses] == [("p.1.1", "This policy applies to all staff.")]


def pdf_bytes(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF: one Helvetica text object per page, one line per string."""

    def escape(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (" ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages))).encode(), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, lines in enumerate(pages):
        stream = (
            "BT /F1 10 Tf 14 TL 50 800 Td " + " ".join(f"({escape(t)}) Tj T*" for t in lines) + " ET"
        ).encode("cp1252")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_a_pdf_imports_with_banners_and_page_numbers_dropped_and_cut_sentences_joined(tmp_path: Path):
    banner = "NEATH PORT TALBOT COUNTY BOROUGH COUNCIL"
    pages = [
        [banner, "Social Media Policy", "1. Introduction", "1.1 Staff must not post photos of pupils (or their",
         "families) on personal accounts.", "1.2 The policy applies to all staff and it is the duty of every",
         "Page 1 of 2"],
        [banner, "manager to ensure compliance.", "2. Personal use", "2.1 Staff must not:",
         "- accept friend requests from pupils;", "- use school logos.", "Page 2 of 2"],
    ]  # fmt: skip
    path = tmp_path / "policy.pdf"
    path.write_bytes(pdf_bytes(pages))
    blocks = read_document(path)
    assert Block("line", "1. Introduction") in blocks and Block("page_break", "") in blocks
    draft = import_policy(path, "x")
    assert [(c.id, c.section, c.heading, c.lead_in, c.text) for c in draft.clauses] == [
        ("x.1.1", "1.1", "Introduction", None, "Staff must not post photos of pupils (or their families) on personal accounts."),
        ("x.1.2", "1.2", "Introduction", None, "The policy applies to all staff and it is the duty of every manager to ensure compliance."),
        ("x.2.1", "2.1", "Personal use", None, "Staff must not:"),
        ("x.2.1.b1", "2.1", "Personal use", "Staff must not:", "accept friend requests from pupils;"),
        ("x.2.1.b2", "2.1", "Personal use", "Staff must not:", "use school logos."),
    ]  # fmt: skip
    assert draft.title == "Social Media Policy"


def test_unreadable_or_unsupported_files_are_clear_errors(tmp_path: Path):
    (tmp_path / "p.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(PolicyImportError, match=r"save it as \.docx"):
        read_document(tmp_path / "p.doc")
    (tmp_path / "broken.pdf").write_bytes(b"not a pdf")
    with pytest.raises(PolicyImportError, match="cannot read broken.pdf"):
        read_document(tmp_path / "broken.pdf")
    (tmp_path / "cp1252.txt").write_bytes("1. Scope\n\n1.1 The school’s staff.\n".encode("cp1252"))
    assert import_policy(tmp_path / "cp1252.txt", "s").clauses[0].text == "The school’s staff."


# -- the parser on small documents -------------------------------------------------------------------------------


def parse(text: str, pid: str = "t") -> DraftPolicy:
    return parse_document([Block("line", line) for line in text.splitlines()], pid)


def test_markup_and_bookmarks_are_stripped_but_words_kept():
    assert clean_inline(" [bookmark: _Toc1]1. \tScope ") == " 1. \tScope"
    assert clean_inline("- **Bold:** text and *the Code*.") == "- Bold: text and the Code."
    assert clean_inline("- [Anti -Bullying Policy](#)") == "- Anti -Bullying Policy"
    assert (
        clean_inline(r"see [guidance \(gov.uk\)](https://x.example/a_(b).pdf).") == "see guidance (gov.uk)."
    )
    assert (
        clean_inline("images that are inappropriate* or links") == "images that are inappropriate* or links"
    )


def test_markdown_headings_nested_bullets_and_paragraphs_under_a_heading():
    draft = parse(
        "# Staff Social Media Policy\n\n## 1. Conduct\n\nStaff must not:\n\n"
        "* post about pupils, for example by:\n    * sharing photos;\n    * naming them.\n"
        "* criticise colleagues.\n\nBreaches may lead to disciplinary action.\n\n"
        "## Guidance for staff\n\nCheck your privacy settings.\n"
    )
    got = [(c.id, c.section, c.heading, c.lead_in, c.text) for c in draft.clauses]
    assert got == [
        ("t.1.p1", "1", "Conduct", None, "Staff must not:"),
        ("t.1.b1", "1", "Conduct", "Staff must not:", "post about pupils, for example by:"),
        ("t.1.b1.1", "1", "Conduct", "Staff must not: post about pupils, for example by:", "sharing photos;"),
        ("t.1.b1.2", "1", "Conduct", "Staff must not: post about pupils, for example by:", "naming them."),
        ("t.1.b2", "1", "Conduct", "Staff must not:", "criticise colleagues."),
        ("t.1.p2", "1", "Conduct", None, "Breaches may lead to disciplinary action."),
        (
            "t.guidance_staff",
            "Guidance for staff",
            "Guidance for staff",
            None,
            "Check your privacy settings.",
        ),
    ]
    assert draft.title == "Staff Social Media Policy"


def test_lettered_items_all_caps_headings_and_zero_point_numbers():
    draft = parse(
        "1.0 INTRODUCTION\n\n1.1 The following are banned (this list is not exhaustive):\n\n"
        "(a) hate speech;\n(b) threats.\n\n2.0 REVIEW\n\n2.1 Reviewed yearly.\n"
    )
    got = [(c.id, c.section, c.heading, c.lead_in, c.text) for c in draft.clauses]
    lead = "The following are banned (this list is not exhaustive):"
    assert got == [
        ("t.1.1", "1.1", "Introduction", None, lead),
        ("t.1.1.b1", "1.1(a)", "Introduction", lead, "hate speech;"),
        ("t.1.1.b2", "1.1(b)", "Introduction", lead, "threats."),
        ("t.2.1", "2.1", "Review", None, "Reviewed yearly."),
    ]


def test_a_part_after_the_body_with_its_own_numbering_is_named_by_its_heading():
    draft = parse(
        "1. Scope\n\n1.1 All staff.\n\n2. Review\n\n2.1 Yearly.\n\n"
        "Procedure for Authorised Users\n\n1.1 Ask the comms team first.\n1.2 Use a work email address.\n"
    )
    got = [(c.id, c.section, c.heading) for c in draft.clauses[2:]]
    assert got == [
        (
            "t.procedure_authorised.1.1",
            "Procedure for Authorised Users 1.1",
            "Procedure for Authorised Users",
        ),
        (
            "t.procedure_authorised.1.2",
            "Procedure for Authorised Users 1.2",
            "Procedure for Authorised Users",
        ),
    ]
    assert not any("numbering" in w for w in draft.warnings)  # its own numbering, not a step back in the body


def test_warnings_name_numbering_gaps_long_clauses_and_text_it_could_not_place():
    long_text = "Staff must take care. " * 80
    draft = parse(
        f"Some stray words here, with no heading above.\n\n1. Scope\n\n1.1 {long_text}\n\n1.4 Later.\n\n3. End\n\n3.1 Done.\n"
    )
    warnings = "\n".join(draft.warnings)
    assert "1.2 to 1.3 missing before 1.4" in warnings
    assert "2 missing before 3" in warnings
    assert re.search(r"clause t\.1\.1 is \d{4} characters", warnings)
    assert "could not place text before any heading: 'Some stray words here" in warnings
    assert all(not c.text.startswith("Some stray") for c in draft.clauses)
    summary = "\n".join(summary_lines(draft))
    assert "3 draft clauses in 2 sections" in summary and "warning: " in summary


def test_a_heading_that_mentions_a_declaration_is_kept_unless_a_form_follows():
    kept = parse("1. Declaration of Interests\n\nStaff must declare any business interest.\n")
    assert [c.text for c in kept.clauses] == ["Staff must declare any business interest."]
    form = parse(
        "1. Scope\n\n1.1 All staff.\n\nEmployee Declaration\n\nI (print name in full) ..........\n\n"
        "- I have read it;\n\nSigned:\n\nDate:\n"
    )
    assert [c.text for c in form.clauses] == ["All staff."]
    assert dict(form.skipped)["declaration form"] >= 4


def test_a_contents_table_without_page_numbers_is_left_out():
    draft = parse(
        "Contents\n\n1. Scope\n2. Conduct\n\n1. Scope\n\n1.1 All staff.\n\n2. Conduct\n\n2.1 Be kind.\n"
    )
    assert [(c.id, c.heading) for c in draft.clauses] == [("t.1.1", "Scope"), ("t.2.1", "Conduct")]
    assert draft.warnings == ("no title found in the document: give --name or fill in `title:`",
                              "no issuer (the council or body that wrote the policy) found: fill in `issuer:`")  # fmt: skip


# -- YAML and writing ----------------------------------------------------------------------------------------------


def test_the_yaml_has_the_schema_keys_and_reads_back_as_written():
    draft = import_policy(seed("wolverhampton-connected-2022.txt"), "wolverhampton")
    data = yaml.safe_load(render_yaml(draft))
    assert set(data) == {"policy", "topic_notes", "clauses"}
    assert set(data["policy"]) == {"id", "title", "issuer", "date", "version", "review_date", "source"}
    assert data["policy"]["source"] == "wolverhampton-connected-2022.txt"
    for clause, item in zip(draft.clauses, data["clauses"], strict=True):
        assert set(item) == {"id", "section", "heading", "lead_in", "text", "topics", "contacts", "examples"}
        assert (item["id"], item["text"], item["lead_in"]) == (clause.id, clause.text, clause.lead_in)
        assert item["topics"] == item["contacts"] == item["examples"] == []
    assert len({c["id"] for c in data["clauses"]}) == len(data["clauses"])
    assert (
        max(len(line) for line in render_yaml(draft).splitlines() if not line.lstrip().startswith('"')) <= 140
    )


def test_write_draft_is_atomic_and_never_overwrites_without_force(tmp_path: Path):
    (tmp_path / "policies").mkdir()
    draft = parse("1. Scope\n\n1.1 All staff.\n", "school-1")
    target = write_draft(draft, tmp_path)
    assert target == tmp_path / "policies" / "school-1.yaml"
    before = target.read_bytes()
    with pytest.raises(PolicyImportError, match="already exists"):
        write_draft(parse("1. Scope\n\n1.1 Changed.\n", "school-1"), tmp_path)
    assert target.read_bytes() == before
    write_draft(parse("1. Scope\n\n1.1 Changed.\n", "school-1"), tmp_path, force=True)
    assert "Changed." in target.read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "policies").iterdir()) == [
        "school-1.yaml"
    ]  # no temp files left


def test_the_draft_keeps_the_hints_a_reviewer_relies_on():
    draft = parse(
        "1. Scope\n\n1.1 All staff.\n\n2. Conduct\n\n2.1 " + "Staff must take care online. " * 8 + "\n",
        "school-1",
    )
    text = render_yaml(draft, today=dt.date(2026, 1, 2))
    assert text.splitlines()[:3] == [
        "# DRAFT imported from a document by `policybot kb import` on 2026-01-02.",
        "# HR: check every clause against the document, fill in topics, contacts, examples and topic_notes,",
        "# then run `policybot kb validate`. Remove this comment when the file is reviewed.",
    ]
    assert "clauses:\n  # 1. Scope\n  - id: school-1.1.1\n" in text
    assert "    examples: []\n  # 2. Conduct\n  - id: school-1.2.1\n" in text
    assert "    text: >-\n      Staff must take care online." in text  # too long for a line: folded
    assert '    text: "All staff."\n' in text and "    lead_in: null\n" in text


def test_the_importers_draft_loads_and_validates(kb_copy: Path):
    draft = import_policy(seed("rutland-county-council-2017.txt"), "oakham")
    target = write_draft(draft, kb_copy)
    kb, problems = check_knowledge(kb_copy)
    assert kb is not None, [str(p) for p in problems if p.severity == "error"]
    policy = kb.policies["oakham"]
    assert [(c.id, c.text, c.lead_in) for c in policy.clauses] == [
        (c.id, c.text, c.lead_in) for c in draft.clauses
    ]
    assert (policy.title, policy.issuer) == (draft.title, draft.issuer)
    assert not [p for p in problems if p.severity == "error" and "oakham" in p.file]
    assert target.stat().st_mode & 0o777 != 0o600  # not left private like the temporary file it was


def test_a_draft_that_would_break_the_knowledge_base_is_not_kept(kb_copy: Path):
    draft = parse("1. Scope\n\n1.1 All staff.\n", "school-1")
    target = kb_copy / "policies" / "school-1.yaml"
    with pytest.raises(DraftRejected, match="the new file was removed") as caught:
        write_draft(draft, kb_copy, text="policy: [unclosed\n")
    assert caught.value.problems and not target.exists()
    howitt = kb_copy / "policies" / "howitt.yaml"
    original = howitt.read_bytes()
    with pytest.raises(DraftRejected, match="restored unchanged"):
        write_draft(parse("1. Scope\n\n1.1 All staff.\n", "howitt"), kb_copy, force=True, text="policy: [\n")
    assert howitt.read_bytes() == original
    assert not list(howitt.parent.glob(".*.tmp"))


def test_a_draft_without_a_title_or_issuer_is_written_for_hr_to_fill_them_in(kb_copy: Path):
    draft = parse("1. Scope\n\n1.1 All staff.\n", "school-1")
    assert draft.title is None and draft.issuer is None
    target = write_draft(draft, kb_copy)
    kb, problems = check_knowledge(kb_copy)
    errors = [p.message for p in problems if p.severity == "error"]
    assert kb is None and errors == ["`title` is missing or empty", "`issuer` is missing or empty"]
    assert all(p.file.endswith("policies/school-1.yaml") for p in problems if p.severity == "error")
    assert target.exists()


def test_a_draft_goes_into_a_knowledge_base_that_already_has_unrelated_errors(kb_copy: Path):
    (kb_copy / "policies" / "reading.yaml").write_text("policy: [unclosed\n", encoding="utf-8")
    target = write_draft(parse("1. Scope\n\n1.1 All staff.\n", "school-1"), kb_copy)
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["clauses"][0]["text"] == "All staff."


@pytest.mark.parametrize("bad", ["", "Howitt", "../etc", "a b", "x.y", "-lead"])
def test_school_ids_must_look_like_ids(bad: str):
    with pytest.raises(PolicyImportError, match="not a school id"):
        check_policy_id(bad)


# -- the command ---------------------------------------------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(import_command, list(args), obj={})


def test_cli_writes_a_draft_refuses_to_overwrite_and_overwrites_with_force(kb_copy: Path):
    source = seed("rutland-county-council-2017.txt")
    result = invoke(str(source), "--school", "oakham", "--knowledge", str(kb_copy))
    assert result.exit_code == 0, result.output
    target = kb_copy / "policies" / "oakham.yaml"
    assert f"as a DRAFT: {target}" in result.output
    assert (
        "91 draft clauses in 13 sections" in result.output
        and "  19  6. Use of Social Media at Work" in result.output
    )
    written = target.read_bytes()

    again = invoke(str(seed("reading-borough-school.txt")), "--school", "oakham", "--knowledge", str(kb_copy))
    assert again.exit_code != 0 and "already exists; use --force" in again.output
    assert target.read_bytes() == written

    forced = invoke(str(seed("reading-borough-school.txt")), "--school", "oakham", "--knowledge", str(kb_copy),
                    "--force", "--name", "Reading Social Media Policy")  # fmt: skip
    assert forced.exit_code == 0, forced.output
    data = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert (
        data["policy"]["title"] == "Reading Social Media Policy" and data["clauses"][0]["id"] == "oakham.1.1"
    )


def test_cli_draft_loads_with_the_knowledge_loader_next_to_a_school_file(kb_copy: Path):
    result = invoke(
        str(seed("neath-port-talbot-crynallt.txt")), "--school", "glan-y-mor", "--knowledge", str(kb_copy)
    )
    assert result.exit_code == 0, result.output
    school = (kb_copy / "schools" / "crynallt.yaml").read_text(encoding="utf-8")
    school = re.sub(r"(?m)^  id: crynallt$", "  id: glan-y-mor", school)
    school = re.sub(r"(?m)^  policies: \[.*\]$", "  policies: [glan-y-mor]", school)
    (kb_copy / "schools" / "glan-y-mor.yaml").write_text(school, encoding="utf-8")
    kb, problems = check_knowledge(kb_copy)
    assert kb is not None, [str(p) for p in problems if p.severity == "error"]
    policy = kb.policies["glan-y-mor"]
    assert policy.issuer == "Neath Port Talbot County Borough Council" and len(policy.clauses) == 63
    assert kb.policies_for("glan-y-mor") == (policy,)
    assert load_knowledge(kb_copy).policies["glan-y-mor"].clauses[0].id == "glan-y-mor.1.1"


def test_cli_rejects_a_bad_school_id_and_writes_nothing(kb_copy: Path):
    before = sorted(p.name for p in (kb_copy / "policies").iterdir())
    result = invoke(
        str(seed("reading-borough-school.txt")), "--school", "St Marys", "--knowledge", str(kb_copy)
    )
    assert result.exit_code == 2 and "is not an id" in result.output
    assert sorted(p.name for p in (kb_copy / "policies").iterdir()) == before


def test_kb_import_is_registered_and_uses_the_group_knowledge_option(tmp_path: Path):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, knowledge)
    source = seed("howitt-primary-derbyshire-2018.txt")
    result = CliRunner().invoke(
        cli, ["--knowledge", str(knowledge), "kb", "import", str(source), "--school", "howitt2"], obj={}
    )
    assert result.exit_code == 0, result.output
    assert (knowledge / "policies" / "howitt2.yaml").exists()
    existing = CliRunner().invoke(
        cli, ["--knowledge", str(knowledge), "kb", "import", str(source), "--school", "howitt"], obj={}
    )
    assert existing.exit_code == 1 and "already exists" in existing.output

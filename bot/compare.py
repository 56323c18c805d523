"""Compare the schools' rules topic by topic, for HR.

Two views, both frozen dataclasses built by pure functions over a KnowledgeBase:

- `compare_topic(kb, topic_id)` -> `TopicComparison`: for every school, each of its policy documents that speaks
  to the topic, with the document's one-sentence topic note and the clauses tagged with the topic (cited and
  quoted). A school with no clause on the topic is marked "no clause".
- `compare_all(kb)` -> `Matrix`: a topic x school table whose cells name the sections that cover the topic
  ("§6.3, App.") or "—" where the school has no clause; it carries every topic's `TopicComparison` as well.

`render_text`, `render_csv` and `render_html` turn either view into a wrapped terminal table, CSV rows, or one
self-contained HTML page (inline CSS, no scripts, no external links) that HR can email. `compare_page(kb, topic)`
is that page, for `policybot kb compare --html` and for the server's GET /admin/compare.
"""

from __future__ import annotations

import csv
import difflib
import html
import io
import re
import textwrap
from dataclasses import dataclass

from bot.compose import CitedClause, cite
from bot.errors import PolicyBotError
from bot.knowledge import KnowledgeBase, Policy, School

NO_CLAUSE = "no clause"
GAP = "—"
DEFAULT_WIDTH = 100
MIN_WIDTH = 40

TOPIC_CSV_HEADER = (
    "school_id",
    "school",
    "policy_id",
    "policy",
    "rule",
    "clause_id",
    "citation",
    "section",
    "heading",
    "lead_in",
    "text",
)


class UnknownTopic(PolicyBotError):
    """A topic id that topics.yaml does not define; the message lists the known ids."""

    def __init__(self, topic: str, known: list[str]):
        close = difflib.get_close_matches(topic, known, n=3, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        super().__init__(f"Unknown topic {topic!r}.{hint} Known topics: {', '.join(sorted(known))}.")
        self.topic = topic
        self.known = tuple(known)


# -- views ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """A policy document as the comparison names it."""

    id: str
    title: str
    issuer: str
    version: str | None = None
    date: str | None = None

    @property
    def label(self) -> str:
        return f"{self.title} — {self.issuer}" if self.issuer else self.title


@dataclass(frozen=True)
class DocumentRule:
    """What one document says on one topic: its one-sentence note and the clauses tagged with the topic."""

    document: Document
    note: str | None
    clauses: tuple[CitedClause, ...]


@dataclass(frozen=True)
class SchoolRule:
    """One school's rule on one topic: each of its documents that speaks to it, in the school's policy order."""

    school_id: str
    school_name: str
    documents: tuple[DocumentRule, ...]

    @property
    def has_clause(self) -> bool:
        return any(d.clauses for d in self.documents)


@dataclass(frozen=True)
class TopicComparison:
    """One topic, every school's rule side by side."""

    topic_id: str
    topic_title: str
    schools: tuple[SchoolRule, ...]
    knowledge_version: str = ""

    def school(self, school_id: str) -> SchoolRule:
        return next(s for s in self.schools if s.school_id == school_id)


@dataclass(frozen=True)
class SchoolColumn:
    """A matrix column: the school and the documents that cover it, its own guidance last."""

    id: str
    name: str
    documents: tuple[Document, ...]


@dataclass(frozen=True)
class Cell:
    """The sections of one school's documents that cover one topic; `label` is "—" when there are none."""

    school_id: str
    label: str
    sections: tuple[str, ...]

    @property
    def covered(self) -> bool:
        return bool(self.sections)


@dataclass(frozen=True)
class MatrixRow:
    topic_id: str
    topic_title: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Matrix:
    """Topics (rows, in topics.yaml order) x schools (columns); `comparisons` has each topic's rules."""

    schools: tuple[SchoolColumn, ...]
    rows: tuple[MatrixRow, ...]
    comparisons: tuple[TopicComparison, ...]
    knowledge_version: str = ""

    def cell(self, topic_id: str, school_id: str) -> Cell:
        row = next(r for r in self.rows if r.topic_id == topic_id)
        return next(c for c in row.cells if c.school_id == school_id)


View = Matrix | TopicComparison


# -- building ------------------------------------------------------------------------------------------------


def _document(policy: Policy) -> Document:
    return Document(policy.id, policy.title, policy.issuer, policy.version, policy.date)


def _school_rule(kb: KnowledgeBase, school: School, topic_id: str) -> SchoolRule:
    documents = []
    for policy in kb.policies_for(school.id):
        note = policy.topic_notes.get(topic_id)
        clauses = tuple(cite(kb, c) for c in policy.clauses if topic_id in c.topics)
        if note or clauses:
            documents.append(DocumentRule(_document(policy), note, clauses))
    return SchoolRule(school.id, school.name, tuple(documents))


def compare_topic(kb: KnowledgeBase, topic_id: str) -> TopicComparison:
    """Every school's rule on `topic_id`; raises UnknownTopic for an id that topics.yaml does not define."""
    topic = kb.topics.get(topic_id)
    if topic is None:
        raise UnknownTopic(topic_id, list(kb.topics))
    return TopicComparison(
        topic_id=topic.id,
        topic_title=topic.title,
        schools=tuple(_school_rule(kb, s, topic.id) for s in kb.schools.values()),
        knowledge_version=kb.version,
    )


_NUMBERED = re.compile(r"^\d+(?:\.\d+)*")


def compact_section(section: str) -> str:
    """A section as a matrix cell names it: "6.3" -> "§6.3", "10.4(a)" -> "§10.4", "Appendix A 1.2" -> "App. A"."""
    numbered = _NUMBERED.match(section)
    if numbered:
        return "§" + numbered.group(0)
    words = section.split()
    if words and words[0].lower() == "appendix":
        return f"App. {words[1]}" if len(words) > 1 else "App."
    return section


def _cell(rule: SchoolRule, school_documents: int) -> Cell:
    parts, sections = [], []
    for doc in rule.documents:
        labels = tuple(dict.fromkeys(compact_section(c.section) for c in doc.clauses))
        if not labels:
            continue
        sections += labels
        joined = ", ".join(labels)
        # A school covered by two documents (a council policy and its guidance note) says which is which.
        parts.append(f"{doc.document.id}: {joined}" if school_documents > 1 else joined)
    return Cell(rule.school_id, "; ".join(parts) if parts else GAP, tuple(dict.fromkeys(sections)))


def compare_all(kb: KnowledgeBase) -> Matrix:
    """The topic x school matrix, with every topic's side-by-side comparison."""
    comparisons = tuple(compare_topic(kb, t) for t in kb.topics)
    schools = tuple(
        SchoolColumn(s.id, s.name, tuple(_document(p) for p in kb.policies_for(s.id)))
        for s in kb.schools.values()
    )
    counts = {s.id: len(s.documents) for s in schools}
    rows = tuple(
        MatrixRow(c.topic_id, c.topic_title, tuple(_cell(r, counts[r.school_id]) for r in c.schools))
        for c in comparisons
    )
    return Matrix(schools, rows, comparisons, kb.version)


def compare(kb: KnowledgeBase, topic_id: str | None) -> View:
    """The matrix without a topic, that topic's comparison with one."""
    return compare_all(kb) if topic_id is None else compare_topic(kb, topic_id)


# -- text ----------------------------------------------------------------------------------------------------


def _fill(text: str, width: int, indent: str) -> list[str]:
    return textwrap.wrap(
        text, max(width, len(indent) + 20), initial_indent=indent, subsequent_indent=indent
    ) or [indent.rstrip()]


MIN_COLUMN = 10


def _column_widths(natural: list[int], available: int) -> list[int]:
    """Give every column its natural width if all fit, else share `available` out, narrow columns first."""
    widths = [0] * len(natural)
    left, pending = available, sorted(range(len(natural)), key=lambda i: natural[i])
    while pending:
        i = pending.pop(0)
        widths[i] = min(natural[i], left // (len(pending) + 1))
        left -= widths[i]
    return widths


_NBSP = "\u00a0"


def _wrap_label(label: str, width: int) -> list[str]:
    """A cell's lines: breaks only after `,`, `;` or `:`, so that "App. A" or "Guidance note" stay whole."""
    protected = re.sub(r"(?<![,;:]) ", _NBSP, label)
    lines = textwrap.wrap(protected, width, break_on_hyphens=False) or [""]
    return [line.replace(_NBSP, " ") for line in lines]


def _matrix_grid(matrix: Matrix, width: int) -> list[str] | None:
    """The matrix as a table with a column per school, or None when the columns would not fit in `width`."""
    gap = "  "
    topic_w = max([len("topic"), *(len(r.topic_id) for r in matrix.rows)])
    available = width - topic_w - len(gap) * len(matrix.schools)
    smallest = max([MIN_COLUMN, *(len(s.id) for s in matrix.schools)])
    if available < smallest * len(matrix.schools):
        return None
    natural = [
        max([len(s.id), *(len(r.cells[i].label) for r in matrix.rows)]) for i, s in enumerate(matrix.schools)
    ]
    widths = _column_widths(natural, available)

    def line(first: str, cells: list[str]) -> str:
        return (
            first.ljust(topic_w) + "".join(gap + c.ljust(w) for c, w in zip(cells, widths, strict=True))
        ).rstrip()

    out = [line("topic", [s.id for s in matrix.schools]), line("─" * topic_w, ["─" * w for w in widths])]
    for row in matrix.rows:
        wrapped = [_wrap_label(c.label, w) for c, w in zip(row.cells, widths, strict=True)]
        for k in range(max(len(w) for w in wrapped)):
            out.append(line(row.topic_id if k == 0 else "", [w[k] if k < len(w) else "" for w in wrapped]))
    return out


def _matrix_list(matrix: Matrix, width: int) -> list[str]:
    """The matrix for a narrow terminal: each topic, then a line per school."""
    school_w = max(len(s.id) for s in matrix.schools)
    out: list[str] = []
    for row in matrix.rows:
        out += ["", *_fill(f"{row.topic_id}: {row.topic_title}", width, "")]
        for cell in row.cells:
            first = f"  {cell.school_id.ljust(school_w)}  "
            lines = _fill(cell.label, width - len(first), "")
            out += [first + lines[0], *(" " * len(first) + rest for rest in lines[1:])]
    return out


def _matrix_text(matrix: Matrix, width: int) -> str:
    out = _fill(
        f"Which sections of each school's policies cover each topic ({GAP} = no clause). "
        "Run `policybot kb compare TOPIC` to read one topic's rules side by side.",
        width,
        "",
    )
    grid = _matrix_grid(matrix, width)
    out += ["", *grid] if grid is not None else _matrix_list(matrix, width)
    out += ["", "Schools:"]
    for s in matrix.schools:
        out += _fill(f"{s.id}: {s.name}", width, "  ")
        for d in s.documents:
            out += _fill(f"{d.id}: {d.label}", width, "      ")
    return "\n".join(out) + "\n"


def _topic_text(comparison: TopicComparison, width: int) -> str:
    title = f"{comparison.topic_id}: {comparison.topic_title}"
    out = [title, "═" * min(len(title), width)]
    for school in comparison.schools:
        out += ["", f"{school.school_name} ({school.school_id})"]
        for doc in school.documents:
            out += _fill(f"{doc.document.label} [{doc.document.id}]", width, "  ")
            if doc.note:
                out += _fill(f"Rule: {doc.note}", width, "    ")
            if not doc.clauses:
                out.append(f"    {NO_CLAUSE}")
            for clause in doc.clauses:
                out += _fill(clause.citation, width, "    ")
                out += _fill(f"“{clause.quote}”", width, "      ")
        if not school.documents:
            out.append(f"  {NO_CLAUSE}")
    return "\n".join(out) + "\n"


def render_text(view: View, width: int = DEFAULT_WIDTH) -> str:
    """Plain text for a terminal, wrapped to `width` columns."""
    width = max(width, MIN_WIDTH)
    return _matrix_text(view, width) if isinstance(view, Matrix) else _topic_text(view, width)


# -- csv -----------------------------------------------------------------------------------------------------


def render_csv(view: View) -> str:
    """The matrix as `topic_id, topic, <school ids>` rows; a topic as one row per clause (TOPIC_CSV_HEADER).

    In a topic's rows, a document with a note but no clause, and a school with no document on the topic, get one
    row whose `citation` is "no clause".
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if isinstance(view, Matrix):
        writer.writerow(["topic_id", "topic", *(s.id for s in view.schools)])
        for row in view.rows:
            writer.writerow([row.topic_id, row.topic_title, *(c.label for c in row.cells)])
        return buffer.getvalue()
    writer.writerow(TOPIC_CSV_HEADER)
    for school in view.schools:
        lead = [school.school_id, school.school_name]
        if not school.documents:
            writer.writerow([*lead, "", "", "", "", NO_CLAUSE, "", "", "", ""])
        for doc in school.documents:
            head = [*lead, doc.document.id, doc.document.title, doc.note or ""]
            if not doc.clauses:
                writer.writerow([*head, "", NO_CLAUSE, "", "", "", ""])
            for c in doc.clauses:
                writer.writerow([*head, c.id, c.citation, c.section, c.heading, c.lead_in or "", c.text])
    return buffer.getvalue()


# -- html ----------------------------------------------------------------------------------------------------

_CSS = """
body { font-family: -apple-system, "Segoe UI", Arial, sans-serif; color: #1f2328; margin: 2rem auto;
  max-width: 78rem; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.2rem; margin-top: 2.5rem; border-bottom: 2px solid #d0d7de; padding-bottom: .25rem; }
code { font-size: .85em; color: #57606a; }
table { border-collapse: collapse; width: 100%; margin: .75rem 0; }
th, td { border: 1px solid #d0d7de; padding: .4rem .55rem; text-align: left; vertical-align: top; }
thead th { background: #f6f8fa; }
table.matrix thead th { position: sticky; top: 0; }
table.matrix td { white-space: normal; font-size: .9rem; }
table.matrix td.gap, td.gap { color: #8c959f; background: #fafbfc; }
table.matrix tbody th { font-weight: normal; }
a { color: #0969da; text-decoration: none; }
a:hover { text-decoration: underline; }
.note { font-weight: 600; }
.clause { margin: 0 0 .6rem; }
.clause:last-child { margin-bottom: 0; }
.citation { font-size: .85rem; color: #57606a; }
.lead-in { color: #57606a; }
.meta, .back { font-size: .85rem; color: #57606a; }
@media print { a { color: inherit; } h2 { break-before: auto; } tr { break-inside: avoid; } }
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _topic_anchor(topic_id: str) -> str:
    return f"topic-{topic_id}"


def _row_anchor(topic_id: str, school_id: str) -> str:
    return f"topic-{topic_id}--{school_id}"


def _page(title: str, body: list[str]) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def _topic_section(comparison: TopicComparison, back_link: bool) -> list[str]:
    tid = comparison.topic_id
    out = [
        f'<section class="topic" id="{_e(_topic_anchor(tid))}">',
        f"<h2>{_e(comparison.topic_title)} <code>{_e(tid)}</code></h2>",
        '<table class="rules">',
        "<thead><tr><th>School</th><th>Document</th><th>Rule</th><th>Clauses</th></tr></thead>",
        "<tbody>",
    ]
    for school in comparison.schools:
        anchor = _e(_row_anchor(tid, school.school_id))
        name = f"{_e(school.school_name)}<br><code>{_e(school.school_id)}</code>"
        if not school.documents:
            out.append(f'<tr id="{anchor}"><th>{name}</th><td class="gap" colspan="3">{NO_CLAUSE}</td></tr>')
            continue
        for i, doc in enumerate(school.documents):
            cells = []
            if i == 0:
                cells.append(f'<th rowspan="{len(school.documents)}">{name}</th>')
            cells.append(f"<td>{_e(doc.document.label)}<br><code>{_e(doc.document.id)}</code></td>")
            cells.append(
                f'<td class="note">{_e(doc.note)}</td>' if doc.note else '<td class="gap">no note</td>'
            )
            if doc.clauses:
                quotes = []
                for c in doc.clauses:
                    lead = f'<span class="lead-in">{_e(c.lead_in)}</span> ' if c.lead_in else ""
                    quotes.append(
                        f'<div class="clause"><div class="citation">{_e(c.citation)}</div>'
                        f"<div>“{lead}{_e(c.text)}”</div></div>"
                    )
                cells.append("<td>" + "".join(quotes) + "</td>")
            else:
                cells.append(f'<td class="gap">{NO_CLAUSE}</td>')
            row_id = f' id="{anchor}"' if i == 0 else ""
            out.append(f"<tr{row_id}>" + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>"]
    if back_link:
        out.append('<p class="back"><a href="#matrix">Back to the table</a></p>')
    out.append("</section>")
    return out


def _matrix_html(matrix: Matrix) -> list[str]:
    out = [
        "<h1>Social media policies compared: topics by school</h1>",
        '<p class="meta">Each cell names the sections of the school\'s policies that cover the topic; '
        f"{GAP} means the school has no clause on it. Click a cell or topic to read the rules side by side.</p>",
        '<table class="matrix" id="matrix">',
        "<thead><tr><th>Topic</th>"
        + "".join(f"<th>{_e(s.name)}<br><code>{_e(s.id)}</code></th>" for s in matrix.schools)
        + "</tr></thead>",
        "<tbody>",
    ]
    for row in matrix.rows:
        cells = [f'<th><a href="#{_e(_topic_anchor(row.topic_id))}">{_e(row.topic_title)}</a></th>']
        for cell in row.cells:
            if cell.covered:
                href = _e(_row_anchor(row.topic_id, cell.school_id))
                cells.append(f'<td><a href="#{href}">{_e(cell.label)}</a></td>')
            else:
                cells.append(f'<td class="gap">{GAP}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>", "<h2>The schools and their documents</h2>", "<ul>"]
    for s in matrix.schools:
        docs = "; ".join(
            f"<code>{_e(d.id)}</code>: {_e(d.label)}" + (f", {_e(d.version)}" if d.version else "")
            for d in s.documents
        )
        out.append(f"<li>{_e(s.name)} <code>{_e(s.id)}</code> — {docs}</li>")
    out.append("</ul>")
    for comparison in matrix.comparisons:
        out += _topic_section(comparison, back_link=True)
    return out


def render_html(view: View) -> str:
    """One self-contained HTML page: the matrix linking to every topic's section, or one topic's section."""
    if isinstance(view, Matrix):
        title = "Social media policies compared"
        body = _matrix_html(view)
    else:
        title = f"Social media policies compared: {view.topic_title}"
        body = ["<h1>Social media policies compared</h1>", *_topic_section(view, back_link=False)]
    body.append(f'<p class="meta">Knowledge base version <code>{_e(view.knowledge_version)}</code>.</p>')
    return _page(title, body)


def compare_page(kb: KnowledgeBase, topic: str | None) -> str:
    """The HTML page for GET /admin/compare (`?topic=`): the matrix, or one topic; raises UnknownTopic."""
    return render_html(compare(kb, topic))

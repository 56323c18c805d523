"""Turn a policy document (.txt, .md, .docx, .pdf) into a DRAFT clause file for `knowledge/policies/`.

HR import a school's policy with `policybot kb import FILE --school ID`, then review the draft: every clause
keeps the policy's own words, and `topics`, `contacts` and `examples` are left empty for HR to fill.

The steps are pure functions, so each can be tested on its own:

- `read_document(path)` gives the document as `Block(kind, text, style)` tuples: one per text line, Word
  paragraph or table row, or PDF line;
- `parse_document(blocks, policy_id)` removes what is not policy text (contents tables, running page banners,
  signature blocks, declaration forms, document-control tables), joins lines broken mid-sentence, finds the
  clause structure (numbered sections, appendices, headings, paragraphs, bullets and lettered items, each bullet
  with the sentence that introduces its list) and returns a frozen `DraftPolicy` of `DraftClause`s with warnings;
- `render_yaml(policy)` writes it in the schema of `knowledge/README.md`, built as ruamel.yaml data with the
  comments a reviewer needs (what to check, each section's heading);
- `write_draft(policy, knowledge_dir)` writes `policies/<id>.yaml` through `bot.kbedit`: atomically, never
  over an existing file unless told to, and undone if it breaks the knowledge base (the blanks left for HR
  to fill in aside).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, FoldedScalarString

from bot import import_limits, kbedit
from bot.errors import PolicyImportError, Problem

SUPPORTED_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".docx", ".pdf")
SCHOOL_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
LONG_CLAUSE = 1500  # characters; a clause longer than this probably swallowed several and is worth a look
YAML_WIDTH = 110


class Block(NamedTuple):
    """One unit of a document as read.

    kind: "line" (a line of a text, Markdown or PDF file), "paragraph" (a Word paragraph), "table_row" (a Word
    table row, cells joined by tabs) or "page_break" (between PDF pages).
    style: the Word paragraph style ("Heading 1", "List Bullet 2"), with " [list N]" appended when the paragraph
    carries list numbering of its own at level N; None for other formats.
    """

    kind: str
    text: str
    style: str | None = None


@dataclass(frozen=True)
class DraftClause:
    id: str
    section: str
    heading: str | None
    lead_in: str | None
    text: str
    kind: str = "paragraph"  # "paragraph" or "bullet" (lettered items are bullets too)
    group: str = ""  # the top-level section or appendix, for the summary
    line: int = 0  # where the clause starts in the document (line, paragraph or PDF line number)


@dataclass(frozen=True)
class DraftPolicy:
    id: str
    title: str | None
    issuer: str | None
    date: str | None
    version: str | None
    review_date: str | None
    source: str | None
    clauses: tuple[DraftClause, ...]
    warnings: tuple[str, ...] = ()
    skipped: tuple[tuple[str, int], ...] = ()  # (what was left out, how many lines)
    group_titles: tuple[tuple[str, str], ...] = field(default=())  # (group, its heading) in document order


# -- reading ---------------------------------------------------------------------------------------------------


def read_document(path: Path | str) -> list[Block]:
    """Read .txt/.md (UTF-8, else Windows-1252), .docx (python-docx) or .pdf (pypdf) into blocks.

    Every document is held to the limits of `bot.import_limits` (size, unpacked size, paragraphs, pages,
    characters), each checked before the step it protects; a document past one raises `DocumentTooLarge`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        hint = " (save it as .docx first)" if suffix in (".doc", ".rtf", ".odt") else ""
        raise PolicyImportError(f"cannot import {path.name}: use a .txt, .md, .docx or .pdf file{hint}")
    budget = import_limits.TextBudget(path)
    try:
        data = import_limits.read_file(path)
        if suffix == ".docx":
            return _read_docx(data, path, budget)
        if suffix == ".pdf":
            return _read_pdf(data, path, budget)
        return [_counted(Block("line", line), budget) for line in _decode(data).splitlines()]
    except PolicyImportError:
        raise
    except OSError as exc:
        raise PolicyImportError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    except Exception as exc:  # a corrupt .docx or .pdf raises whatever its library raises
        raise PolicyImportError(f"cannot read {path.name} as {suffix[1:]}: {exc}") from exc


def _counted(block: Block, budget: import_limits.TextBudget) -> Block:
    budget.add(block.text)
    return block


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _read_docx(data: bytes, path: Path, budget: import_limits.TextBudget) -> list[Block]:
    import docx
    from docx.table import Table

    # python-docx unpacks and parses every part at once, so the archive is measured before it sees it; it
    # then reads the very bytes that were measured.
    import_limits.check_archive(data, path)
    document = docx.Document(io.BytesIO(data))
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = " ".join(cell.text.split())
                    if not cells or text != cells[-1]:  # merged cells repeat their text
                        cells.append(text)
                blocks.append(_counted(Block("table_row", "\t".join(cells)), budget))
            continue
        style = item.style.name if item.style is not None else None
        ppr = item._p.pPr
        if ppr is not None and ppr.numPr is not None:
            ilvl = ppr.numPr.ilvl
            style = f"{style or 'Normal'} [list {ilvl.val if ilvl is not None else 0}]"
        blocks.append(_counted(Block("paragraph", item.text, style), budget))
    return blocks


def _read_pdf(data: bytes, path: Path, budget: import_limits.TextBudget) -> list[Block]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise PolicyImportError(f"cannot read {path.name}: the PDF is password-protected")
    import_limits.check_pages(len(reader.pages), path)  # before any page's text is extracted
    blocks: list[Block] = []
    for number, page in enumerate(reader.pages):
        if number:
            blocks.append(Block("page_break", ""))
        blocks.extend(
            _counted(Block("line", line), budget) for line in (page.extract_text() or "").splitlines()
        )
    return blocks


# -- text clean-up ---------------------------------------------------------------------------------------------

_BOOKMARK = re.compile(r"\[bookmark:[^\]]*\]", re.I)
_MD_LINK = re.compile(r"\[((?:[^\]\\]|\\.)*)\]\((?:[^()\s]|\([^()]*\))*\)")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|])")
_EMPHASIS = re.compile(r"(?<![\w*\\])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![\w*])")
_UNDERSCORE = re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")
_HTML_TAG = re.compile(r"</?(?:i|b|u|em|strong|span|br|sup|sub)\b[^>]*>", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200d\u2060\ufeff]")


def clean_inline(text: str) -> str:
    """Strip Word and Markdown artefacts from one line; keep the words, tabs and indentation."""
    text = _CONTROL.sub("", text.replace("\u00a0", " ").replace("\u2028", " ").replace("\u2029", " "))
    text = _BOOKMARK.sub("", text)
    text = _HTML_TAG.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = text.replace("**", "")
    text = _UNDERSCORE.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    text = _MD_ESCAPE.sub(r"\1", text)
    return text.rstrip()


def collapse(text: str) -> str:
    return " ".join(text.split())


# -- line classification ---------------------------------------------------------------------------------------

_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})(\.?)(\s+)(\S.*)$")
_NUMBER_ONLY = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?$")
_BULLET = re.compile(r"^([-–•·*◦▪■●○►\uf0b7\uf0a7\uf076\uf0d8\uf0fc])[ \t]+(\S.*)$")
_LETTERED = re.compile(r"^(?:\((?P<a>[a-z]|[ivx]{1,4})\)|(?P<b>[a-z])[.)])[ \t]+(?P<text>\S.*)$")
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
_APPENDIX = re.compile(
    r"^(?P<word>appendix|annex|annexe|schedule)\b\s*(?P<id>(?-i:[A-Z]{1,2})\b|\d{1,2}\b)?\s*[:.\-–—]?\s*(?P<title>.*)$",
    re.I,
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FUNCTION_WORDS = _words(
    "a an and as at be by for from in into is are of on or that the "
    "their this to with which who will must should may can not if when where whilst while than"
)
_STOP_WORDS = _FUNCTION_WORDS | {"what", "how", "why", "our", "your", "its", "do", "does", "about"}
_ABBREVIATIONS = _words("e.g i.e eg ie etc no nos dr mr mrs ms st vs cf approx para paras fig")
_SMALL_TITLE_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with"}
)


def heading_like(text: str) -> bool:
    """A short title-like line: no closing full stop, not a sentence, not ending on a joining word."""
    t = text.strip()
    if not t or len(t) > 100:
        return False
    words = t.split()
    if len(words) > 12 or t[-1] in ".,;:" or re.search(r"[.!?;:]\s+\S", t):
        return False
    if not (t[0].isupper() or t[0].isdigit() or t[0] in "\"'‘“("):
        return False
    return words[-1].lower().strip("\"'’”") not in _FUNCTION_WORDS


def all_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters)


def title_case(text: str) -> str:
    """ALL CAPS headings read as titles: "AIM AND PURPOSE OF THE POLICY" -> "Aim and Purpose of the Policy"."""
    if not all_caps(text):
        return text
    words = text.lower().split()
    return " ".join(
        w if i and w in _SMALL_TITLE_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(words)
    )


def _ends_sentence(text: str, marks: str = ".!?:;") -> bool:
    t = text.rstrip().rstrip("\"'’”)]*").rstrip()
    return bool(t) and t[-1] in marks


def last_sentence(text: str) -> str:
    """The final sentence of a paragraph: the part that introduces a list after it."""
    cut = 0
    for m in re.finditer(r"[.!?][\"'’”)]*\s+(?=[A-Z\"'‘“(])", text):
        before = text[: m.start() + 1]
        word = re.search(r"(\S+)$", before)
        token = word.group(1).lower().rstrip(".").lstrip("(\"'‘“") if word else ""
        if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
            continue
        cut = m.end()
    return text[cut:].strip()


def _normalise_number(number: str) -> str:
    parts = number.split(".")
    while len(parts) > 1 and parts[-1] == "0":
        parts.pop()
    return ".".join(str(int(p)) for p in parts)


def _slug(text: str, words: int = 2) -> str:
    tokens = re.findall(r"[a-z0-9]+", text.lower())
    significant = [t for t in tokens if t not in _STOP_WORDS] or tokens
    return "_".join(significant[:words]) or "section"


def _appendix_label(word: str, ident: str | None) -> tuple[str, str]:
    """("Appendix A", "appendix_a"), ("Appendix 1", "appendix1"), ("Appendix", "appendix")."""
    word = word.capitalize()
    if not ident:
        return word, word.lower()
    ident = ident.upper() if ident.isalpha() else ident
    slug = f"{word.lower()}{ident}" if ident.isdigit() else f"{word.lower()}_{ident.lower()}"
    return f"{word} {ident}", slug


# -- document furniture: contents, banners, forms, document control ----------------------------------------------

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}
_MONTH_YEAR = re.compile(
    r"\b(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?,?\s+(\d{4})\b", re.I
)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})(?:-\d{2})?\b")
_TOC_TITLE = re.compile(r"^(table of )?contents(\s+page)?$", re.I)
_TOC_ENTRY = re.compile(r"^(?P<title>\S.{0,110}?)\s*(?:\t+|\s{2,}|\.{3,}|…+)\s*(?P<page>\d{1,3})$")
_TOC_LABELLED = re.compile(r"^(paragraph|section|part|appendix|annex|schedule)\b[^\t]{0,12}\t+\S", re.I)
_TOC_HEADER = re.compile(r"^(section|contents|title)?\s*\t*\s*page(\s+(number|no\.?))?$", re.I)
_TOC_APPENDIX = re.compile(
    r"^(appendix|annex|annexe|schedule)\s+((?-i:[A-Z]{1,2})|\d{1,2})\s*[\t:–—-]\s*(.+?)$", re.I
)
_NUMBERED_TOC_LINE = re.compile(r"^\d{1,2}(\.\d{1,2})*\.?\s+[^\t]{1,100}\t+\s*\d{1,3}$")
_FORM_FIELD = re.compile(r"(\.{4,}|_{4,}|…{2,})")
_SIGNATURE = re.compile(r"^(signed|signature|witness(ed)?|print(ed)? name|countersigned)\b[^.]{0,40}$", re.I)
_FORM_LABEL = re.compile(
    r"^(date|dated|name|position|job title|designation|role|school|headteacher|chair(person)?( of governors)?)"
    r"\s*(\(.{0,40}\))?\s*:\s*$",
    re.I,
)
_FORM_CUE = re.compile(
    r"(\bprint(ed)? name\b|^signed\b|^signature\b|^witness|^I\s*[(,]|\bI (have|confirm|declare)\b)", re.I
)
_DECLARATION = re.compile(r"\bdeclaration\b", re.I)
_APPROVAL = re.compile(r"^(agreed|approved|adopted|ratified|signed off)\b.{0,80}$", re.I)
_CONTROL_WORDS = re.compile(
    r"^(version|updated|revised|amended|issued|published|effective|date|review|next review|reviewed|"
    r"policy (number|owner)|owner|author|guardian|status|classification|document (ref|reference|owner))\b",
    re.I,
)
_PAGE_NUMBER = re.compile(r"^(page\s+)?-?\s*\d{1,3}\s*-?(\s*(of|/)\s*\d{1,3})?$", re.I)
_EMAIL = re.compile(r"^\S+@\S+\.\S+$")
_URL = re.compile(r"^(https?://|www\.)\S+$", re.I)
_PHONE = re.compile(r"^(tel(ephone)?[:.]?\s*)?\+?[\d ()-]{9,}$", re.I)
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")


def _date_in(text: str) -> str | None:
    """The first date in `text` as YYYY-MM (or YYYY), else None."""
    found: list[tuple[int, str]] = []
    m = _MONTH_YEAR.search(text)
    if m:
        found.append((m.start(), f"{m.group(2)}-{_MONTHS[m.group(1).lower()]:02d}"))
    m = _NUMERIC_DATE.search(text)
    if m and 1 <= int(m.group(2)) <= 12:
        found.append((m.start(), f"{m.group(3)}-{int(m.group(2)):02d}"))
    m = _ISO_DATE.search(text)
    if m and 1 <= int(m.group(2)) <= 12:
        found.append((m.start(), f"{m.group(1)}-{m.group(2)}"))
    return min(found)[1] if found else None


@dataclass
class _Line:
    no: int
    text: str  # cleaned, tabs kept, leading whitespace removed
    indent: int = 0
    style: str | None = None
    blank: bool = False


def _to_lines(blocks: Sequence[Block]) -> list[_Line]:
    lines: list[_Line] = []
    for no, block in enumerate(blocks, start=1):
        kind, text, style = block
        if kind == "page_break":
            lines.append(_Line(no, "", blank=True))
            continue
        parts = text.split("\n") if kind in ("paragraph", "table_row") else [text]
        for part in parts:
            cleaned = clean_inline(part)
            stripped = cleaned.lstrip()
            lead = cleaned[: len(cleaned) - len(stripped)]
            indent = len(lead.expandtabs(4))
            lines.append(_Line(no, stripped, indent, style, not stripped))
        if kind in ("paragraph", "table_row"):
            lines.append(_Line(no, "", blank=True))
    return lines


def _structural(text: str) -> bool:
    """A bullet, numbered or lettered line: never a banner, whatever it repeats."""
    return bool(_BULLET.match(text) or _NUMBERED.match(text) or _LETTERED.match(text))


class _Furniture:
    """Finds and drops what is not policy text; remembers what it dropped, and the appendix titles of a
    contents table."""

    def __init__(self, lines: list[_Line]):
        self.lines = lines
        self.skipped: Counter[str] = Counter()
        self.appendix_titles: dict[str, tuple[str, str]] = {}

    def drop(self, index: int, what: str) -> None:
        if not self.lines[index].blank:
            self.skipped[what] += 1
        self.lines[index] = replace(self.lines[index], text="", blank=True)

    def run(self, front_end: int) -> list[_Line]:
        """After `contents` and `declarations`: drop the rest of the furniture."""
        for i, line in enumerate(self.lines):
            if line.blank:
                continue
            text = line.text
            if (line.style or "").lower().startswith("toc") or _NUMBERED_TOC_LINE.match(text):
                self.drop(i, "contents table")
            elif _FORM_FIELD.search(text) or _FORM_LABEL.match(text) or _SIGNATURE.match(text):
                self.drop(i, "signature and form lines")
            elif _PAGE_NUMBER.match(text):
                self.drop(i, "page numbers")
            elif self.contact_detail(text):
                self.drop(i, "contact details")
            elif self.document_control(text, before_body=i < front_end, alone=self.alone(i)):
                self.drop(i, "document details")
        self.running_banners()
        return self.lines

    def alone(self, i: int) -> bool:
        """A line with a blank (or nothing) either side: a paragraph of its own."""
        before = i == 0 or self.lines[i - 1].blank
        after = i + 1 >= len(self.lines) or self.lines[i + 1].blank
        return before and after

    def contents(self) -> None:
        """A "Contents" block: entries with page numbers, "Paragraph 1<tab>...", "Appendix A<tab>..." rows, or
        numbered titles counting up; it ends at the first line that is none of these (or at a number that
        starts again, which is the body's first heading)."""
        inside = False
        last_number = 0
        for i, line in enumerate(self.lines):
            if line.blank:
                continue
            text = line.text.strip()
            if _TOC_TITLE.match(text.replace("\t", " ").strip()):
                inside = True
                self.drop(i, "contents table")
                continue
            if not inside:
                continue
            m = _TOC_APPENDIX.match(text)
            if m:
                title = collapse(re.sub(r"\t+\s*\d{1,3}$", "", m.group(3)))
                if title and not title.isdigit():
                    label = _appendix_label(m.group(1), m.group(2))
                    self.appendix_titles[_key(title)] = (label[0], label[1])
            numbered = _NUMBERED.match(text)
            counting = False
            if (
                numbered
                and heading_like(numbered.group(4))
                and "." not in _normalise_number(numbered.group(1))
            ):
                number = int(_normalise_number(numbered.group(1)))
                counting, last_number = number > last_number, max(number, last_number)
            entry = _TOC_ENTRY.match(text) or _TOC_LABELLED.match(text) or _TOC_HEADER.match(text)
            if entry or m or counting or (_APPENDIX.match(text) and heading_like(text)):
                self.drop(i, "contents table")
            else:
                inside = False

    def declarations(self) -> None:
        """A declaration form ("Employees Declaration", "I (print name)", "Signed:") runs to the next appendix
        or numbered section, or to the end."""
        inside = False
        for i, line in enumerate(self.lines):
            if line.blank:
                continue
            text = line.text
            if not inside and _DECLARATION.search(text) and (heading_like(text) or all_caps(text)):
                inside = self.form_follows(i)
            elif inside and (_APPENDIX.match(text) and heading_like(text) or _top_level_heading(text)):
                inside = False
            if inside:
                self.drop(i, "declaration form")

    def form_follows(self, i: int, window: int = 12) -> bool:
        """Is there a form to fill in ("I (print name)", "Signed:") within the next few lines?"""
        following = [ln.text for ln in self.lines[i + 1 :] if not ln.blank][:window]
        return any(_FORM_CUE.search(t) or _FORM_FIELD.search(t) for t in following)

    @staticmethod
    def contact_detail(text: str) -> bool:
        t = text.strip()
        if _EMAIL.match(t) or _URL.match(t) or (_PHONE.match(t) and sum(c.isdigit() for c in t) >= 9):
            return True
        return bool(_POSTCODE.search(t)) and len(t.split()) <= 8 and not _ends_sentence(t, ".!?:")

    @staticmethod
    def document_control(text: str, before_body: bool, alone: bool) -> bool:
        """Version, date, review and approval lines ("Next Review Date<tab>January 2020", "Updated February
        2022"); before the body also any two-column details row. In the body such a line must carry a value
        (a date, a number, a colon or a tab), so that a heading such as "Review" stays."""
        if _structural(text):
            return False
        t = text.replace("\t", " ").strip()
        words = t.split()
        if len(words) > 16 or _ends_sentence(t, ".!?"):
            return False
        labelled = bool(_APPROVAL.match(t) or _CONTROL_WORDS.match(t)) and len(words) <= 10
        dated = bool(_date_in(t))
        if before_body:
            if labelled or (dated and len(words) <= 8):
                return True
            return "\t" in text and len(text.split("\t", 1)[0].split()) <= 6
        has_value = dated or "\t" in text or ":" in t or bool(re.search(r"\d", t))
        return (labelled and has_value) or (dated and alone and len(words) <= 4)

    @staticmethod
    def banner_candidate(line: _Line) -> bool:
        """Not a list item, numbered clause or styled heading, not a lead-in, and short."""
        if line.blank or len(line.text) > 120 or _structural(line.text) or line.text.rstrip()[-1] in ":;,":
            return False
        return _docx_list_level(line.style) is None and not _docx_heading(line.style)

    def running_banners(self) -> None:
        """Lines repeated through the document that cut sentences (page headers and footers), and short lines
        repeated three or more times, are dropped everywhere."""
        counts: Counter[str] = Counter()
        for line in self.lines:
            if self.banner_candidate(line):
                counts[collapse(line.text)] += 1
        repeated = {text for text, n in counts.items() if n >= 2}
        banners = {
            t for t in repeated if counts[t] >= 3 and len(t.split()) <= 12 and not _ends_sentence(t, ".")
        }
        i = 0
        while i < len(self.lines):
            if self.lines[i].blank or collapse(self.lines[i].text) not in repeated:
                i += 1
                continue
            j = i
            run: list[str] = []
            while j < len(self.lines) and (self.lines[j].blank or collapse(self.lines[j].text) in repeated):
                if not self.lines[j].blank:
                    run.append(collapse(self.lines[j].text))
                j += 1
            before = next((x for x in reversed(self.lines[:i]) if not x.blank), None)
            after = self.lines[j] if j < len(self.lines) else None
            if (
                before is not None
                and after is not None
                and not _ends_sentence(before.text)
                and after.text[:1].islower()
            ):
                banners.update(run)
            i = j
        for i, line in enumerate(self.lines):
            if not line.blank and collapse(line.text) in banners:
                self.drop(i, "running page banners")


def _top_level_heading(text: str) -> bool:
    m = _NUMBERED.match(text)
    return bool(m) and "." not in _normalise_number(m.group(1)) and heading_like(m.group(4))


def _key(title: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", title.lower()))


# -- metadata ----------------------------------------------------------------------------------------------------

_TITLE_WORDS = re.compile(
    r"\b(policy|guidance|guidelines|procedure|protocol|code of conduct|statement)\b", re.I
)
_ISSUER = re.compile(
    r"(?<![\w/])((?:[A-Z][A-Za-z'’-]+ (?:(?:of|upon|on) )?){1,6})"
    r"(Council|Academy Trust|Trust|Partnership|Federation)\b"
)
_ISSUER_SKIP = frozenset({"The", "This", "That", "A", "An", "Our", "Each", "Every", "Any", "Whole"})
_COUNCIL_WORDS = frozenset(
    {"County", "Borough", "City", "District", "Metropolitan", "Town", "Parish", "Unitary"}
)


@dataclass(frozen=True)
class _Metadata:
    title: str | None = None
    issuer: str | None = None
    date: str | None = None
    version: str | None = None
    review_date: str | None = None


def _detect_metadata(lines: Sequence[_Line], front_end: int, tail: int = 20) -> _Metadata:
    """Title from the front matter; issuer from the whole text; date, version and review date from short lines
    of the front matter and of the last `tail` lines, where document-control tables sit."""
    front = [ln for ln in lines[:front_end] if not ln.blank]
    front_ids = {id(ln) for ln in front}
    end = [ln for ln in lines[front_end:] if not ln.blank][-tail:]
    short = [ln for ln in [*front, *end] if len(ln.text.split()) <= 12]

    titles: list[str] = []
    for ln in front:
        text = collapse(ln.text)
        hinted = bool(ln.style and ln.style.lower() in ("title", "heading 1")) or text.startswith("#")
        text = _MD_HEADING.sub(r"\2", text)
        if _TOC_TITLE.match(text) or "\t" in ln.text or _FORM_FIELD.search(text):
            continue
        if (
            (hinted or heading_like(text) or all_caps(text))
            and _TITLE_WORDS.search(text)
            and len(text) <= 100
        ):
            text = collapse(_MONTH_YEAR.sub("", text)).strip(" -–,")
            titles.append(title_case(text))
    title = max(titles, key=len) if titles else None

    issuers: Counter[str] = Counter()
    for ln in lines:
        for m in _ISSUER.finditer(ln.text):
            words = m.group(1).split()
            while words and words[0] in _ISSUER_SKIP:
                words.pop(0)
            if words and any(w not in _COUNCIL_WORDS for w in words if w[0].isupper()):
                issuers[" ".join([*words, m.group(2)])] += 1
    issuer = issuers.most_common(1)[0][0] if issuers else None

    version = review = date = None
    dated: list[tuple[int, str]] = []
    for ln in short:
        text = collapse(ln.text)
        found = _date_in(text)
        if re.search(
            r"\b(next review|review date|review due|due for review|to be reviewed|date of review)\b",
            text,
            re.I,
        ):
            review = review or found
            continue
        m = re.search(r"\b(?:version|ver\.?)\s*(\d+(?:\.\d+)*)\b", text, re.I)
        if m and version is None:
            version = f"Version {m.group(1)}"
        if found and id(ln) in front_ids:
            rank = (
                0
                if re.search(r"\b(produced|updated|revised|issued|published|effective)\b", text, re.I)
                else 1
            )
            if _APPROVAL.match(text) or re.search(r"\badopted\b", text, re.I):
                rank = 2
            dated.append((rank, text))
            if rank == 0 and version is None and re.match(r"^(updated|revised)\b", text, re.I):
                version = text
    if dated:
        dated.sort(key=lambda d: d[0])
        date = _date_in(dated[0][1])
    return _Metadata(title, issuer, date, version, review)


# -- structure -----------------------------------------------------------------------------------------------------


@dataclass
class _Item:
    kind: str  # "heading" | "appendix" | "numbered" | "bullet" | "lettered" | "text"
    text: str
    line: int
    number: str | None = None  # "6.4" for numbered items, "a" for lettered ones
    indent: int = 0
    hinted: bool = False  # a heading by its Word style or Markdown '#'
    lines: int = 1
    heading: bool = False  # numbered items: a section title rather than a clause


def _docx_list_level(style: str | None) -> int | None:
    if not style:
        return None
    m = re.search(r"\[list (\d+)\]$", style)
    if m:
        return int(m.group(1))
    m = re.match(r"^List (Bullet|Number|Continue)(?: (\d))?", style)
    if m:
        return int(m.group(2) or 1) - 1
    return None


def _docx_heading(style: str | None) -> bool:
    return bool(style) and bool(re.match(r"^(Heading \d|Title|Subtitle)\b", style or ""))


def _tokenise(line: _Line) -> _Item:
    text = line.text
    if _docx_heading(line.style):
        return _classify_numbered(_Item("heading", collapse(text), line.no, hinted=True))
    m = _MD_HEADING.match(text)
    if m:
        return _classify_numbered(_Item("heading", collapse(m.group(2)), line.no, hinted=True))
    level = _docx_list_level(line.style)
    indent = line.indent
    if level is not None:
        indent, body = level * 2, text
        m = _BULLET.match(text)
        if m:
            body = m.group(2)
        return _inner_list_item(body, line.no, indent)
    m = _BULLET.match(text)
    if m:
        return _inner_list_item(m.group(2), line.no, indent)
    m = _LETTERED.match(text)
    if m:
        return _Item("lettered", m.group("text"), line.no, m.group("a") or m.group("b"), indent)
    m = _NUMBERED.match(text)
    if m and (m.group(2) or "." in m.group(1) or "\t" in m.group(3)):
        return _Item("numbered", m.group(4), line.no, _normalise_number(m.group(1)), indent)
    if _NUMBER_ONLY.match(text):
        return _Item("number_only", "", line.no, _normalise_number(text.rstrip(".")), indent)
    return _Item("text", text, line.no, indent=indent)


def _inner_list_item(body: str, line: int, indent: int) -> _Item:
    """A bullet whose text starts with a section number ("- 7.2. Employees ...") is that numbered clause."""
    m = _NUMBERED.match(body)
    if m and (m.group(2) or "." in m.group(1)):
        return _Item("numbered", m.group(4), line, _normalise_number(m.group(1)), indent)
    m = _LETTERED.match(body)
    if m:
        return _Item("lettered", m.group("text"), line, m.group("a") or m.group("b"), indent)
    return _Item("bullet", body, line, indent=indent)


def _classify_numbered(item: _Item) -> _Item:
    m = _NUMBERED.match(item.text)
    if m:
        return replace(
            item, kind="numbered", text=m.group(4), number=_normalise_number(m.group(1)), heading=True
        )
    return item


def _assemble(lines: Sequence[_Line]) -> list[_Item]:
    """Lines into items: a paragraph's lines joined, a sentence cut by a blank line (or a dropped banner) joined
    again, and one-line title-like paragraphs made headings."""
    items: list[_Item] = []
    blank_before = True
    pending_number: _Item | None = None
    for line in lines:
        if line.blank:
            blank_before = True
            continue
        item = _tokenise(line)
        if item.kind == "number_only":
            pending_number = item
            blank_before = False
            continue
        if pending_number is not None:
            if item.kind == "text":
                item = replace(pending_number, kind="numbered", text=item.text)
            pending_number = None
        prev = items[-1] if items else None
        if item.kind == "text" and prev is not None and _continues(prev, item.text, blank_before):
            prev.text = f"{prev.text} {item.text}"
            prev.lines += 1
            blank_before = False
            continue
        items.append(item)
        blank_before = False
    for item in items:
        text = collapse(item.text)
        item.text = text
        if item.kind == "text" and item.lines == 1:
            m = _APPENDIX.match(text)
            if m and (heading_like(text) or not m.group("title")) and len(text.split()) <= 12:
                item.kind = "appendix"
            elif heading_like(text) or (
                all_caps(text) and len(text.split()) <= 15 and not text.endswith(".")
            ):
                item.kind = "heading"
        elif item.kind == "heading":
            m = _APPENDIX.match(text)
            if m and len(text.split()) <= 12:
                item.kind = "appendix"
    _mark_numbered_headings(items)
    return items


def _continues(prev: _Item, text: str, blank_before: bool) -> bool:
    """Does a plain text line carry on the item before it?"""
    if prev.kind not in ("text", "numbered", "bullet", "lettered") or prev.heading:
        return False
    if blank_before:
        return not _ends_sentence(prev.text) and text[:1].islower()
    if heading_like(text) and _ends_sentence(prev.text, ".!?:"):
        return False
    # a one-line title followed by a capitalised line (a PDF heading above its paragraph) stays a heading
    titled = prev.kind in ("text", "numbered") and prev.lines == 1 and heading_like(prev.text)
    return not (titled and text[:1].isupper())


def _mark_numbered_headings(items: list[_Item]) -> None:
    """A numbered title-like line is a section heading when something sits under it (text, a list, deeper
    numbers). When the next sibling number follows directly ("1. Do not respond ...", "2. If possible, ...") or
    nothing follows before the next heading, the line is a short numbered clause instead."""
    for i, item in enumerate(items):
        if item.kind != "numbered" or (item.heading and item.hinted):
            continue
        if not heading_like(item.text) and not (all_caps(item.text) and not item.text.endswith(".")):
            item.heading = False
            continue
        number = item.number or ""
        nxt = items[i + 1] if i + 1 < len(items) else None
        if nxt is None or nxt.kind in ("heading", "appendix"):
            item.heading = False
        elif nxt.kind == "numbered" and nxt.number is not None:
            item.heading = nxt.number.startswith(number + ".") or not _adjacent(
                number, nxt.number, forward=True
            )
        else:
            item.heading = True


def _adjacent(number: str, other: str, forward: bool) -> bool:
    parent, _, last = number.rpartition(".")
    other_parent, _, other_last = other.rpartition(".")
    return parent == other_parent and int(other_last) == int(last) + (1 if forward else -1)


# -- clauses -------------------------------------------------------------------------------------------------------

_OPENER = re.compile(r"(:|\b(for example|for instance|e\.g\.?|such as|including|by)\s*[;,]?)$", re.I)


@dataclass
class _Raw:
    base: str
    section: str
    heading: str | None
    lead_in: str | None
    text: str
    kind: str
    path: tuple[int, ...]
    group: str
    line: int


@dataclass
class _Open:
    indent: int
    text: str
    lead_in: str | None
    path: tuple[int, ...]
    opener: bool
    flat: bool = False  # a child at its parent's indentation ("for example by:" items in a flat list)
    children: int = 0
    indented: bool = False  # its children are indented under it, so a later item at its level is a sibling


@dataclass
class _Scope:
    """A numbering scope: the main body, an appendix, or a named part (front matter, an unnumbered part after
    the numbered body) with numbering of its own."""

    section: str = ""  # prefix for section labels: "", "Appendix A", "Appendix 1 Staff actions"
    slug: str = ""  # prefix for clause ids: "", "appendix_a", "appendix1.staff_actions"
    heading: str | None = None  # the part's own heading
    group: str = ""  # for the summary; the main body groups by top-level number
    appendix: bool = False
    root_section: str = ""  # an appendix's own label, without a sub-heading
    root_slug: str = ""
    untitled: bool = False  # an appendix whose title is the next heading
    top: str | None = None
    top_heading: str | None = None
    sub: str | None = None
    sub_heading: str | None = None
    subheading: str | None = None  # an unnumbered heading inside a numbered section
    last: dict[str, int] = field(default_factory=dict)


class _Builder:
    def __init__(self, items: list[_Item], appendix_titles: dict[str, tuple[str, str]]):
        self.items = items
        self.appendix_titles = appendix_titles
        self.main = _Scope()
        self.scope = self.main
        self.raws: list[_Raw] = []
        self.warnings: list[str] = []
        self.stack: list[_Open] = []
        self.owner: str | None = None  # the paragraph that a list after it hangs from
        self.bullets: Counter[str] = Counter()
        self.groups: dict[str, str] = {}

    def run(self) -> None:
        for i, item in enumerate(self.items):
            getattr(self, f"on_{item.kind}")(i, item)

    # -- where we are
    def place(self) -> tuple[str, str, str | None] | None:
        """(id base, section label, heading) for a clause here, or None before any heading."""
        s = self.scope
        key = s.sub or s.top
        if key is None and not s.section:
            return None
        base = ".".join(p for p in (s.slug, key) if p)
        section = " ".join(p for p in (s.section, key) if p)
        heading = s.subheading or (s.sub_heading if s.sub else None) or s.top_heading or s.heading
        return base, section, heading

    def group(self) -> str:
        return self.scope.group or self.scope.top or ""

    def reset(self) -> None:
        self.stack.clear()
        self.owner = None

    def enter(self, scope: _Scope) -> None:
        self.reset()
        self.scope = scope
        if scope.group not in self.groups or not self.groups[scope.group]:
            self.groups[scope.group] = scope.heading or scope.section

    # -- numbering
    def numbering(self) -> _Scope:
        """The scope whose numbering a number here continues: a named part without numbers of its own gives
        way to the main body."""
        s = self.scope
        return s if s is self.main or s.appendix or s.top is not None else self.main

    @staticmethod
    def relation(scope: _Scope, number: str) -> str:
        first = int(number.split(".", 1)[0])
        if scope.top is None:
            return "starts" if first == 1 else "other"
        current = int(scope.top)
        return "same" if first == current else "next" if first == current + 1 else "other"

    def next_number(self, i: int) -> str | None:
        for item in self.items[i + 1 :]:
            if item.kind == "numbered":
                return item.number
            if item.kind == "appendix":
                return None
        return None

    def set_top(self, top: str, heading: str | None, line: int) -> None:
        s = self.scope
        self.check_sequence(top, line)
        s.top, s.top_heading, s.sub, s.sub_heading, s.subheading = top, heading, None, None, None
        if s is self.main and not self.groups.get(top):
            self.groups[top] = heading or ""

    def check_sequence(self, number: str, line: int) -> None:
        parent, _, last = number.rpartition(".")
        value = int(last)
        seen = self.scope.last.get(parent)
        if seen is not None and value == seen:
            return
        where = f" in {self.scope.section}" if self.scope.section else ""
        prefix = f"{parent}." if parent else ""
        expected = 1 if seen is None else seen + 1
        if value > expected:
            missing = f"{prefix}{expected}" + (f" to {prefix}{value - 1}" if value > expected + 1 else "")
            self.warnings.append(f"line {line}: numbering gap{where}: {missing} missing before {number}")
        elif seen is not None and value < expected:
            self.warnings.append(f"line {line}: numbering goes back{where}: {number} after {prefix}{seen}")
        self.scope.last[parent] = value

    # -- items
    def on_appendix(self, i: int, item: _Item) -> None:
        m = _APPENDIX.match(item.text)
        assert m is not None
        title = title_case(m.group("title").strip(" -–—:")) or None
        s = self.scope
        prev = self.items[i - 1] if i else None
        if prev is not None and prev.kind == "appendix" and s.appendix and not m.group("id"):
            # "Appendix 1" then "Appendix - Advice on cyberbullying": one appendix with its title
            if title:
                s.heading, s.untitled = title, False
                self.groups[s.group] = title
            return
        label, slug = _appendix_label(m.group("word"), m.group("id"))
        self.enter(_Scope(label, slug, title or label, label, True, label, slug, untitled=title is None))

    def on_heading(self, i: int, item: _Item) -> None:
        self.reset()
        title = title_case(item.text)
        s = self.scope
        mapped = self.appendix_titles.get(_key(item.text))
        if mapped and not (s.appendix and s.root_section == mapped[0]):
            label, slug = mapped
            self.enter(_Scope(label, slug, title, label, True, label, slug))
            return
        if s.appendix:
            if s.untitled and not self.has_content():
                s.heading, s.untitled = title, False
                self.groups[s.group] = title
                return
            self.scope = _Scope(
                f"{s.root_section} {title}",
                f"{s.root_slug}.{_slug(title)}",
                title,
                s.group,
                True,
                s.root_section,
                s.root_slug,
            )
            return
        following = self.next_number(i)
        if following is not None:
            numbering = self.numbering()
            relation = self.relation(numbering, following)
            nxt = self.items[i + 1] if i + 1 < len(self.items) else None
            implied = (
                "." in following and nxt is not None and nxt.kind == "numbered" and nxt.number == following
            )
            if implied and relation in ("starts", "next"):
                # a Word heading numbered automatically: its number is the one its first sub-clause implies
                self.scope = numbering
                self.set_top(following.split(".", 1)[0], title, item.line)
                return
            if numbering.top is not None and numbering is s and relation in ("same", "next"):
                s.subheading = title
                return
        self.enter(_Scope(title, _slug(title), title, title))

    def has_content(self) -> bool:
        return bool(self.raws) and self.raws[-1].group == self.scope.group

    def on_numbered(self, i: int, item: _Item) -> None:
        self.stack.clear()
        number = item.number or "1"
        s = self.scope
        named = s is not self.main and not s.appendix and s.top is None
        if named and self.relation(self.main, number) in ("starts", "same", "next"):
            self.enter(self.main)  # the numbered body starts (or resumes) after a named part
            s = self.scope
        parts = number.split(".")
        if s.top != parts[0]:
            self.set_top(parts[0], None, item.line)
        for depth in range(2, len(parts) + 1):
            self.check_sequence(".".join(parts[:depth]), item.line)
        if item.heading:
            title = title_case(item.text)
            if len(parts) == 1:
                s.top_heading = title
                if s is self.main and not self.groups.get(parts[0]):
                    self.groups[parts[0]] = title
            else:
                s.sub, s.sub_heading, s.subheading = number, title, None
            self.owner = None
            return
        s.sub = number if len(parts) > 1 else None
        s.sub_heading = s.subheading = None
        self.paragraph(item)

    def on_text(self, i: int, item: _Item) -> None:
        self.stack.clear()
        self.paragraph(item)

    def paragraph(self, item: _Item) -> None:
        place = self.place()
        if place is None:
            self.unplace(item)
            return
        base, section, heading = place
        self.add(base, section, heading, None, item.text, "paragraph", (), item.line)
        self.owner = item.text

    def on_lettered(self, i: int, item: _Item) -> None:
        self.on_bullet(i, item)

    def on_bullet(self, i: int, item: _Item) -> None:
        place = self.place()
        if place is None:
            self.unplace(item)
            return
        base, section, heading = place
        if item.kind == "lettered":
            section = f"{section}({item.number})" if section[-1:].isdigit() else f"{section} ({item.number})"
        opener = bool(_OPENER.search(item.text))
        st = self.stack
        parent: _Open | None = None
        sibling: _Open | None = None
        if st:
            top = st[-1]
            if item.indent > top.indent:
                if top.opener:
                    parent = top  # nested by indentation under "..., for example by:"
                else:
                    sibling = top  # deeper indentation under an item that opens nothing: same list
            else:
                while len(st) > 1 and st[-1].indent > item.indent:
                    st.pop()
                top = st[-1]
                if top.flat and opener:
                    st.pop()  # a new "..., for example by:" item closes the flat sub-list
                    top = st[-1]
                if top.opener and not opener and not top.flat and not top.indented:
                    parent = top  # a flat list: items after "..., for example by:" belong to it
                else:
                    sibling = top
        flat = False
        if sibling is not None:
            st.pop()
            parent = st[-1] if st else None
            flat = sibling.flat
            indent = min(sibling.indent, item.indent)
        elif parent is not None:
            flat = item.indent <= parent.indent
            indent = parent.indent if flat else item.indent
            parent.indented = parent.indented or not flat
        else:
            indent = item.indent
        if parent is None:
            self.bullets[base] += 1
            path: tuple[int, ...] = (self.bullets[base],)
            lead = None
            if self.owner and not _ends_sentence(self.owner, ".!?"):
                lead = last_sentence(self.owner)
        else:
            parent.children += 1
            path = (*parent.path, parent.children)
            lead = f"{parent.lead_in} {parent.text}" if parent.lead_in else parent.text
        st.append(_Open(indent, item.text, lead, path, opener, flat))
        self.add(base, section, heading, lead, item.text, "bullet", path, item.line)

    def unplace(self, item: _Item) -> None:
        self.warnings.append(f"line {item.line}: could not place text before any heading: {item.text[:80]!r}")

    def add(
        self,
        base: str,
        section: str,
        heading: str | None,
        lead_in: str | None,
        text: str,
        kind: str,
        path: tuple[int, ...],
        line: int,
    ) -> None:
        self.raws.append(
            _Raw(base, section, heading, lead_in, collapse(text), kind, path, self.group(), line)
        )


def _assign_ids(policy_id: str, raws: list[_Raw]) -> list[DraftClause]:
    paragraphs = Counter(r.base for r in raws if r.kind == "paragraph")
    seen_p: Counter[str] = Counter()
    used: set[str] = set()
    clauses = []
    for r in raws:
        if r.kind == "paragraph":
            seen_p[r.base] += 1
            suffix = f".p{seen_p[r.base]}" if paragraphs[r.base] > 1 else ""
        else:
            suffix = ".b" + ".".join(str(n) for n in r.path)
        base = r.base.lower().replace(" ", "_")
        cid = f"{policy_id}.{base}{suffix}" if base else f"{policy_id}{suffix}"
        unique, n = cid, 1
        while unique in used:
            n += 1
            unique = f"{cid}-{n}"
        used.add(unique)
        clauses.append(DraftClause(unique, r.section, r.heading, r.lead_in, r.text, r.kind, r.group, r.line))
    return clauses


def _body_start(lines: Sequence[_Line]) -> int:
    """Index of the first numbered section line that is not a contents entry (len(lines) if none): what comes
    before it is the front matter, where document-details rows are left out."""
    for i, line in enumerate(lines):
        if line.blank or (line.style or "").lower().startswith("toc"):
            continue
        text = line.text
        bullet = _BULLET.match(text)
        m = _NUMBERED.match(bullet.group(2) if bullet else text)
        if m and (m.group(2) or "." in m.group(1)) and not _NUMBERED_TOC_LINE.match(text):
            return i
    return len(lines)


def parse_document(
    blocks: Sequence[Block], policy_id: str, *, source: str | None = None, title: str | None = None
) -> DraftPolicy:
    """Blocks from `read_document` into a DraftPolicy: metadata, clauses with ids, warnings."""
    lines = _to_lines(blocks)
    front_end = _body_start(lines)
    furniture = _Furniture(lines)
    furniture.contents()
    furniture.declarations()
    meta = _detect_metadata(lines, front_end)  # before page banners go: a repeated title is still a title
    lines = furniture.run(front_end)
    items = _assemble(lines)
    builder = _Builder(items, furniture.appendix_titles)
    builder.run()
    clauses = _assign_ids(policy_id, builder.raws)
    warnings = list(builder.warnings)
    for c in clauses:
        if len(c.text) > LONG_CLAUSE:
            warnings.append(
                f"line {c.line}: clause {c.id} is {len(c.text)} characters; check it is one clause"
            )
    final_title = title or meta.title
    if not final_title:
        warnings.append("no title found in the document: give --name or fill in `title:`")
    if not meta.issuer:
        warnings.append("no issuer (the council or body that wrote the policy) found: fill in `issuer:`")
    if not clauses:
        warnings.append("no clauses found")
    used_groups = {c.group for c in clauses}
    groups = tuple((g, h) for g, h in builder.groups.items() if g in used_groups)
    return DraftPolicy(
        id=policy_id,
        title=final_title,
        issuer=meta.issuer,
        date=meta.date,
        version=meta.version,
        review_date=meta.review_date,
        source=source,
        clauses=tuple(clauses),
        warnings=tuple(warnings),
        skipped=tuple(sorted(furniture.skipped.items(), key=lambda kv: -kv[1])),
        group_titles=groups,
    )


def import_policy(path: Path | str, policy_id: str, *, title: str | None = None) -> DraftPolicy:
    """Read and parse one document; `policy_id` must look like an id."""
    check_policy_id(policy_id)
    path = Path(path)
    return parse_document(read_document(path), policy_id, source=path.name, title=title)


def check_policy_id(policy_id: str) -> str:
    if not SCHOOL_ID.match(policy_id or ""):
        raise PolicyImportError(
            f"{policy_id!r} is not a school id: use lower-case letters, digits, '_' and '-' (e.g. st-marys)"
        )
    return policy_id


# -- summary -------------------------------------------------------------------------------------------------------


def group_label(group: str, title: str | None) -> str:
    """A group as the summary shows it: "6. Use of social media at work", "Appendix 1: Advice on cyberbullying"."""
    if not title or title == group:
        return group
    return f"{group}. {title}" if group[:1].isdigit() else f"{group}: {title}"


def summary_lines(policy: DraftPolicy) -> list[str]:
    """Clause counts per top-level section, the detected metadata, what was left out, and every warning."""
    titles = dict(policy.group_titles)
    counts: Counter[str] = Counter(c.group for c in policy.clauses)
    out = [f"{len(policy.clauses)} draft clauses in {len(counts)} sections:"]
    out.extend(f"  {counts[g]:>4}  {group_label(g, titles.get(g))}" for g in counts)
    meta = {k: getattr(policy, k) for k in ("title", "issuer", "date", "version", "review_date")}
    out.append("detected: " + ", ".join(f"{k}={v!r}" if v else f"{k}=null" for k, v in meta.items()))
    if policy.skipped:
        out.append("left out: " + ", ".join(f"{what} ({n} lines)" for what, n in policy.skipped))
    if policy.warnings:
        out.append(f"{len(policy.warnings)} warning(s):")
        out.extend(f"  warning: {w}" for w in policy.warnings)
    return out


# -- YAML --------------------------------------------------------------------------------------------------------


def draft_document(policy: DraftPolicy, *, today: dt.date | None = None, folded: bool = True) -> CommentedMap:
    """The draft as round-trip YAML data, with the comments a reviewer needs: what to check, and each section.

    Strings are double-quoted (`null` where the document gave nothing), as HR write them; with `folded`, a text
    too long for one line of 110 columns is folded into a `>-` block at word boundaries.
    """
    generated = (today or dt.date.today()).isoformat()
    meta = CommentedMap([("id", _string(policy.id))])
    for key in ("title", "issuer", "date", "version", "review_date", "source"):
        meta[key] = _string(getattr(policy, key))
    clauses = CommentedSeq()
    titles = dict(policy.group_titles)
    headings: dict[int, str] = {}  # clause index -> the heading comment of the section it starts
    for c in policy.clauses:
        if not clauses or c.group != policy.clauses[len(clauses) - 1].group:
            heading = collapse(group_label(c.group, titles.get(c.group)))
            if heading:
                headings[len(clauses)] = heading
        clauses.append(
            CommentedMap(
                [
                    ("id", c.id if _PLAIN_ID.match(c.id) else _string(c.id)),
                    ("section", _string(c.section)),
                    ("heading", _string(c.heading)),
                    ("lead_in", _text("lead_in", c.lead_in, folded)),
                    ("text", _text("text", c.text, folded)),
                    # Empty for HR to fill: the importer does not guess topics, contacts or questions.
                    ("topics", CommentedSeq()),
                    ("contacts", CommentedSeq()),
                    ("examples", CommentedSeq()),
                ]
            )
        )
    for index, heading in headings.items():  # ruamel.yaml hangs a comment on an item that is already there
        clauses.yaml_set_comment_before_after_key(index, before=heading, indent=2)
    document = CommentedMap([("policy", meta), ("topic_notes", CommentedMap()), ("clauses", clauses)])
    document.yaml_set_start_comment(
        f"DRAFT imported from {policy.source or 'a document'} by `policybot kb import` on {generated}.\n"
        "HR: check every clause against the document, fill in topics, contacts, examples and topic_notes,\n"
        "then run `policybot kb validate`. Remove this comment when the file is reviewed."
    )
    return document


_PLAIN_ID = re.compile(r"^[a-z][a-z0-9_.\-]*$")
_CLAUSE_INDENT = 4  # a clause's keys sit under `  - `


def _string(value: str | None) -> DoubleQuotedScalarString | None:
    return None if value is None else DoubleQuotedScalarString(value)


def _text(key: str, value: str | None, folded: bool) -> DoubleQuotedScalarString | FoldedScalarString | None:
    """A clause text: on one line when it fits 110 columns, else (with `folded`) folded at word boundaries."""
    one_line = _CLAUSE_INDENT + len(key) + 2 + len(json.dumps(value, ensure_ascii=False))
    if value is None or not folded or one_line <= YAML_WIDTH:
        return _string(value)
    width = YAML_WIDTH - _CLAUSE_INDENT - 2  # the folded lines sit two columns in from the key
    folds: list[int] = []  # the spaces that become line breaks
    line, start = 0, 0  # the length of the line so far; where the next word starts in `value`
    for word in value.split(" "):
        if line and line + 1 + len(word) > width:
            folds.append(start - 1)
            line = len(word)
        else:
            line = line + 1 + len(word) if line else len(word)
        start += len(word) + 1
    text = FoldedScalarString(value)
    text.fold_pos = folds
    return text


def render_yaml(policy: DraftPolicy, *, today: dt.date | None = None) -> str:
    """The draft in the knowledge-base schema; long texts folded at 110 columns, checked to read back the same."""
    expected = [(c.id, c.section, c.heading, c.lead_in, c.text) for c in policy.clauses]
    for folded in (True, False):
        text = kbedit.dump(draft_document(policy, today=today, folded=folded))
        try:
            data = kbedit.plain(text)
        except kbedit.Unreadable:
            continue
        got = [
            (c["id"], c["section"], c["heading"], c["lead_in"], c["text"]) for c in data.get("clauses") or []
        ]
        if got == expected and data["policy"]["id"] == policy.id:
            return text
    raise PolicyImportError("internal error: the draft YAML does not read back as written")


# -- writing -----------------------------------------------------------------------------------------------------


class DraftRejected(PolicyImportError):
    """The draft would have made the knowledge base invalid, so it was not kept. `problems` are the errors."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()):
        super().__init__(message)
        self.problems = tuple(problems)


def draft_path(knowledge_dir: Path | str, policy_id: str) -> Path:
    return Path(knowledge_dir) / "policies" / f"{check_policy_id(policy_id)}.yaml"


def write_draft(
    policy: DraftPolicy, knowledge_dir: Path | str, *, force: bool = False, text: str | None = None
) -> Path:
    """Write `policies/<id>.yaml` under `knowledge_dir` atomically, and keep it only if the knowledge base
    still validates (errors it had already aside).

    Without `force` an existing file is never replaced, even one created while the draft was being written.
    A draft that adds errors is removed (or, with `force`, the file it replaced put back) and DraftRejected
    names the errors.
    """
    knowledge_dir = Path(knowledge_dir)
    if not knowledge_dir.is_dir():
        raise PolicyImportError(f"knowledge directory not found: {knowledge_dir}")
    target = draft_path(knowledge_dir, policy.id)
    if target.exists() and not force:
        raise PolicyImportError(f"{target} already exists; use --force to overwrite it")
    content = text if text is not None else render_yaml(policy)
    target.parent.mkdir(exist_ok=True)
    blanks = _blanks_for_hr(target, content)
    try:
        kbedit.write_checked(
            target, content.encode("utf-8"), knowledge_dir, create_only=not force, expected=blanks
        )
    except kbedit.AlreadyExists:
        raise PolicyImportError(f"{target} already exists; use --force to overwrite it") from None
    except kbedit.EditRejected as exc:
        first = f": {exc.problems[0]}" if exc.problems else ""
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        raise DraftRejected(f"{exc.user_message}{first}{more}", exc.problems) from exc
    return target


def _blanks_for_hr(target: Path, content: str) -> Callable[[Problem], bool]:
    """The errors a draft is meant to have: on the `policy:` lines it leaves `null` for HR to fill in.

    A document that does not state its title or issuer gives a draft the knowledge base cannot load yet; the
    summary has already told HR to fill them in, so those errors are theirs to fix, not a reason to refuse
    the draft. Any other error it adds (it does not parse, it clashes with another file) is.
    """
    try:
        data = kbedit.load(content, target)
        meta = data["policy"]
        lines = {meta.lc.key(key)[0] + 1 for key, value in meta.items() if value is None}
    except (kbedit.Unreadable, AttributeError, KeyError, TypeError):
        return lambda _problem: False

    def expected(problem: Problem) -> bool:
        parts = Path(problem.file).parts  # the loader names files from the knowledge directory's parent
        return problem.line in lines and bool(parts) and target.parts[-len(parts) :] == parts

    return expected


def normalise_for_match(text: str) -> str:
    """Lower case, one space, no asterisks or quotes: how a draft's text is compared with a curated clause."""
    text = re.sub(r"[*'\"‘’“”]", "", text.lower())
    return collapse(text)

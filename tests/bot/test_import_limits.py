"""`kb import` refuses a document past a stated limit, with a message naming it (issue 12, failure 8).

Each test builds a small file and lowers the one limit it trips, so the suite never writes a large file.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import import_limits
from bot.cli import cli
from bot.errors import PolicyImportError
from bot.import_limits import DocumentTooLarge
from bot.importer import import_policy, read_document
from tests.bot.test_importer import pdf_bytes

POLICY = "Social Media Policy\n\n1. Scope\n\n1.1 This policy applies to all staff.\n"


def word_document(path: Path, paragraphs: list[str]) -> Path:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(str(path))
    return path


def zip_with(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def understate(data: bytes, member: str, size: int) -> bytes:
    """`data` with `member`'s uncompressed size rewritten as `size` in its local and central headers."""
    out = bytearray(data)
    name = member.encode()
    local = out.find(b"PK\x03\x04")
    while local >= 0:
        name_len = struct.unpack_from("<H", out, local + 26)[0]
        if out[local + 30 : local + 30 + name_len] == name:
            struct.pack_into("<I", out, local + 22, size)
        local = out.find(b"PK\x03\x04", local + 4)
    central = out.find(b"PK\x01\x02")
    while central >= 0:
        name_len = struct.unpack_from("<H", out, central + 28)[0]
        if out[central + 46 : central + 46 + name_len] == name:
            struct.pack_into("<I", out, central + 24, size)
        central = out.find(b"PK\x01\x02", central + 4)
    return bytes(out)


def test_the_limits_sit_far_above_a_real_policy_and_each_seed_shaped_document_imports(tmp_path: Path):
    assert import_limits.MAX_FILE_BYTES >= 10 * 1024 * 1024
    assert import_limits.MAX_PARAGRAPHS >= 10_000 and import_limits.MAX_PAGES >= 300
    (tmp_path / "p.txt").write_text(POLICY, encoding="utf-8")
    assert [c.text for c in import_policy(tmp_path / "p.txt", "p").clauses] == [
        "This policy applies to all staff."
    ]
    word = word_document(tmp_path / "p.docx", POLICY.split("\n"))
    assert [c.text for c in import_policy(word, "p").clauses] == ["This policy applies to all staff."]


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(import_limits, "MAX_FILE_BYTES", 100)
    (tmp_path / "big.txt").write_text("x" * 2048, encoding="utf-8")
    with pytest.raises(DocumentTooLarge, match=r"cannot import big\.txt: it is 2 KB; the limit is 100 bytes"):
        read_document(tmp_path / "big.txt")
    (tmp_path / "edge.txt").write_text("x" * 101, encoding="utf-8")
    with pytest.raises(DocumentTooLarge, match="it is 101 bytes; the limit is 100 bytes"):
        read_document(tmp_path / "edge.txt")
    (tmp_path / "fits.txt").write_text("x" * 100, encoding="utf-8")
    assert read_document(tmp_path / "fits.txt")


def test_a_size_that_rounds_to_the_limit_is_said_to_be_over_it(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(import_limits, "MAX_FILE_BYTES", 1024 * 1024)
    (tmp_path / "big.pdf").write_bytes(b"%" * (1024 * 1024 + 1))
    with pytest.raises(DocumentTooLarge, match="it is over 1 MB; the limit is 1 MB"):
        read_document(tmp_path / "big.pdf")


def test_a_docx_whose_members_declare_more_than_the_unpacked_limit_is_refused(tmp_path: Path, monkeypatch):
    word = word_document(tmp_path / "bomb.docx", ["1.1 Staff must not post photos of pupils."])
    monkeypatch.setattr(import_limits, "MAX_UNPACKED_BYTES", 64 * 1024)  # the default template is ~800 KB
    with pytest.raises(
        DocumentTooLarge, match=r"bomb\.docx: its archive members unpack to .*the limit is 64 KB"
    ):
        read_document(word)


def test_a_docx_whose_headers_understate_a_member_is_refused_not_trusted(tmp_path: Path):
    word = word_document(tmp_path / "liar.docx", ["1.1 Staff must not post photos of pupils."] * 50)
    # The headers claim word/document.xml unpacks to 10 bytes; reading it yields more, so it cannot be trusted.
    (tmp_path / "liar.docx").write_bytes(understate(word.read_bytes(), "word/document.xml", 10))
    with zipfile.ZipFile(tmp_path / "liar.docx") as archive:
        assert archive.getinfo("word/document.xml").file_size == 10
    # zipfile stops at the declared size and then finds the checksum wrong: refused, never read past the claim
    with pytest.raises(PolicyImportError, match=r"cannot read liar\.docx as docx: Bad CRC-32"):
        read_document(tmp_path / "liar.docx")


def test_the_unpacked_size_is_counted_while_reading_not_taken_from_the_headers(tmp_path: Path, monkeypatch):
    # Members that declare 0 bytes but hold data: the declared total passes, the running count does not.
    payload = b"<w:p/>" * 20_000
    data = bytearray(zip_with({"word/document.xml": payload}))
    data = bytearray(understate(bytes(data), "word/document.xml", 0))
    monkeypatch.setattr(import_limits, "MAX_UNPACKED_BYTES", 1024)
    read_sizes: list[int] = []
    real_open = zipfile.ZipFile.open

    def open_at_real_size(self, member, *args, **kwargs):  # stands in for a reader that believes the data
        info = self.getinfo(member) if isinstance(member, str) else member
        info.file_size = len(payload)
        read_sizes.append(info.file_size)
        return real_open(self, info, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", open_at_real_size)
    with pytest.raises(DocumentTooLarge, match="unpack to more than 1 KB; the limit is 1 KB"):
        import_limits.check_archive(bytes(data), Path("x.docx"))
    assert read_sizes == [len(payload)]


def test_a_docx_with_too_many_archive_members_is_refused_before_they_are_listed(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(import_limits, "MAX_ARCHIVE_MEMBERS", 20)
    (tmp_path / "many.docx").write_bytes(zip_with({f"word/media/image{i}.png": b"" for i in range(21)}))
    with pytest.raises(DocumentTooLarge, match="many.docx: its archive has 21 members; the limit is 20"):
        read_document(tmp_path / "many.docx")


def test_a_docx_with_too_much_markup_is_refused_before_any_xml_is_parsed(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(import_limits, "MAX_MARKUP_TAGS", 1_000)
    body = b"<w:document><w:body>" + b"<w:p/>" * 1_000 + b"</w:body></w:document>"
    (tmp_path / "tags.docx").write_bytes(zip_with({"word/document.xml": body}))
    with pytest.raises(
        DocumentTooLarge, match="tags.docx: its XML has more than 1,000 tags; the limit is 1,000"
    ):
        read_document(tmp_path / "tags.docx")


def test_a_document_past_the_paragraph_limit_is_refused_as_it_is_read(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(import_limits, "MAX_PARAGRAPHS", 30)
    (tmp_path / "long.txt").write_text("1.1 A line.\n" * 31, encoding="utf-8")
    with pytest.raises(DocumentTooLarge, match="more than 30 paragraphs or lines; the limit is 30"):
        read_document(tmp_path / "long.txt")
    word = word_document(tmp_path / "long.docx", ["1.1 A paragraph."] * 31)
    with pytest.raises(DocumentTooLarge, match=r"long\.docx: it has more than 30 paragraphs"):
        read_document(word)
    (tmp_path / "long.pdf").write_bytes(pdf_bytes([["1.1 A line."] * 31]))
    with pytest.raises(DocumentTooLarge, match=r"long\.pdf: it has more than 30 paragraphs"):
        read_document(tmp_path / "long.pdf")
    (tmp_path / "fits.txt").write_text("1.1 A line.\n" * 30, encoding="utf-8")
    assert len(read_document(tmp_path / "fits.txt")) == 30


def test_a_pdf_past_the_page_limit_is_refused_before_any_text_is_extracted(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(import_limits, "MAX_PAGES", 3)
    (tmp_path / "pages.pdf").write_bytes(pdf_bytes([[f"Page {n}"] for n in range(4)]))
    with pytest.raises(DocumentTooLarge, match=r"pages\.pdf: it has 4 pages; the limit is 3"):
        read_document(tmp_path / "pages.pdf")
    (tmp_path / "three.pdf").write_bytes(pdf_bytes([[f"Page {n}"] for n in range(3)]))
    assert read_document(tmp_path / "three.pdf")


def test_a_document_past_the_character_limit_is_refused(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(import_limits, "MAX_CHARACTERS", 1_000)
    (tmp_path / "wide.txt").write_text("word " * 201, encoding="utf-8")  # one line of 1,005 characters
    with pytest.raises(DocumentTooLarge, match="more than 1,000 characters of text; the limit is 1,000"):
        read_document(tmp_path / "wide.txt")


def test_the_cli_prints_the_limit_and_writes_no_draft(tmp_path: Path, monkeypatch):
    knowledge = tmp_path / "knowledge"
    (knowledge / "policies").mkdir(parents=True)
    (tmp_path / "big.txt").write_text(POLICY * 10, encoding="utf-8")
    monkeypatch.setattr(import_limits, "MAX_FILE_BYTES", 100)
    result = CliRunner().invoke(
        cli, ["kb", "import", str(tmp_path / "big.txt"), "--school", "big", "--knowledge", str(knowledge)]
    )
    assert result.exit_code == 1
    assert "cannot import big.txt: it is" in result.output and "the limit is 100 bytes" in result.output
    assert "Traceback" not in result.output
    assert "Limits: files up to" in CliRunner().invoke(cli, ["kb", "import", "--help"]).output
    assert not list((knowledge / "policies").iterdir())


def test_the_limits_are_stated_in_one_line_for_help_and_the_readme():
    stated = import_limits.describe_limits()
    for figure in ("20 MB", "50 MB", "1,000 archive members", "20,000 paragraphs", "500 PDF pages"):
        assert figure in stated
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    for figure in ("20 MB", "50 MB", "20,000 paragraphs", "500 pages"):
        assert figure in readme

"""The limits `policybot kb import` holds a document to, and the checks that refuse one past them.

A school's social media policy is a few to a few dozen pages (the seed policies are 9-21 KB of text), so every
limit here is far above any real policy and far below what hurts: before these, a 4.6 MB .docx that unpacked
to 1.36 GB ran for 72 s to 8 GB of memory, and a 110 MB .txt was still running at 400 s with 3.4 GB
(issue 12, failure 8). Each check runs before the expensive step it protects, and each refusal names the limit.

The values are module constants read at call time, so tests lower them instead of writing huge files.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from bot.errors import PolicyImportError

MAX_FILE_BYTES = 20 * 1024 * 1024  # the file as stored: room for a .docx or .pdf with a logo and photos
MAX_UNPACKED_BYTES = 50 * 1024 * 1024  # all of a .docx's archive members together, once decompressed
MAX_ARCHIVE_MEMBERS = 1_000  # a real .docx has 10-100 (one per image); each costs memory before any is read
# Start and end tags across a .docx's XML members, counted before any XML is parsed: the parser holds about
# 130 bytes per element, so 30 MB of `<w:p/>` (well inside the unpacked limit) took 650 MB. Real Word XML
# has one tag per ~20 bytes, so this allows about 20 MB of it.
MAX_MARKUP_TAGS = 1_000_000
MAX_PARAGRAPHS = (
    20_000  # lines of a text file or PDF, Word paragraphs and table rows (a real policy: ~200-600)
)
MAX_PAGES = 500  # PDF pages, counted before any text is extracted
MAX_CHARACTERS = 2_000_000  # text read from the document, about 1,000 pages

_CHUNK = 64 * 1024
_MARKUP_SUFFIXES = (".xml", ".rels")
_END_OF_DIRECTORY = b"PK\x05\x06"


class DocumentTooLarge(PolicyImportError):
    """The document is past one of the stated limits; the message names the limit and the document's figure."""


def describe_limits() -> str:
    """One line stating every limit, for help text and messages."""
    return (
        f"files up to {_size(MAX_FILE_BYTES)}, a .docx unpacking to at most {_size(MAX_UNPACKED_BYTES)} in at "
        f"most {MAX_ARCHIVE_MEMBERS:,} archive members and {MAX_MARKUP_TAGS:,} XML tags, at most "
        f"{MAX_PARAGRAPHS:,} paragraphs or lines, {MAX_PAGES:,} PDF pages and {MAX_CHARACTERS:,} characters"
    )


def read_file(path: Path) -> bytes:
    """The file's bytes, refused past MAX_FILE_BYTES.

    The size is checked before reading and the read itself stops one byte past the limit, so a file that grows
    meanwhile, or a device or pipe whose size the file system does not know, cannot slip through.
    """
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise _too_large(
            path, f"it is {_over(size, MAX_FILE_BYTES)}", f"the limit is {_size(MAX_FILE_BYTES)}"
        )
    with path.open("rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(path, f"it is over {_size(MAX_FILE_BYTES)}", f"the limit is {_size(MAX_FILE_BYTES)}")
    return data


def check_archive(data: bytes, path: Path) -> None:
    """Refuse a .docx whose archive has too many members, declares or unpacks too much, or holds too much markup.

    The declared sizes are checked first (cheap, and they catch an honest bomb without decompressing
    anything); then every member is decompressed in chunks and counted as it is read, because the sizes in a
    zip's headers are whatever its maker wrote. Nothing decompressed is kept: memory stays at one chunk.
    A damaged archive raises zipfile's own errors, which the caller reports as an unreadable file.
    """
    declared_members = _declared_member_count(data)
    if declared_members is not None and declared_members > MAX_ARCHIVE_MEMBERS:
        # before zipfile builds an object per member of the central directory
        raise _too_large(
            path, f"its archive has {declared_members:,} members", f"the limit is {MAX_ARCHIVE_MEMBERS:,}"
        )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        if len(members) > MAX_ARCHIVE_MEMBERS:
            raise _too_large(
                path,
                f"its archive has {len(members):,} members",
                f"the limit is {MAX_ARCHIVE_MEMBERS:,}",
            )
        declared = sum(member.file_size for member in members)
        if declared > MAX_UNPACKED_BYTES:
            raise _too_large(
                path,
                f"its archive members unpack to {_over(declared, MAX_UNPACKED_BYTES)}",
                f"the limit is {_size(MAX_UNPACKED_BYTES)}",
            )
        unpacked = tags = 0
        for member in members:
            markup = member.filename.lower().endswith(_MARKUP_SUFFIXES)
            with archive.open(member) as fh:
                while chunk := fh.read(_CHUNK):
                    unpacked += len(chunk)
                    if unpacked > MAX_UNPACKED_BYTES:
                        raise _too_large(
                            path,
                            f"its archive members unpack to more than {_size(MAX_UNPACKED_BYTES)}",
                            f"the limit is {_size(MAX_UNPACKED_BYTES)}",
                        )
                    if markup:
                        tags += chunk.count(
                            b"<"
                        )  # an upper bound on tags: comments and declarations count too
                        if tags > MAX_MARKUP_TAGS:
                            raise _too_large(
                                path,
                                f"its XML has more than {MAX_MARKUP_TAGS:,} tags",
                                f"the limit is {MAX_MARKUP_TAGS:,}",
                            )


def _declared_member_count(data: bytes) -> int | None:
    """The member count the end-of-central-directory record states, or None when there is none to read.

    0xFFFF means "see the ZIP64 record", which no Word document needs; it is reported as is and refused.
    """
    end = data.rfind(_END_OF_DIRECTORY, max(0, len(data) - 65_557))  # the record sits in the last 64 KB + 22
    if end < 0 or end + 12 > len(data):
        return None
    return int.from_bytes(data[end + 10 : end + 12], "little")


def check_pages(count: int, path: Path) -> None:
    if count > MAX_PAGES:
        raise _too_large(path, f"it has {count:,} pages", f"the limit is {MAX_PAGES:,}")


class TextBudget:
    """Counts paragraphs and characters as a document is read, and refuses it the moment either runs out."""

    def __init__(self, path: Path):
        self.path = path
        self.paragraphs = 0
        self.characters = 0

    def add(self, text: str) -> None:
        self.paragraphs += 1
        self.characters += len(text)
        if self.paragraphs > MAX_PARAGRAPHS:
            raise _too_large(
                self.path,
                f"it has more than {MAX_PARAGRAPHS:,} paragraphs or lines",
                f"the limit is {MAX_PARAGRAPHS:,}",
            )
        if self.characters > MAX_CHARACTERS:
            raise _too_large(
                self.path,
                f"it has more than {MAX_CHARACTERS:,} characters of text",
                f"the limit is {MAX_CHARACTERS:,}",
            )


def _too_large(path: Path, what: str, limit: str) -> DocumentTooLarge:
    return DocumentTooLarge(
        f"cannot import {path.name}: {what}; {limit}. A policy is rarely more than a few dozen pages: "
        "check it is the right file, or split it and import the social media part"
    )


def _over(n: int, limit: int) -> str:
    """`n` as a size, or "over <limit>" when the two would print alike (20 MB and 1 byte is "over 20 MB")."""
    return f"over {_size(limit)}" if _size(n) == _size(limit) else _size(n)


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):,.1f} MB".replace(".0 MB", " MB")
    if n >= 1024:
        return f"{n / 1024:,.1f} KB".replace(".0 KB", " KB")
    return f"{n:,} bytes"

"""The one writer of `knowledge/` files: ruamel.yaml round trip, atomic replace, and a check after writing.

Everything that changes a knowledge file (`kb suggest --accept`, `kb import`) goes through here, so every
change is made the same way:

- `load` and `dump` use one round-trip configuration (the layout of knowledge/README.md, `null` written out,
  lines never re-wrapped), so comments, key order, quoting and folded text survive an edit;
- `write_atomically` writes a temporary file beside the target, fsyncs it and renames it into place, so a
  reader (the server's hot reload) sees the old file or the new one, never half of one; `create_only` never
  replaces a file, even one that appeared while the new one was being written;
- `write_checked` also runs the knowledge loader's check afterwards and, when the write added errors, puts the
  original file back (or removes the new one) and raises `EditRejected` with the problems.
"""

from __future__ import annotations

import errno
import io
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.errors import PolicyBotError, Problem
from bot.knowledge import KnowledgeBase, check_knowledge

Check = Callable[[Path], tuple[KnowledgeBase | None, list[Problem]]]


# What os.link raises where the file system has no hard links (FAT, some network shares).
_NO_HARD_LINKS = frozenset(
    {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.EACCES}
)


class KnowledgeEditError(PolicyBotError):
    """A knowledge file could not be read, written or changed; the message names the file."""


class AlreadyExists(KnowledgeEditError):
    """A create-only write found the file already there; nothing was written."""

    def __init__(self, path: Path):
        super().__init__(f"{path} already exists")
        self.path = path


class Unreadable(KnowledgeEditError):
    """The file is not YAML that can be edited."""


class EditRejected(KnowledgeEditError):
    """The written file made the knowledge base invalid, so it was undone. `problems` are the new errors."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()):
        super().__init__(message)
        self.problems = tuple(problems)


# -- YAML ----------------------------------------------------------------------------------------------------


def round_trip() -> YAML:
    """A round-trip YAML set up for the knowledge files; one per use, as ruamel.yaml is not thread-safe."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap: lines stay as HR wrote them, and folds where the writer put them
    yaml.indent(mapping=2, sequence=4, offset=2)  # the knowledge files' layout (knowledge/README.md)
    yaml.representer.add_representer(type(None), _represent_null)
    return yaml


def _represent_null(representer: Any, _data: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")  # `null`, as HR write it, not blank


def load(text: str, path: Path | str = "<text>") -> Any:
    """`text` as round-trip data (CommentedMap, CommentedSeq, scalar strings that remember their style)."""
    try:
        return round_trip().load(text)
    except YAMLError as exc:
        raise Unreadable(f"{path}: cannot read: {exc}") from exc


def dump(data: Any) -> str:
    out = io.StringIO()
    round_trip().dump(data, out)
    return out.getvalue()


def plain(text: str) -> Any:
    """`text` as plain dicts, lists and strings: for checking that two spellings hold the same data."""
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise Unreadable(f"cannot read: {exc}") from exc


# -- writing -------------------------------------------------------------------------------------------------


def write_atomically(path: Path | str, content: bytes, *, create_only: bool = False) -> None:
    """Put `content` at `path` whole or not at all; `create_only` raises AlreadyExists rather than replace.

    The temporary file is `.<name>.<random>.tmp` in the same directory (same file system, so the rename is
    atomic; not *.yaml, so no reload picks it up) and is removed whatever happens.
    """
    path = Path(path)
    if create_only and path.exists():
        raise AlreadyExists(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600): an edited file keeps its mode, a new one gets the usual one
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        if create_only:
            _link_no_clobber(tmp, path)
        else:
            os.replace(tmp, path)
        _fsync_directory(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _link_no_clobber(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)  # atomic, and fails if the file appeared meanwhile
    except FileExistsError:
        raise AlreadyExists(path) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        # No hard links on this file system: check, then rename (a create in between could be lost).
        if path.exists():
            raise AlreadyExists(path) from None
        os.replace(tmp, path)


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; not every platform can open a directory, and that is fine."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_checked(
    path: Path | str,
    content: bytes,
    knowledge_dir: Path | str,
    *,
    create_only: bool = False,
    check: Check = check_knowledge,
    before: Sequence[Problem] | None = None,
    landed: Callable[[KnowledgeBase], bool] | None = None,
    expected: Callable[[Problem], bool] | None = None,
) -> KnowledgeBase | None:
    """Write `content` to `path` atomically, then check `knowledge_dir`; undo the write if it added errors.

    A write may not add errors: every error after it must have been reported before it (`before`, the
    problems of a check the caller has just run, else one run here), so a knowledge base that already has an
    unrelated error can still take a new draft. With `landed`, the checked knowledge base must also satisfy it
    (the change reads back as meant). Errors `expected` accepts are the caller's to report, not a reason to
    undo (a draft's blanks that HR must fill in). Undoing puts the original bytes back, or removes a file that was not
    there, and raises EditRejected carrying the new errors. Returns the checked knowledge base, None when it
    has (old) errors.
    """
    path, directory = Path(path), Path(knowledge_dir)
    if before is None:
        _, before = check(directory)
    original = None if create_only or not path.exists() else path.read_bytes()
    write_atomically(path, content, create_only=create_only)
    kb, problems = check(directory)
    known = {str(p) for p in before if p.severity == "error"}
    added = [
        p
        for p in problems
        if p.severity == "error" and str(p) not in known and not (expected is not None and expected(p))
    ]
    if not added and (landed is None or (kb is not None and landed(kb))):
        return kb
    if original is None:
        path.unlink(missing_ok=True)
        undone = "the new file was removed"
    else:
        write_atomically(path, original)
        undone = "the file was restored unchanged"
    reason = "the knowledge base no longer validated" if added else "the change did not read back"
    raise EditRejected(f"{path}: {reason}; {undone}", added)

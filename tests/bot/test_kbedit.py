"""`bot.kbedit`, the one writer of knowledge files: edits keep what HR wrote, writes are whole or not at all,
create-only never replaces, and a write that breaks the knowledge base is undone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot import kbedit
from bot.errors import Problem
from bot.knowledge import check_knowledge

COMMENTED = """\
# Reviewed by HR, March 2025.
policy:
  id: demo                        # same as the file name
  title: "Demo Policy"
  review_date: null
clauses:
  # 1. Scope
  - id: demo.1
    text: >-
      A long text that HR folded
      over two lines.
    topics: [scope]
"""


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# -- round trip ---------------------------------------------------------------------------------------------------


def test_comments_and_key_order_survive_an_edit():
    data = kbedit.load(COMMENTED)
    data["policy"]["title"] = "Demo Policy (2025)"
    edited = kbedit.dump(data)
    assert edited == COMMENTED.replace('"Demo Policy"', '"Demo Policy (2025)"')
    assert list(kbedit.load(edited)["policy"]) == ["id", "title", "review_date"]


def test_unreadable_yaml_is_a_typed_error_naming_the_file():
    with pytest.raises(kbedit.Unreadable, match=r"^policies/demo.yaml: cannot read"):
        kbedit.load("policy: [unclosed\n", "policies/demo.yaml")


# -- atomic writes ------------------------------------------------------------------------------------------------


def test_a_write_replaces_the_file_whole_and_keeps_its_mode(tmp_path: Path):
    target = tmp_path / "demo.yaml"
    target.write_text("old: 1\n")
    target.chmod(0o640)
    kbedit.write_atomically(target, b"new: 2\n")
    assert target.read_bytes() == b"new: 2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_a_new_file_is_not_left_private_like_a_temporary_file(tmp_path: Path):
    target = tmp_path / "demo.yaml"
    umask = os.umask(0o022)
    os.umask(umask)
    kbedit.write_atomically(target, b"new: 1\n", create_only=True)
    assert target.read_bytes() == b"new: 1\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # as `open` would make it, not 0600


def test_create_only_refuses_an_existing_file(tmp_path: Path):
    target = tmp_path / "demo.yaml"
    target.write_bytes(b"HR's file\n")
    with pytest.raises(kbedit.AlreadyExists, match="already exists"):
        kbedit.write_atomically(target, b"draft\n", create_only=True)
    assert target.read_bytes() == b"HR's file\n"
    assert leftovers(tmp_path) == []


def test_create_only_refuses_a_file_that_appears_while_the_new_one_is_written(tmp_path: Path, monkeypatch):
    target = tmp_path / "demo.yaml"
    real_fsync = os.fsync

    def someone_else_creates_it(fd: int) -> None:
        if not target.exists():
            target.write_bytes(b"written meanwhile\n")
        real_fsync(fd)

    monkeypatch.setattr(kbedit.os, "fsync", someone_else_creates_it)
    with pytest.raises(kbedit.AlreadyExists):
        kbedit.write_atomically(target, b"draft\n", create_only=True)
    assert target.read_bytes() == b"written meanwhile\n"
    assert leftovers(tmp_path) == []


def test_a_crash_before_replace_leaves_the_old_file_and_no_partial_file(tmp_path: Path, monkeypatch):
    target = tmp_path / "demo.yaml"
    target.write_bytes(b"old\n")

    def crash(*_args: object) -> None:
        raise OSError("disk pulled out")

    monkeypatch.setattr(kbedit.os, "replace", crash)
    with pytest.raises(OSError, match="disk pulled out"):
        kbedit.write_atomically(target, b"new\n")
    assert target.read_bytes() == b"old\n"
    assert leftovers(tmp_path) == []


def test_a_crash_before_a_create_leaves_no_file_at_all(tmp_path: Path, monkeypatch):
    target = tmp_path / "demo.yaml"

    def crash(*_args: object) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(kbedit.os, "link", crash)
    with pytest.raises(RuntimeError, match="killed"):
        kbedit.write_atomically(target, b"new\n", create_only=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# -- checked writes -----------------------------------------------------------------------------------------------


def test_a_write_that_makes_the_knowledge_base_invalid_leaves_the_old_file_byte_for_byte(kb_copy: Path):
    target = kb_copy / "policies" / "howitt.yaml"
    original = target.read_bytes()
    with pytest.raises(kbedit.EditRejected, match="no longer validated; the file was restored") as caught:
        kbedit.write_checked(target, original.replace(b"  id: howitt\n", b"  id: [howitt\n", 1), kb_copy)
    assert caught.value.problems and all(p.severity == "error" for p in caught.value.problems)
    assert any("howitt.yaml" in p.file for p in caught.value.problems)
    assert target.read_bytes() == original
    assert leftovers(target.parent) == []


def test_a_new_file_that_makes_the_knowledge_base_invalid_is_removed(kb_copy: Path):
    target = kb_copy / "policies" / "extra.yaml"
    with pytest.raises(kbedit.EditRejected, match="the new file was removed"):
        kbedit.write_checked(target, b"policy: [unclosed\n", kb_copy, create_only=True)
    assert not target.exists()
    assert check_knowledge(kb_copy)[0] is not None


def test_a_valid_write_returns_the_checked_knowledge_base(kb_copy: Path):
    target = kb_copy / "policies" / "howitt.yaml"
    data = kbedit.load(target.read_text(encoding="utf-8"))
    data["policy"]["title"] = "Renamed by HR"
    kb = kbedit.write_checked(target, kbedit.dump(data).encode(), kb_copy)
    assert kb is not None and kb.policies["howitt"].title == "Renamed by HR"


def test_an_error_that_was_there_before_does_not_block_an_unrelated_write(kb_copy: Path):
    broken = kb_copy / "policies" / "reading.yaml"
    broken.write_text("policy: [unclosed\n", encoding="utf-8")
    target = kb_copy / "policies" / "howitt.yaml"
    edited = target.read_bytes().replace(b"Derbyshire County Council", b"Derbyshire CC", 1)
    assert kbedit.write_checked(target, edited, kb_copy) is None  # written; the old error still stops a load
    assert target.read_bytes() == edited


def test_a_change_that_does_not_read_back_is_undone(kb_copy: Path):
    target = kb_copy / "policies" / "howitt.yaml"
    original = target.read_bytes()
    with pytest.raises(kbedit.EditRejected, match="did not read back; the file was restored") as caught:
        kbedit.write_checked(target, original + b"\n", kb_copy, landed=lambda kb: False)
    assert caught.value.problems == ()
    assert target.read_bytes() == original


def test_the_caller_can_supply_the_check_and_the_problems_it_already_has(tmp_path: Path):
    target = tmp_path / "demo.yaml"
    seen: list[Path] = []

    def check(directory: Path):
        seen.append(directory)
        return None, [Problem("demo.yaml", 1, "made up"), Problem("demo.yaml", 2, "minor", "warning")]

    with pytest.raises(kbedit.EditRejected) as caught:
        kbedit.write_checked(target, b"x: 1\n", tmp_path, check=check, before=[])
    assert seen == [tmp_path]  # only after the write: the caller gave the problems from before
    assert [p.message for p in caught.value.problems] == ["made up"]
    assert not target.exists()

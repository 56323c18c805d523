"""The parse cache: a later process reuses the policy and school files an earlier one parsed, with exactly the
result of parsing them all again, and a cache that is damaged or stale is ignored rather than trusted."""

from __future__ import annotations

import copyreg
import logging
import stat
from pathlib import Path
from types import MappingProxyType

import pytest
from click.testing import CliRunner

import bot.knowledge
import bot.parsecache
from bot.cli import cli
from bot.knowledge import check_knowledge, load_knowledge
from bot.parsecache import ParseCache

OLD = "such as lunch breaks."  # the end of reading.2.1
NEW = "such as lunch breaks (edited by HR)."


@pytest.fixture
def cache(tmp_path: Path) -> ParseCache:
    return ParseCache(tmp_path / "data" / "parsed")


@pytest.fixture
def parsed(monkeypatch) -> list[str]:
    """The policy and school files parsed from now on, as `policies/reading.yaml` (shared files are always read)."""
    seen: list[str] = []
    real = bot.knowledge.load_yaml

    def counting(path: Path):
        if path.parent.name in ("policies", "schools"):
            seen.append(f"{path.parent.name}/{path.name}")
        return real(path)

    monkeypatch.setattr(bot.knowledge, "load_yaml", counting)
    return seen


def messages(problems) -> list[str]:
    return [str(p) for p in problems]


def test_a_warm_cache_parses_no_file_and_loads_the_same_knowledge_base(kb_copy, cache, parsed):
    cold, cold_problems = check_knowledge(kb_copy, cache=cache)
    assert len(parsed) == 11  # 6 policies and 5 schools
    parsed.clear()

    warm, warm_problems = check_knowledge(kb_copy, cache=cache)
    assert parsed == []
    assert warm == cold == load_knowledge(kb_copy)
    assert warm.version == cold.version
    assert warm.policies == cold.policies and warm.schools == cold.schools
    assert messages(warm_problems) == messages(cold_problems)
    # Schools still share the very Policy objects they were checked against (the loader relies on it).
    for school in warm.schools.values():
        entry = warm.files[str(kb_copy / "schools" / f"{school.id}.yaml")]
        assert all(warm.policies[p.id] is p for p in entry.depends)


def test_an_edited_policy_is_the_only_file_parsed_again_and_the_edit_shows(kb_copy, cache, parsed):
    check_knowledge(kb_copy, cache=cache)
    path = kb_copy / "policies" / "reading.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(OLD, NEW), encoding="utf-8")
    parsed.clear()

    kb, problems = check_knowledge(kb_copy, cache=cache)

    # The reading school is checked against its policy again; its file is read for that.
    assert parsed == ["policies/reading.yaml", "schools/reading.yaml"]
    assert any("edited by HR" in c.text for c in kb.policies["reading"].clauses)
    assert kb == load_knowledge(kb_copy)
    parsed.clear()
    check_knowledge(kb_copy, cache=cache)
    assert parsed == []  # the edit was remembered


def test_a_corrupt_or_truncated_cache_is_ignored_with_a_warning(kb_copy, cache, parsed, caplog):
    expected, expected_problems = check_knowledge(kb_copy, cache=cache)
    stored = cache.path_for(kb_copy)
    whole = stored.read_bytes()
    for damaged in (whole[: len(whole) // 2], b"not a pickle at all"):
        stored.write_bytes(damaged)
        parsed.clear()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="policybot.parsecache"):
            kb, problems = check_knowledge(kb_copy, cache=cache)
        assert [r.name for r in caplog.records] == ["policybot.parsecache"]
        assert "not used" in caplog.records[0].getMessage()
        assert len(parsed) == 11
        assert kb == expected and messages(problems) == messages(expected_problems)
    assert cache.read(kb_copy)  # the full parse wrote a good cache again


def test_a_missing_cache_is_an_empty_one_without_a_word(tmp_path, cache, caplog):
    with caplog.at_level(logging.DEBUG, logger="policybot.parsecache"):
        assert cache.read(tmp_path / "knowledge") == {}
    assert caplog.records == []


def test_a_cache_written_by_other_loader_code_is_ignored(kb_copy, cache, parsed, monkeypatch):
    check_knowledge(kb_copy, cache=cache)
    monkeypatch.setattr(bot.parsecache, "loader_fingerprint", lambda: "another version of the loader")
    assert cache.read(kb_copy) == {}
    parsed.clear()
    kb, _ = check_knowledge(kb_copy, cache=cache)
    assert len(parsed) == 11
    assert kb == load_knowledge(kb_copy)


def test_a_cache_is_only_for_the_directory_it_was_written_for(kb_copy, tmp_path, cache):
    check_knowledge(kb_copy, cache=cache)
    other = tmp_path / "other" / "knowledge"
    assert cache.read(other) == {}
    assert cache.path_for(other) != cache.path_for(kb_copy)


def test_a_broken_file_is_reported_the_same_with_a_warm_cache_and_never_cached(kb_copy, cache, parsed):
    check_knowledge(kb_copy, cache=cache)
    path = kb_copy / "policies" / "reading.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[20] = "  - id: [unclosed"
    path.write_text("\n".join(lines), encoding="utf-8")
    parsed.clear()

    warm, warm_problems = check_knowledge(kb_copy, cache=cache)
    cold, cold_problems = check_knowledge(kb_copy)

    assert warm is None and cold is None
    assert "policies/reading.yaml" in parsed
    assert messages(warm_problems) == messages(cold_problems)
    assert any(m.startswith("knowledge/policies/reading.yaml:2") for m in messages(warm_problems))
    assert str(path) not in cache.read(kb_copy)
    again, again_problems = check_knowledge(kb_copy, cache=cache)
    assert again is None and messages(again_problems) == messages(cold_problems)


def test_the_cache_file_is_private_and_no_global_pickling_rule_is_added(kb_copy, cache):
    check_knowledge(kb_copy, cache=cache)
    assert stat.S_IMODE(cache.path_for(kb_copy).stat().st_mode) == 0o600
    assert MappingProxyType not in copyreg.dispatch_table
    assert not [p for p in cache.directory.iterdir() if p.suffix == ".tmp"]


def test_kb_validate_writes_the_cache_and_a_second_run_prints_the_same(
    kb_copy, tmp_path, monkeypatch, parsed
):
    data = tmp_path / "policybot-data"
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(data))
    runner = CliRunner()

    first = runner.invoke(cli, ["kb", "validate", str(kb_copy)], obj={})
    assert first.exit_code == 0, first.output
    assert list((data / "parsed").glob("*.pickle"))
    parsed.clear()
    second = runner.invoke(cli, ["kb", "validate", str(kb_copy)], obj={})

    assert second.exit_code == 0, second.output
    assert parsed == []
    assert second.output == first.output
    assert "ok: 5 schools" in second.output


def test_a_cache_written_earlier_in_the_month_still_serves_but_a_new_month_parses_again(
    kb_copy, cache, parsed
):
    import datetime as dt

    check_knowledge(kb_copy, dt.date(2026, 11, 2), cache=cache)
    parsed.clear()
    later, problems = check_knowledge(kb_copy, dt.date(2026, 11, 30), cache=cache)
    assert parsed == []  # review dates are months: nothing a file is checked against changed
    assert messages(problems) == messages(check_knowledge(kb_copy, dt.date(2026, 11, 30))[1])
    parsed.clear()
    check_knowledge(kb_copy, dt.date(2026, 12, 1), cache=cache)
    assert len(parsed) == 11

"""Knowledge files are plain data: anchors, aliases and Python tags are refused with `file:line`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.knowledge import check_knowledge
from bot.yamlsource import YamlSyntaxError, load_yaml

BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "file.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_yaml_loads_with_the_line_of_each_key(tmp_path):
    data = load_yaml(write(tmp_path, "# HR's file\nname: Reading\nexamples:\n  - can i post?\n"))
    assert data == {"name": "Reading", "examples": ["can i post?"]}
    assert data.line_of("examples") == 3


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("base: &base\n  title: Head\nother: *base\n", 1, "anchors (&base)"),
        ("one: x\ntwo: &t y\n", 2, "anchors (&t)"),
        ("first:\n  - a\nsecond:\n  - *nowhere\n", 4, "aliases (*nowhere)"),
        ("defaults: &d {a: 1}\nclause:\n  <<: *d\n", 1, "anchors (&d)"),
    ],
)
def test_anchors_and_aliases_are_refused_at_their_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(YamlSyntaxError) as refused:
        load_yaml(path)
    assert refused.value.line == line
    assert words in refused.value.message and "not allowed in knowledge files" in refused.value.message
    assert str(refused.value).startswith(f"{path}:{line}: ")


def test_an_alias_bomb_is_refused_at_once_without_being_expanded(tmp_path):
    path = write(tmp_path, BOMB)
    started = time.perf_counter()
    with pytest.raises(YamlSyntaxError) as refused:
        load_yaml(path)
    assert time.perf_counter() - started < 0.5
    assert refused.value.line == 1


def test_python_object_tags_are_still_refused(tmp_path):
    with pytest.raises(YamlSyntaxError) as refused:
        load_yaml(write(tmp_path, "name: !!python/object/apply:os.system ['true']\n"))
    assert refused.value.line == 1


def test_a_bomb_in_a_policy_file_fails_validation_with_file_and_line(kb_copy: Path):
    path = kb_copy / "policies" / "reading.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + BOMB, encoding="utf-8")
    first_line = len(path.read_text(encoding="utf-8").splitlines()) - BOMB.count("\n") + 1
    kb, problems = check_knowledge(kb_copy)
    assert kb is None
    assert [str(p) for p in problems if p.severity == "error"] == [
        f"knowledge/policies/reading.yaml:{first_line}: YAML anchors (&a) are not allowed in knowledge files; "
        "write the value out"
    ]
    result = CliRunner().invoke(cli, ["kb", "validate", str(kb_copy)], obj={})
    assert result.exit_code == 1 and f"reading.yaml:{first_line}: YAML anchors (&a)" in result.output

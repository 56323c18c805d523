"""Every `policybot` command explains itself in --help, and README.md's command table lists each exactly once
(in the spirit of sqlite-utils' tests/test_docs.py)."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.conftest import REPO


def walk(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path, command
        if isinstance(command, click.Group):
            yield from walk(command, path)


COMMANDS = list(walk(cli))
LEAVES = [" ".join(path) for path, command in COMMANDS if not isinstance(command, click.Group)]


def readme_table() -> list[str]:
    """The command column of README.md's `## Commands` table, each cell's `policybot …` words before options."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `policybot ")]
    names = []
    for row in rows:
        words = re.match(r"\| `policybot ([^`]*)`", row).group(1).split()
        command = []
        for word in words:  # the command's words end where its arguments and options begin
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            command.append(word)
        names.append(" ".join(command))
    return names


def test_the_tree_is_walked():
    assert {"ask", "eval", "kb validate", "kb suggest", "serve", "db upgrade"} <= set(LEAVES)


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_and_group_has_help(path, command):
    assert (command.help or "").strip(), f"`policybot {' '.join(path)}` has no help text"
    result = CliRunner().invoke(cli, [*path, "--help"], obj={})
    assert result.exit_code == 0, result.output
    assert command.help.strip().splitlines()[0][:40] in " ".join(result.output.split())


def test_the_root_group_has_help():
    assert (cli.help or "").strip()


@pytest.mark.parametrize("name", LEAVES)
def test_every_command_is_in_the_readme_table_exactly_once(name):
    assert readme_table().count(name) == 1, f"README.md's command table must list `policybot {name}` once"


def test_the_table_names_only_real_commands():
    assert sorted(set(readme_table()) - set(LEAVES)) == []


def test_kb_compare_takes_its_minimum_width_from_bot_compare():
    from bot import compare
    from bot.cli import knowledge

    assert knowledge.MIN_WIDTH == compare.MIN_WIDTH

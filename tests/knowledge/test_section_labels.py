"""Every clause carries the section label its policy prints, checked against the seed documents themselves.

A label is read off the seed at the line where the clause's words begin: the last section number printed
before it ("7.8", "1.0" read as "1"), a lettered item on that very line ("(a)" under 10.4 reads "10.4(a)"), and
the unnumbered parts listed below, which the policies print as headings without a number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.evaluation import normalise_for_scoring
from bot.knowledge import Policy
from tests.conftest import SHARED

SEEDS = SHARED / "seeds"

# The seeds' unnumbered parts (a heading line, normalised) and the label a clause under them is cited by.
# NPT's contents table names "Procedure for Authorised Users" Appendix A; Wolverhampton's appendix has two
# lists under the headings "Staff actions" and "School actions". Crynallt's guidance note ends with a form headed
# "Employees Declaration Social Media Policy".
UNNUMBERED_PARTS = {
    "appendix": "Appendix",
    "appendix 1": "Appendix 1",
    "procedure for authorised users": "Appendix A",
    "guidance note for schools": "Guidance note",
    "staff actions": "Appendix 1 Staff actions",
    "school actions": "Appendix 1 School actions",
    "employees declaration social media policy": "Employees Declaration",
}
# Front matter printed before the numbered body: the first section number ends it.
FRONT_MATTER = {"summary of document": "Summary"}
LIST_MARKER = re.compile(r"^(?:\[bookmark:[^\]]*\]|[\s\-–·•*])+")
SECTION_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?(?=\s|$)")
LETTERED_ITEM = re.compile(r"^\(?([a-z])[.)]\s")
MARKDOWN_LINK = re.compile(
    r"\[([^\]]*)\]\([^)]*\)"
)  # "[Anti -Bullying Policy](#)": the policy prints the words


@dataclass(frozen=True)
class SeedText:
    """A seed as one normalised string, with the section label in force at each line."""

    text: str
    line_starts: tuple[int, ...]
    labels: tuple[str, ...]

    def label_at(self, offset: int) -> str:
        line = max(i for i, start in enumerate(self.line_starts) if start <= offset)
        return self.labels[line]


def read_seed(path: Path) -> SeedText:
    text, starts, labels = "", [], []
    part = number = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = normalise_for_scoring(LIST_MARKER.sub("", MARKDOWN_LINK.sub(r"\1", raw)))
        label, part, number = _label_of_line(line, part, number)
        starts.append(len(text))
        labels.append(label)
        text += line + " "
    return SeedText(text, tuple(starts), tuple(labels))


def _label_of_line(line: str, part: str | None, number: str | None) -> tuple[str, str | None, str | None]:
    """The label in force on this line, and the part and section number in force after it."""
    if line in UNNUMBERED_PARTS or line in FRONT_MATTER:
        heading = UNNUMBERED_PARTS.get(line) or FRONT_MATTER[line]
        return heading, heading, None
    numbered = SECTION_NUMBER.match(line)
    if numbered:
        number = re.sub(r"\.0$", "", numbered.group(1))
        part = None if part in FRONT_MATTER.values() else part
    current = " ".join(p for p in (part, number) if p)
    lettered = LETTERED_ITEM.match(line)
    if lettered:  # a lettered item labels its own line only: a paragraph after the list is not item (n)
        letter = lettered.group(1)
        return (f"{number}({letter})" if number else f"{part} {letter}"), part, number
    return current, part, number


def _snippet(text: str) -> str:
    words = normalise_for_scoring(text).split()
    return " ".join(words[:12])


def seed_labels(policy: Policy, seed: SeedText) -> list[tuple[str, str, str]]:
    """(clause id, its label, the seed's label) for each clause, found in document order."""
    found, cursor = [], 0
    for clause in policy.clauses:
        offset = seed.text.find(_snippet(clause.text), cursor)
        assert offset >= 0, f"{clause.id}: its text is not in {policy.source} after the clause before it"
        found.append((clause.id, clause.section, seed.label_at(offset)))
        cursor = offset + 1
    return found


@pytest.fixture(scope="module")
def seeds() -> dict[str, SeedText]:
    if not SEEDS.is_dir():
        pytest.skip("the seed policies (../shared/seeds) are not beside this checkout")
    return {path.name: read_seed(path) for path in SEEDS.glob("*.txt")}


def test_every_clause_is_labelled_with_the_section_its_policy_prints(kb, seeds):
    wrong = [
        f"{cid}: labelled §{ours}, the policy prints §{printed}"
        for policy in kb.policies.values()
        for cid, ours, printed in seed_labels(policy, seeds[policy.source])
        if ours != printed
    ]
    assert not wrong, "\n".join(wrong)


def test_a_lettered_item_is_labelled_with_its_section_and_letter_and_a_paragraph_after_the_list_is_not(
    kb, seeds
):
    policy = kb.policies["wolverhampton"]
    labels = {cid: printed for cid, _, printed in seed_labels(policy, seeds[policy.source])}
    assert labels["wolverhampton.10.4.b1"] == "10.4(a)"
    assert labels["wolverhampton.appendix1.school.b1"] == "Appendix 1 School actions a"
    assert labels["wolverhampton.appendix1.school.p3"] == "Appendix 1 School actions"

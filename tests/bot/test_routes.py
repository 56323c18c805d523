"""routes.yaml is HR's file like any other: every mistake in it is a `file:line` error, and none loads."""

from __future__ import annotations

from pathlib import Path

from tests.bot.test_knowledge import _errors, _line_of


def test_the_shipped_child_safety_route_leads_to_the_dsl(kb):
    (route,) = kb.routes
    assert (route.id, route.topic, route.lead) == ("child_safety", "safeguarding", "safeguarding_lead")
    assert len(route.examples) >= 40 and "Designated Safeguarding Lead" in route.message


def test_an_unknown_topic_or_role_is_reported_with_its_line(kb_copy: Path):
    path = kb_copy / "routes.yaml"
    text = path.read_text().replace("topic: safeguarding", "topic: safegarding")
    path.write_text(text.replace("lead: safeguarding_lead", "lead: dsl"))
    errors = _errors(kb_copy)
    assert (
        f"knowledge/routes.yaml:{_line_of(path, 'topic: safegarding')}: route `child_safety`: unknown topic `safegarding`"
        in errors
    )
    assert (
        f"knowledge/routes.yaml:{_line_of(path, 'lead: dsl')}: route `child_safety`: unknown contact role `dsl`"
        in errors
    )


def test_examples_that_are_not_a_list_of_questions_are_refused(kb_copy: Path):
    path = kb_copy / "routes.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("    examples:")] + "    examples: worried about a child\n")
    errors = _errors(kb_copy)
    line = _line_of(path, "examples: worried")
    assert (
        f"knowledge/routes.yaml:{line}: route `child_safety`: `examples` must be a list of questions"
        in errors
    )


def test_a_school_without_the_lead_role_is_reported(kb_copy: Path):
    school = kb_copy / "schools" / "reading.yaml"
    lines = [
        line for line in school.read_text().splitlines() if not line.strip().startswith("safeguarding_lead:")
    ]
    school.write_text("\n".join(lines) + "\n")
    assert any("safeguarding_lead" in e and "reading" in e for e in _errors(kb_copy))

"""The Teams Adaptive Card: the asker's words shown as they typed them, contacts that read cleanly, a fallback."""

from __future__ import annotations

import dataclasses
import json

import pytest

from adapters.teams_cards import answer_card, contact_line, plain, reply_parts
from bot.conversation import Help


def texts(card: dict) -> list[str]:
    """Every TextBlock's text, nested containers included."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def test_a_contact_without_a_name_shows_its_title_alone(assistant):
    answer = assistant.ask("can i use tiktok at lunch?", "reading")
    assert answer.contacts and all(c.name is None for c in answer.contacts)  # the seed schools name no one
    card = answer_card(answer)
    assert "—" not in json.dumps(card, ensure_ascii=False)
    assert "FactSet" not in json.dumps(card)
    contacts = next(t for t in texts(card) if t.startswith("- "))
    assert contacts.split("\r") == [f"- {c.title}" for c in answer.contacts]


def test_a_contact_line_adds_the_name_and_how_to_reach_them_when_filled_in():
    assert contact_line("Headteacher", None, None) == "Headteacher"
    assert contact_line("Headteacher", "Ms Patel", None) == "Headteacher (Ms Patel)"
    assert (
        contact_line("Headteacher", "Ms Patel", "head@school.example")
        == "Headteacher (Ms Patel): head@school.example"
    )
    assert contact_line("HR", None, "01234 567890") == "HR: 01234 567890"


def test_the_question_is_echoed_as_plain_text_so_markdown_in_it_makes_no_link(assistant):
    question = "can i post [x](http://evil.example) or **this** on _insta_?"
    answer = assistant.ask(question, "reading")
    echo = texts(answer_card(answer))[0]
    assert "[x](" not in echo and "http://" not in echo and "**" not in echo
    assert "\\[x\\]" in echo and "\\*\\*this\\*\\*" in echo and "\\_insta\\_" in echo


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("[x](http://evil.example)", "\\[x\\](http:/\u2060/evil.example)"),
        ("see www.evil.example", "see www\u2060.evil.example"),
        ("# heading", "\\# heading"),
        ("- a list", "\\- a list"),
        ("1. a list", "1\\. a list"),
        ("2) a list", "2\\) a list"),
        ("3.5 is a number", "3.5 is a number"),
        ("> quote", "\\> quote"),
        ("back\\slash `code` ~strike~ <b>", "back\\\\slash \\`code\\` \\~strike\\~ \\<b\\>"),
        ("can I post photos of pupils?", "can I post photos of pupils?"),
    ],
)
def test_plain_escapes_every_markdown_character_and_breaks_bare_links(typed: str, shown: str):
    assert plain(typed) == shown


def test_the_answer_card_has_a_fallback_text_for_clients_that_cannot_show_it(assistant):
    answered = assistant.ask("can i use tiktok at lunch?", "reading")
    card = answer_card(answered)
    assert card["fallbackText"] == reply_parts(answered)[0]
    assert answered.clause.citation in card["fallbackText"]
    declined = assistant.ask("how do I book annual leave?", "reading")
    assert answer_card(declined)["fallbackText"] == declined.message


def test_the_help_card_has_a_fallback_text_too():
    text, card = reply_parts(Help(None, ("can I friend a parent?",), ()))
    assert card is not None and card["fallbackText"] == text


def test_a_name_filled_in_by_hr_appears_beside_the_title(assistant):
    answer = assistant.ask("can i use tiktok at lunch?", "reading")
    named = dataclasses.replace(answer.contacts[0], name="Ms Patel")
    card = answer_card(dataclasses.replace(answer, contacts=(named, *answer.contacts[1:])))
    assert f"- {named.title} (Ms Patel)" in next(t for t in texts(card) if t.startswith("- "))

"""The Teams Adaptive Card: the asker's words shown as they typed them, contacts that read cleanly, a fallback."""

from __future__ import annotations

import dataclasses
import json

import pytest

from adapters.teams_cards import answer_card, contact_line, escalation_card, plain, reply_parts
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


def handoff_buttons(card: dict) -> list[dict]:
    return [a for a in card.get("actions", []) if a.get("data", {}).get("action") == "handoff"]


def test_answered_and_no_match_answers_carry_a_hand_off_button_with_what_the_core_needs(assistant):
    answered = dataclasses.replace(
        assistant.ask("can i use tiktok at lunch?", "reading"), interaction_id="i-1"
    )
    declined = assistant.ask("how do I book annual leave?", "reading")
    for answer in (answered, declined):
        assert answer.handoff is not None
        (button,) = handoff_buttons(answer_card(answer))
        assert button["type"] == "Action.Submit" and button["title"] == answer.handoff.label
        assert button["data"]["s"] == "reading" and button["data"]["r"] == answer.handoff.role
        assert button["data"]["q"] == answer.question
    assert handoff_buttons(answer_card(answered))[0]["data"]["c"] == answered.clause.id
    assert handoff_buttons(answer_card(answered))[0]["data"]["i"] == "i-1"
    assert handoff_buttons(answer_card(declined))[0]["title"] == "Ask HR"
    long = dataclasses.replace(answered, question="x" * 5000)
    assert len(handoff_buttons(answer_card(long))[0]["data"]["q"]) == 500
    assert handoff_buttons(answer_card(dataclasses.replace(answered, handoff=None))) == []


def test_a_sensitive_answer_leads_with_its_contact_and_asks_for_no_details_in_a_shared_channel(assistant):
    answer = assistant.ask("I'm worried a pupil is being groomed online, who do I tell?", "crynallt")
    assert answer.sensitive and answer.privacy_note
    shown = texts(answer_card(answer))
    assert shown[1] == answer.message and "Designated Safeguarding Lead" in shown[1]
    assert shown[2] == answer.privacy_note
    assert handoff_buttons(answer_card(answer))[0]["title"] == "Ask the DSL"


def test_the_escalation_card_mentions_the_asker_and_shows_their_question_as_plain_text():
    summary, card = escalation_card(
        school_name="Crynallt Primary School",
        contact_title="Headteacher",
        question="@channel is [this](http://evil.example) ok?",
        clause_id="npt.7.1",
        asker_id="29:user-1",
        asker_name="Sam <b>Smith</b>",
    )
    shown = texts(card)
    assert shown[0] == "Question for the Headteacher at Crynallt Primary School"
    assert "<at>Sam bSmith/b</at>" in shown[1]
    assert "\\[this\\](http:/\u2060/evil.example)" in shown[3] and "@channel" in shown[3]
    assert "npt.7.1" in shown[4]
    (mention,) = card["msteams"]["entities"]
    assert mention == {
        "type": "mention",
        "text": "<at>Sam bSmith/b</at>",
        "mentioned": {"id": "29:user-1", "name": "Sam bSmith/b"},
    }
    assert "@channel" not in summary and "evil" not in summary

"""`policybot ask`'s plain-text rendering: privacy note and hand-off line, the rest as before."""

from __future__ import annotations

import dataclasses

from adapters.terminal import render_text


def test_a_sensitive_answer_shows_its_privacy_note_before_the_contacts_and_ends_with_whom_to_ask(assistant):
    answer = assistant.ask("a pupil told me her mum's boyfriend hurts her, who do i tell", "reading")
    assert answer.sensitive and answer.privacy_note and answer.handoff
    text = render_text(answer)
    flat = " ".join(text.split())
    assert (
        flat.index("A worry about a child") < flat.index(answer.privacy_note) < flat.index("Who to contact:")
    )
    assert text.rstrip().splitlines()[-1] == "Ask the DSL in person."


def test_the_hand_off_line_says_how_to_reach_the_contact_when_the_school_says(assistant):
    answer = assistant.ask("how do I book annual leave?", "reading")
    handoff = dataclasses.replace(answer.handoff, how="hr@reading.example, ext. 4321")
    text = render_text(dataclasses.replace(answer, handoff=handoff))
    assert text.rstrip().splitlines()[-1] == "Ask HR: hr@reading.example, ext. 4321"
    message, contacts = text.split("\n\nWho to contact:\n")  # the decline's layout is unchanged above it
    assert "does not cover this" in message and contacts.strip().startswith("- ")


def test_an_answer_without_a_hand_off_or_privacy_note_ends_with_its_contacts(assistant):
    answer = dataclasses.replace(assistant.ask("can i use tiktok at lunch?", "reading"), handoff=None)
    assert answer.privacy_note is None
    assert render_text(answer).rstrip().splitlines()[-1].startswith("  - ")

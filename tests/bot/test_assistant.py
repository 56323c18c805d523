"""`clean_question`: what counts as a question before anything is searched, answered or logged."""

from __future__ import annotations

import pytest

from bot.assistant import MAX_QUESTION_CHARS, clean_question
from bot.errors import InvalidQuestion

EMPTY = "Please type a question"


@pytest.mark.parametrize(
    "question",
    [
        "",
        "   \n\t ",
        "\u200b",
        "\u200b\u200c\u200d\u2060\ufeff",
        " \u200b \ufeff ",
    ],
)
def test_blank_or_invisible_questions_are_treated_as_empty(question):
    with pytest.raises(InvalidQuestion) as refused:
        clean_question(question)
    assert refused.value.user_message.startswith(EMPTY)


@pytest.mark.parametrize("question", ["\x00", "facebook\x00 at lunch?"])
def test_a_question_with_a_nul_is_refused_saying_so_not_called_empty(question):
    with pytest.raises(InvalidQuestion) as refused:
        clean_question(question)
    assert "NUL character" in refused.value.user_message


def test_zero_width_characters_inside_a_question_are_dropped_and_whitespace_collapsed():
    assert clean_question("  can i use face\u200bbook\n at   lunch?\ufeff ") == "can i use facebook at lunch?"


def test_a_lone_surrogate_becomes_the_replacement_character_so_nothing_downstream_fails_to_encode_it():
    cleaned = clean_question("facebook \ud800 at lunch \udfff")
    assert cleaned == "facebook \ufffd at lunch \ufffd"
    cleaned.encode("utf-8")  # would raise with the surrogates left in
    assert clean_question("caf\u00e9 \U0001f600") == "caf\u00e9 \U0001f600"  # real characters stay


def test_non_text_and_over_long_questions_are_refused():
    with pytest.raises(InvalidQuestion, match="must be text"):
        clean_question(["a"])
    with pytest.raises(InvalidQuestion, match="too long"):
        clean_question("x" * (MAX_QUESTION_CHARS + 1))
    assert clean_question("x" * MAX_QUESTION_CHARS) == "x" * MAX_QUESTION_CHARS

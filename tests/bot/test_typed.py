"""Phrases HR lists in knowledge files match the question's words as typed, whole words only."""

from __future__ import annotations

from bot.typed import PhraseSet, typed_text, typed_words


def test_words_are_lower_case_without_apostrophes_and_split_at_anything_else():
    assert typed_words("I'm sure he’s CALLING me-names!") == ["im", "sure", "hes", "calling", "me", "names"]
    assert typed_text("  Calling   ME, names ") == "calling me names"


def test_a_phrase_matches_whole_words_in_order():
    phrases = PhraseSet(["calling me"])
    assert phrases.found_in(typed_text("a pupil keeps CALLING me names"))
    assert not phrases.found_in(typed_text("me calling"))
    assert not phrases.found_in(typed_text("she was recalling me"))
    assert not phrases.found_in(typed_text("calling men"))


def test_a_last_word_ending_in_a_star_matches_any_word_it_begins():
    phrases = PhraseSet(["investigat*", "written warning"])
    assert phrases.found_in(typed_text("they are investigating my post"))
    assert phrases.found_in(typed_text("I got a written warning"))
    assert not phrases.found_in(typed_text("an investor asked"))


def test_punctuation_in_a_phrase_is_read_as_typed_words():
    assert PhraseSet(["I'm being investigated"]).found_in(typed_text("im being investigated"))
    assert PhraseSet(["a+b"]).found_in(typed_text("a b"))


def test_an_empty_set_matches_nothing_and_is_false():
    phrases = PhraseSet(["", "  "])
    assert not phrases and phrases.phrases == 0
    assert not phrases.found_in("anything at all")

"""Phrases HR lists in knowledge files match the question's words as typed, whole words only."""

from __future__ import annotations

from bot.typed import phrase, shows, shows_any, typed_words


def test_words_are_lower_case_without_apostrophes_and_split_at_anything_else():
    assert typed_words("I'm sure he’s CALLING me-names!") == ["im", "sure", "hes", "calling", "me", "names"]


def test_a_phrase_matches_whole_words_in_order():
    words = typed_words("a pupil keeps calling me names")
    assert shows(words, phrase("calling me"))
    assert not shows(words, phrase("me calling"))
    assert not shows(typed_words("she was recalling me"), phrase("calling me"))


def test_a_last_word_ending_in_a_star_matches_any_word_it_begins():
    assert shows_any("they are investigating my post", [phrase("investigat*")])
    assert not shows_any("an investor asked", [phrase("investigat*")])


def test_an_empty_phrase_matches_nothing():
    assert not shows_any("anything at all", [phrase("")])

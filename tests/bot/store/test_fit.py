"""A record is made to fit its table before it is buffered: text any database takes, lengths from the schema."""

from __future__ import annotations

import pytest

from bot.records import Feedback, Interaction, Preference
from bot.store import schema
from bot.store.fit import LIMITS, RecordDoesNotFit, clean_text, fit


def test_lone_surrogates_become_the_replacement_character_and_nul_is_removed():
    assert clean_text("facebook \ud800") == "facebook \ufffd"
    assert clean_text("\udfff at the start, \ud83d alone") == "\ufffd at the start, \ufffd alone"
    assert clean_text("face\x00book") == "facebook"
    assert clean_text("caf\u00e9 \U0001f600 \x00") == "caf\u00e9 \U0001f600 "  # real characters are kept


def test_every_text_field_of_a_record_is_cleaned_and_the_rest_is_left_alone():
    record = Interaction(school="reading", channel="web", status="answered", question="tiktok \ud800\x00?")
    cleaned = fit(record)
    assert cleaned.question == "tiktok \ufffd?"
    assert (cleaned.id, cleaned.created_at, cleaned.school) == (record.id, record.created_at, record.school)
    vote = fit(Feedback(helpful=False, channel="teams", comment="wrong \udc00 clause\x00"))
    assert vote.comment == "wrong \ufffd clause"


def test_a_clean_record_is_returned_as_it_is():
    record = Interaction(school="reading", channel="web", status="answered", question="can i post?")
    assert fit(record) is record


def test_the_limits_are_the_schema_columns_lengths():
    assert LIMITS[Feedback]["interaction_id"] == schema.feedback.c.interaction_id.type.length == 32
    assert LIMITS[Feedback]["school"] == schema.feedback.c.school.type.length == 64
    assert LIMITS[Interaction]["clause_id"] == 128
    assert LIMITS[Preference] == {"user_hash": 64, "school": 64}
    assert "question" not in LIMITS[Interaction] and "comment" not in LIMITS[Feedback]  # Text: no limit


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (Feedback(helpful=True, channel="web", interaction_id="x" * 40), "interaction_id"),
        (Feedback(helpful=True, channel="web", school="s" * 100), "school"),
        (Interaction(school="reading", channel="web", status="answered", clause_id="c" * 129), "clause_id"),
        (Preference(user_hash="h" * 65, school="reading"), "user_hash"),
    ],
)
def test_an_identifier_longer_than_its_column_is_refused_not_cut(record, field):
    with pytest.raises(RecordDoesNotFit) as refused:
        fit(record)
    assert refused.value.field == field
    assert "x" * 40 not in refused.value.message  # names the field and lengths, never the content


def test_a_value_exactly_as_long_as_its_column_fits():
    vote = Feedback(helpful=True, channel="web", interaction_id="x" * 32, school="s" * 64)
    assert fit(vote) is vote

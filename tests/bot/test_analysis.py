"""The analyzer turns clauses and questions into the same kind of terms."""

from bot.analysis import Analyzer, normalise, tokenize


def test_normalise_folds_case_curly_quotes_and_contractions():
    assert normalise("Someone\u2019s DON'T") == "someone don"
    assert tokenize("Can't post on FB!") == ["can", "post", "on", "fb"]


def test_stop_words_and_question_scaffolding_are_dropped_and_words_are_stemmed():
    terms = Analyzer().terms("Am I allowed to accept friend requests from pupils?")
    assert terms == ["accept", "friend", "request", "pupil"]


def test_chat_words_add_the_policy_word_and_keep_the_typed_one():
    analyzer = Analyzer({"instagram": ["insta"], "dismissal": ["sacked"]})
    assert analyzer.terms("could i get sacked over my insta") == ["sack", "dismiss", "insta", "instagram"]


def test_multi_word_synonyms_match_as_phrases_longest_first():
    analyzer = Analyzer({"rest break": ["lunch break", "lunch"], "whistleblowing": ["blow the whistle"]})
    assert analyzer.terms("on my lunch break") == ["lunch", "break", "rest"]
    assert analyzer.terms("can i blow the whistle") == ["blow", "whistl", "whistleblow"]


def test_groups_keep_one_group_per_typed_word_for_coverage():
    analyzer = Analyzer({"facebook": ["fb"]})
    assert analyzer.groups("fb timesheet") == [("fb", "facebook"), ("timesheet",)]


def test_combinations_add_policy_words_for_words_that_mean_something_together():
    from bot.analysis import Combination

    rule = Combination(
        ("official", "account"), frozenset({("school",)}), frozenset({("instagram",), ("page",)})
    )
    analyzer = Analyzer({"instagram": ["insta"]}, [rule])
    assert "offici" in analyzer.terms("can i post on the school insta")
    assert "offici" in analyzer.terms("the school fb page")
    assert "offici" not in analyzer.terms("my own insta")
    assert "offici" not in analyzer.terms(
        "school trip photos then much later something on insta"
    )  # too far apart

"""The composed Answer: quote and citation, the school's variant, other schools' differences, contacts."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from bot import Answer, Assistant, InvalidQuestion, UnknownSchool


def test_answer_quotes_the_clause_with_policy_section_and_heading(assistant):
    answer = assistant.ask("who do i report a breach of the policy to", "wolverhampton")
    assert answer.status == "answered"
    assert answer.clause.citation.startswith("Social Media Policy for school-based employees")
    assert "§" in answer.clause.citation
    assert answer.contacts[0].role == "headteacher"


def test_answer_is_frozen(assistant):
    answer = assistant.ask("can i be friends with pupils", "wolverhampton")
    assert isinstance(answer, Answer)
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.status = "no_match"


def test_concern_about_the_headteacher_routes_to_the_chair_of_governors(assistant, kb):
    answer = assistant.ask(
        "who do i report a colleague's breach to, and what if it's the head?", "wolverhampton"
    )
    roles = [c.role for c in answer.contacts]
    assert roles[:2] == ["headteacher", "chair_of_governors"] or "chair_of_governors" in roles


def test_crynallt_answer_adds_the_other_applicable_document_on_the_same_topic(assistant):
    answer = assistant.ask("can i accept a friend request from a parent", "crynallt")
    assert answer.clause is not None and answer.school_variant is not None
    assert {answer.clause.policy_id, answer.school_variant.policy_id} == {"npt", "crynallt"}


def test_other_schools_differences_are_noted_and_exclude_the_askers_own(assistant):
    answer = assistant.ask("can i use social media on my lunch break", "reading")
    assert answer.variants
    others = {s for v in answer.variants for s in v.school_ids}
    assert "reading" not in others and others <= {"howitt", "wolverhampton", "crynallt", "rutland"}
    assert all(v.note for v in answer.variants)


def test_no_match_says_so_plainly_and_offers_the_general_contact(assistant):
    answer = assistant.ask("How many days of annual leave do I get?", "reading")
    assert answer.status == "no_match" and answer.clause is None
    assert "does not cover" in answer.message
    assert [c.role for c in answer.contacts] == ["hr_provider"]


def test_at_most_two_alternatives_and_three_contacts(assistant):
    answer = assistant.ask("what happens if i post something offensive about a colleague", "rutland")
    assert len(answer.alternatives) <= 2 and len(answer.contacts) <= 3
    assert answer.clause.id not in {a.id for a in answer.alternatives}


def test_quoting_a_policy_past_its_review_date_carries_a_note(kb):
    assistant = Assistant(kb, today=lambda: dt.date(2026, 11, 23))
    answer = assistant.ask("can i check facebook on my phone at work", "rutland")
    assert (
        answer.review_note
        == "This policy was due for review in January 2020. Check with HR that it is current."
    )
    assert (
        Assistant(kb, today=lambda: dt.date(2019, 6, 1))
        .ask("can i check facebook at work", "rutland")
        .review_note
        is None
    )


@pytest.mark.parametrize("question", ["", "   ", None, 42, "x" * 1001])
def test_empty_non_text_or_over_long_questions_are_typed_errors(assistant, question):
    with pytest.raises(InvalidQuestion) as err:
        assistant.ask(question, "howitt")
    assert err.value.user_message


def test_unknown_school_is_refused_before_any_search(assistant):
    with pytest.raises(UnknownSchool):
        assistant.ask("can i post pics", "hogwarts")


# -- whole quotes: a lead-in comes with its list, a list item with its lead-in ------------------------------

LIST_JOINER_AT_END = ("; or", "; and", ";", ",", ":")


@pytest.fixture(scope="module")
def composer(assistant):
    return assistant._snapshot.composer


def test_a_lead_in_is_quoted_with_the_list_it_introduces(assistant, kb, composer):
    lead_in = next(c for c in kb.policies["rutland"].clauses if c.id == "rutland.7.8")
    cited = composer.cite_whole(lead_in)
    assert cited.quote.startswith("If you have a LinkedIn profile then you must ensure that")
    assert [line.text for line in cited.lines[1:]] == [
        "It is accurate,",
        "It does not divulge confidential or sensitive material, or material which might lower the reputation of "
        "the Council",
        "You refer to the Council and your employment in a way which is respectful",
    ]
    answer = assistant.ask("can i have a linkedin saying i work at the council", "rutland")
    assert answer.clause.section == "7.8" and not answer.clause.quote.endswith(":")


def test_no_quote_ends_at_a_colon_or_mid_list_and_every_quote_keeps_the_clauses_own_words(kb, composer):
    for policy in kb.policies.values():
        for clause in policy.clauses:
            cited = composer.cite_whole(clause)
            assert not cited.quote.endswith(LIST_JOINER_AT_END), (clause.id, cited.quote[-60:])
            assert clause.text in cited.quote, clause.id  # the answer contract's text still holds the clause
            if clause.lead_in:
                assert cited.quote.startswith(clause.lead_in), clause.id


def test_a_list_item_cut_from_its_list_is_marked_as_going_on(kb, composer):
    reading = {c.id: c for c in kb.policies["reading"].clauses}
    item = composer.cite_whole(reading["reading.4.1.b1"])
    assert item.quote.startswith("The school considers that valid reasons for checking")
    assert item.quote.endswith("for non-work-related activity; or …")
    lead_in = composer.cite_whole(reading["reading.4.1.p1"])
    assert lead_in.quote.endswith("acted in a way that is in breach of the rules set out in this policy.")


def test_a_nested_list_is_quoted_with_its_sub_items_one_level_deeper(kb, composer):
    clause = next(c for c in kb.policies["howitt"].clauses if c.id == "howitt.6.4.b1")
    cited = composer.cite_whole(clause)
    assert [line.level for line in cited.lines] == [0, 1, 2, 2, 2]
    assert cited.quote_as_list().splitlines()[2].startswith("  • Criticising, disagreeing or arguing")


def test_crynallt_guidance_items_that_are_sentences_are_not_stitched_onto_you_should_not(kb, composer):
    guidance = {c.id: c for c in kb.policies["crynallt"].clauses}
    photos = composer.cite_whole(guidance["crynallt.guidance.b8"]).quote
    assert photos.startswith("Post Photographs") and "you should not" not in photos
    friend = composer.cite_whole(guidance["crynallt.guidance.b4"])
    assert [line.text for line in friend.lines] == [
        "We recommend for Personal Use of Social Media you should not;",
        "Accept friend requests from a person you believe to be a parent at your school.",
    ]


# -- related clauses: none repeats what the answer already shows ---------------------------------------------

QUESTIONS = [
    ("rutland", "can i check fb on my phone at lunch"),
    ("rutland", "can i have a linkedin saying i work at the council"),
    ("rutland", "can i post a picture of my team on the council's twitter"),
    ("crynallt", "can i accept a friend request from a parent"),
    ("crynallt", "a pupil messaged me on instagram"),
    ("howitt", "can i criticise my manager on facebook"),
    ("howitt", "can i use snapchat during my break"),
    ("reading", "can the school check my internet use"),
    ("reading", "can i say where i work in my twitter bio"),
    ("reading", "what happens if i post something racist"),
    ("wolverhampton", "who can post on the school's facebook page"),
    ("wolverhampton", "a parent is abusing me online what do i do"),
    ("wolverhampton", "can i be friends with parents on facebook"),
]


@pytest.mark.parametrize(("school", "question"), QUESTIONS)
def test_related_clauses_differ_from_the_quote_the_also_applies_clause_and_each_other(
    assistant, composer, school, question
):
    answer = assistant.ask(question, school)
    shown = [answer.clause.citation] + ([answer.school_variant.citation] if answer.school_variant else [])
    related = [a.citation for a in answer.alternatives]
    assert len(set(related)) == len(related)
    assert not set(related) & set(shown)
    folded = {line.id for parts in composer.parts.values() for line in parts.items.get(answer.clause.id, ())}
    assert not folded & {a.id for a in answer.alternatives}
    ranked = [c.id for c in answer.clauses]
    assert len(ranked) == 3 and len(set(ranked)) == 3  # a dropped repeat is replaced by the next distinct hit


def test_paragraphs_of_one_section_are_told_apart_in_their_citations(assistant):
    answer = assistant.ask("can i check fb on my phone at lunch", "rutland")
    assert answer.clause.citation == "Social Media Policy, §6.2 (paragraph 3), Access via personal devices"
    assert answer.clause.section == "6.2"  # the label stays the one the policy prints


# -- other schools: on the quote's topic, each note cited by one fixed section -------------------------------


@pytest.mark.parametrize(("school", "question"), QUESTIONS)
def test_other_schools_entries_are_on_the_topic_of_the_quote(assistant, school, question):
    answer = assistant.ask(question, school)
    for variant in answer.variants:
        clause = next(
            c for c in assistant.kb.policies[variant.clause.policy_id].clauses if c.id == variant.clause.id
        )
        assert answer.topic_id in clause.topics, (variant.clause.id, answer.topic_id)
        assert school not in variant.school_ids


def test_a_schools_note_on_a_topic_is_always_cited_by_the_same_section(assistant):
    answers = [
        assistant.ask(question, "rutland")
        for question in (
            "can i go on facebook at work",
            "can i check insta at break",
            "tiktok on my phone in work?",
        )
    ]
    assert {a.topic_id for a in answers} == {"personal_use_at_work"}
    cited = {v.clause.id for a in answers for v in a.variants if "howitt" in v.school_ids}
    assert len(cited) == 1


def test_a_note_is_cited_by_the_section_of_the_rule_it_states_first(assistant, composer):
    # "Keep your LinkedIn profile accurate and respectful …, and think about … identity theft": §7.8, not §7.10
    assert composer.note_clause("rutland", "personal_details").section == "7.8"
    answer = assistant.ask("should i put my employer and job on my facebook profile", "howitt")
    assert answer.topic_id == "personal_details"
    rutland = next(v for v in answer.variants if "rutland" in v.school_ids)
    assert rutland.clause.section == "7.8" and "LinkedIn" in rutland.note


def test_crynallts_pupil_friend_request_note_is_not_an_official_accounts_rule(assistant):
    answer = assistant.ask("who can post on the school's facebook page", "wolverhampton")
    assert answer.topic_id == "official_accounts"
    crynallt = next(v for v in answer.variants if "crynallt" in v.school_ids)
    assert crynallt.clause.id != "crynallt.guidance.p3"
    assert "friend" not in (crynallt.note or crynallt.clause.quote).lower()


def test_schools_are_grouped_by_topic_once_when_the_composer_is_built(composer, kb):
    speakers = composer.speakers["personal_use_at_work"]
    schools = [s.id for speaker in speakers for s in speaker.schools]
    assert sorted(schools) == sorted(kb.schools)  # each school once, under the policy that speaks for it
    crynallt = next(s for s in speakers if any(school.id == "crynallt" for school in s.schools))
    assert crynallt.policy_id == "crynallt"  # its own guidance note speaks first


# -- contacts: the roles the school's own policy names, once each ---------------------------------------------


@pytest.mark.parametrize(("school", "question"), QUESTIONS)
def test_contacts_are_roles_the_schools_own_policy_names_once_each(assistant, school, question):
    answer = assistant.ask(question, school)
    named = {r for p in assistant.kb.policies_for(school) for c in p.clauses for r in c.contacts}
    roles = [c.role for c in answer.contacts]
    assert len(set(roles)) == len(roles)
    assert set(roles) <= named | {"safeguarding_lead", assistant.kb.school(school).general_contact}
    assert all(c.title[:1].isupper() for c in answer.contacts)


def test_a_school_whose_policy_never_names_a_headteacher_is_not_sent_to_one(assistant):
    for question in (
        "a pupil sent me a friend request",
        "can i post photos of my class",
        "who do i report a post to",
    ):
        answer = assistant.ask(question, "howitt")
        assert "headteacher" not in [c.role for c in answer.contacts], question


def test_no_match_names_the_general_contact_inside_its_sentence(assistant):
    answer = assistant.ask("How many days of annual leave do I get?", "reading")
    assert answer.message.endswith("please ask the HR team.")
    assert answer.contacts[0].title == "The HR team"


@pytest.mark.parametrize(
    ("question", "first"),
    [
        ("who do i tell if it's the head who posted it", "chair_of_governors"),
        ("what if its the ht whos been posting about staff, who do i go to", "chair_of_governors"),
        ("a colleague posted something racist on fb, who do i tell", "headteacher"),
    ],
)
def test_a_concern_about_the_head_leads_with_the_chair_and_one_about_a_colleague_with_the_head(
    assistant, question, first
):
    # Wolverhampton 10.5 names both; topics.yaml's head_conduct (`leads_contacts`) says which the question means.
    answer = assistant.ask(question, "wolverhampton")
    assert answer.clause is not None and answer.clause.id == "wolverhampton.10.5"
    assert answer.contacts[0].role == first

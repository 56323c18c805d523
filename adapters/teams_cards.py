"""Render the core's replies for Microsoft Teams: an Adaptive Card (version 1.5) with a text fallback."""

from __future__ import annotations

import re
from typing import Any

from bot.compose import ANSWERED, Answer, in_sentence
from bot.conversation import ChooseSchool, EscalationReceipt, Help, Notice, Reply, SchoolChosen

CARD_VERSION = "1.5"  # the highest version Teams renders on every client
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
HANDOFF = "handoff"  # the hand-off button's action
HANDOFF_QUESTION_CHARS = (
    500  # the question carried in the button, clipped: a card's data travels on every click
)
MAX_NAME_CHARS = 100


# Characters that start Markdown in an Adaptive Card TextBlock (which has no plain-text mode): emphasis, code,
# links and images, HTML-ish angle brackets, strike-through, tables, and the backslash itself.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>~|])")
# At the start of a line these make a heading, quote or list.
_LINE_START = re.compile(r"^(\s*\d*)(#|>|[-+](?=\s)|(?<=\d)[.)](?=\s))", re.M)
# Teams turns a bare address into a link by itself; a word joiner after the scheme or "www" looks the same to
# a reader but is no longer an address.
_BARE_LINK = re.compile(r"(://|(?<![\w.])www\.)", re.I)


def plain(text: str) -> str:
    """`text` as a TextBlock shows it: every Markdown character escaped, no bare link left to linkify.

    For words from outside (the asker's question), never for the knowledge base's own, which may use emphasis.
    """
    text = _MARKDOWN.sub(r"\\\1", text)
    text = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return _BARE_LINK.sub(lambda m: m.group(1)[:-1] + "\u2060" + m.group(1)[-1], text)


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _card(
    body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None, fallback: str | None = None
) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    if actions:
        card["actions"] = actions
    if fallback:
        card["fallbackText"] = fallback  # what a client that cannot render the card (or a notification) shows
    return card


def contact_line(title: str, name: str | None, how: str | None) -> str:
    """ "Title (Name): how", leaving out what is not filled in: a title alone reads as a title, not "Title: —"."""
    return title + (f" ({name})" if name else "") + (f": {how}" if how else "")


def answer_card(answer: Answer) -> dict[str, Any]:
    asked = "following on, you asked" if answer.follow_up else "you asked"
    body: list[dict[str, Any]] = [
        _text(f"{plain(answer.school_name)} · {asked}: {plain(answer.question)}", isSubtle=True, size="Small")
    ]
    actions: list[dict[str, Any]] = []
    privacy = [_text(answer.privacy_note, color="Attention", size="Small")] if answer.privacy_note else []
    if answer.status != ANSWERED or answer.clause is None:
        body += [_text(answer.message), *privacy]
    else:
        clause = answer.clause
        if answer.message:  # a routed or sensitive answer leads with what to do and whom to tell
            body.append(_text(answer.message, weight="Bolder"))
        body += privacy
        body.append(
            {"type": "Container", "style": "emphasis", "items": [_text(f"“{clause.quote_as_list()}”")]}
        )
        body.append(_text(clause.citation, isSubtle=True, size="Small", spacing="Small"))
        if answer.school_variant:
            v = answer.school_variant
            body.append(_text("Also applies to your school", weight="Bolder", spacing="Medium"))
            body.append(
                {"type": "Container", "style": "emphasis", "items": [_text(f"“{v.quote_as_list()}”")]}
            )
            body.append(_text(v.citation, isSubtle=True, size="Small", spacing="Small"))
        if answer.review_note:
            body.append(_text(answer.review_note, color="Warning", size="Small"))
    if answer.contacts:
        body.append(_text("Who to contact", weight="Bolder", spacing="Medium"))
        # One list item per contact, like the terminal's (a FactSet needs a value beside every title).
        lines = [f"- {contact_line(c.title, c.name, c.how)}" for c in answer.contacts]
        body.append(_text("\r".join(lines), spacing="Small"))
    if answer.variants:
        differences = [
            _text(
                f"**{', '.join(v.school_names)}** (§{v.clause.section}): {v.note or v.clause.quote_as_list()}",
                size="Small",
            )
            for v in answer.variants
        ]
        actions.append(
            {"type": "Action.ShowCard", "title": "How other schools differ", "card": _card(differences)}
        )
    if answer.status == ANSWERED and answer.clause:
        data = {
            "action": "feedback",
            "s": answer.school_id,
            "c": answer.clause.id,
            "i": answer.interaction_id,
        }
        actions += [
            {"type": "Action.Submit", "title": "👍 Helpful", "data": {**data, "helpful": True}},
            {"type": "Action.Submit", "title": "👎 Not helpful", "data": {**data, "helpful": False}},
        ]
    if answer.handoff:
        actions.append(handoff_action(answer))
    return _card(body, actions, fallback=answer_text(answer))


def handoff_action(answer: Answer) -> dict[str, Any]:
    """ "Ask your Headteacher": the button that passes the question on (the adapter's `handoff` action).

    The data comes back as the asker's client sends it, so the core checks every value again.
    """
    assert answer.handoff is not None
    data = {
        "action": HANDOFF,
        "s": answer.school_id,
        "r": answer.handoff.role,
        "c": answer.clause.id if answer.clause else None,
        "i": answer.interaction_id,
        "q": answer.question[:HANDOFF_QUESTION_CHARS],
    }
    return {"type": "Action.Submit", "title": answer.handoff.label, "data": data}


def answer_text(answer: Answer) -> str:
    if answer.status == ANSWERED and answer.clause:
        cited = f"{answer.clause.citation}: {answer.clause.quote}"
        return f"{answer.message} {cited}" if answer.sensitive and answer.message else cited
    return answer.message


def handoff_confirmation(receipt: EscalationReceipt, school_name: str, delivered: bool) -> str:
    """What the asker is told after the hand-off button: passed on, or how to reach the contact themselves."""
    who = in_sentence(receipt.contact_title)
    at = f" at {school_name}" if school_name else ""
    how = f": {receipt.contact_how}" if receipt.contact_how else "."
    if delivered:
        return f"I've passed your question to {who}{at}. They will reply to you here in Teams."
    if receipt.recorded:
        return f"I've noted that you'd like to ask {who}{at}, but I can't message them from here. Please contact them directly{how}"
    return f"I could not pass your question on from here. Please contact {who}{at} directly{how}"


def _safe_name(name: str | None) -> str:
    """A display name fit to sit inside <at>...</at>: no tags, no line breaks, never empty."""
    return " ".join(re.sub(r"[<>&]", "", name or "").split())[:MAX_NAME_CHARS] or "a colleague"


def escalation_card(
    *,
    school_name: str,
    contact_title: str,
    question: str | None,
    clause_id: str | None,
    asker_id: str,
    asker_name: str | None,
) -> tuple[str, dict[str, Any]]:
    """The message to the escalation conversation: who asked (mentioned, so a reply reaches them), which
    school, for whom, the question and the clause the answer cited. Returns (notification text, card).

    The question and the clause id came back from the asker's client: they are shown as plain text, and the
    only mention is the asker's own, made by an entity (typed "@channel" or "<at>" stays words).
    """
    name = _safe_name(asker_name)
    at = f"<at>{name}</at>"
    body = [
        _text(f"Question for {in_sentence(contact_title, 'the')} at {school_name}", weight="Bolder"),
        _text(f"From {at}: please reply to them directly.", spacing="Small"),
        _text("They asked", weight="Bolder", spacing="Medium"),
        {
            "type": "Container",
            "style": "emphasis",
            "items": [_text(plain(question) if question else "(the question was not passed on)")],
        },
    ]
    if clause_id:
        body.append(_text(f"The answer cited clause {plain(clause_id)}.", isSubtle=True, size="Small"))
    summary = f"A question for {in_sentence(contact_title, 'the')} at {school_name}"
    card = _card(body, fallback=summary)
    card["msteams"] = {
        "entities": [{"type": "mention", "text": at, "mentioned": {"id": asker_id, "name": name}}]
    }
    return summary, card


def reply_parts(reply: Reply) -> tuple[str, dict[str, Any] | None]:
    """The fallback text and, where there is one, the Adaptive Card for any kind of reply."""
    if isinstance(reply, Answer):
        return answer_text(reply), answer_card(reply)
    if isinstance(reply, Help):
        where = (
            f"I answer from {reply.school.name}'s policy. Change it by typing: school <name>."
            if reply.school
            else "Tell me your school first by typing: school <name>."
        )
        lines = "\n".join(f"- {e}" for e in reply.examples)
        text = (
            "Hi! I answer questions about your school's social media policy: I quote the exact clause, "
            f"show your school's version of the rule and tell you who to contact. {where}"
        )
        return text, _card([_text(text), _text("Try asking:", weight="Bolder"), _text(lines)], fallback=text)
    if isinstance(reply, SchoolChosen):
        return f"Got it: I'll answer from {reply.school.name}'s policy.", None
    if isinstance(reply, ChooseSchool):
        names = ", ".join(f"{s.id} ({s.name})" for s in reply.schools)
        return f"{reply.message} Type: school <name>. Schools: {names}.", None
    assert isinstance(reply, Notice)
    return reply.message, None

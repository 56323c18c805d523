"""Render the core's replies for Microsoft Teams: an Adaptive Card (version 1.5) with a text fallback."""

from __future__ import annotations

from typing import Any

from bot.compose import ANSWERED, Answer
from bot.conversation import ChooseSchool, Help, Notice, Reply, SchoolChosen

CARD_VERSION = "1.5"  # the highest version Teams renders on every client
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card


def answer_card(answer: Answer) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        _text(f"{answer.school_name} · you asked: {answer.question}", isSubtle=True, size="Small")
    ]
    actions: list[dict[str, Any]] = []
    if answer.status != ANSWERED or answer.clause is None:
        body.append(_text(answer.message))
    else:
        clause = answer.clause
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
        facts = [
            {"title": c.title, "value": " ".join(p for p in (c.name or "", c.how or "") if p) or "—"}
            for c in answer.contacts
        ]
        body.append({"type": "FactSet", "facts": facts})
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
    return _card(body, actions)


def answer_text(answer: Answer) -> str:
    if answer.status == ANSWERED and answer.clause:
        return f"{answer.clause.citation}: {answer.clause.quote}"
    return answer.message


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
        return text, _card([_text(text), _text("Try asking:", weight="Bolder"), _text(lines)])
    if isinstance(reply, SchoolChosen):
        return f"Got it: I'll answer from {reply.school.name}'s policy.", None
    if isinstance(reply, ChooseSchool):
        names = ", ".join(f"{s.id} ({s.name})" for s in reply.schools)
        return f"{reply.message} Type: school <name>. Schools: {names}.", None
    assert isinstance(reply, Notice)
    return reply.message, None

"""Render the core's replies as Slack Block Kit. Every piece of text is escaped for mrkdwn first.

Slack limits: 3,000 characters per section text, 50 blocks per message, 2,000 characters per button value.
"""

from __future__ import annotations

import json
from typing import Any

from bot.compose import ANSWERED, Answer, ContactRef
from bot.conversation import ChooseSchool, Help, Notice, Reply, SchoolChosen

SECTION_LIMIT = 3000
BLOCK_LIMIT = 50
VALUE_LIMIT = 2000


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: `<!channel>`, `<@U123>` and links can then never be formed from user text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(mrkdwn)}}


def _context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(mrkdwn)}]}


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in escape(text).splitlines() or [""])


def _contact(c: ContactRef) -> str:
    who = (
        escape(c.title)
        + (f" ({escape(c.name)})" if c.name else "")
        + (f" — {escape(c.how)}" if c.how else "")
    )
    return f"• {who}"


def button_value(answer: Answer) -> str:
    """What a button click needs to find the answer again: school, clause and (trimmed) question."""
    # Escaped too: a value is never rendered, but a message must not carry a raw `<!channel>` anywhere.
    data = {
        "s": answer.school_id,
        "c": answer.clause.id if answer.clause else None,
        "i": answer.interaction_id,
        "q": escape(answer.question[:1200]),
    }
    return json.dumps(data, separators=(",", ":"))[:VALUE_LIMIT]


def answer_blocks(answer: Answer, *, shareable: bool = False) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        _context(f"*{escape(answer.school_name)}* · you asked: {escape(answer.question)}")
    ]
    if answer.status != ANSWERED or answer.clause is None:
        blocks.append(_section(escape(answer.message)))
    else:
        clause = answer.clause
        if answer.message:  # a routed answer leads with what to do and whom to tell
            blocks.append(_section(escape(answer.message)))
        blocks.append(_section(_quote(clause.quote_as_list())))
        blocks.append(_context(escape(clause.citation)))
        if answer.school_variant:
            v = answer.school_variant
            blocks.append(
                _section(f"*Also applies to your school* ({escape(v.citation)})\n{_quote(v.quote_as_list())}")
            )
        if answer.review_note:
            blocks.append(_context(":warning: " + escape(answer.review_note)))
    if answer.contacts:
        blocks.append(_section("*Who to contact*\n" + "\n".join(_contact(c) for c in answer.contacts)))
    if answer.variants:
        lines = [
            f"• *{escape(', '.join(v.school_names))}* (§{escape(v.clause.section)}): {escape(v.note or v.clause.quote_as_list())}"
            for v in answer.variants
        ]
        blocks.append(
            _context(f"*How other schools differ* ({escape(answer.topic_title or '')})\n" + "\n".join(lines))
        )
    actions: list[dict[str, Any]] = []
    if answer.status == ANSWERED:
        value = button_value(answer)
        actions += [
            {
                "type": "button",
                "action_id": "feedback_up",
                "text": {"type": "plain_text", "text": "👍 Helpful"},
                "value": value,
            },
            {
                "type": "button",
                "action_id": "feedback_down",
                "text": {"type": "plain_text", "text": "👎 Not helpful"},
                "value": value,
            },
        ]
    if shareable:
        actions.append(
            {
                "type": "button",
                "action_id": "share_answer",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Share in channel"},
                "value": button_value(answer),
            }
        )
    if actions:
        blocks.append({"type": "actions", "elements": actions})
    return blocks[:BLOCK_LIMIT]


def answer_text(answer: Answer) -> str:
    """The plain fallback shown in notifications."""
    if answer.status == ANSWERED and answer.clause:
        return _clip(escape(f"{answer.clause.citation}: {answer.clause.quote}"), 300)
    return escape(answer.message)


def _school_list(reply: Help | ChooseSchool) -> str:
    return ", ".join(f"`{escape(s.id)}` ({escape(s.name)})" for s in reply.schools)


def reply_message(reply: Reply, *, shareable: bool = False) -> dict[str, Any]:
    """`text` + `blocks` for chat.postMessage or a response_url, for any kind of reply."""
    if isinstance(reply, Answer):
        return {"text": answer_text(reply), "blocks": answer_blocks(reply, shareable=shareable)}
    if isinstance(reply, Help):
        where = (
            f"I answer from *{escape(reply.school.name)}*'s policy. Change it with `school <name>`."
            if reply.school
            else f"Tell me your school first with `school <name>`: {_school_list(reply)}."
        )
        examples = "\n".join(f"• {escape(e)}" for e in reply.examples)
        text = (
            "Hi! I answer questions about your school's social media policy: I quote the exact clause, "
            f"show your school's version of the rule and tell you who to contact.\n{where}\n*Try asking:*\n{examples}"
        )
        return {
            "text": "I answer questions about your school's social media policy.",
            "blocks": [_section(text)],
        }
    if isinstance(reply, SchoolChosen):
        text = f"Got it: I'll answer from *{escape(reply.school.name)}*'s policy. Ask me anything about it."
        return {"text": text, "blocks": [_section(text)]}
    if isinstance(reply, ChooseSchool):
        text = f"{escape(reply.message)} Reply with `school <name>`: {_school_list(reply)}."
        return {"text": text, "blocks": [_section(text)]}
    assert isinstance(reply, Notice)
    return {"text": escape(reply.message), "blocks": [_section(escape(reply.message))]}


def home_view(
    school_name: str | None, schools: list[tuple[str, str]], examples: tuple[str, ...]
) -> dict[str, Any]:
    """App Home: what the bot does, the user's school with a picker, and example questions."""
    options = [
        {"text": {"type": "plain_text", "text": _clip(name, 75)}, "value": sid} for sid, name in schools
    ]
    picker: dict[str, Any] = {
        "type": "static_select",
        "action_id": "choose_school",
        "placeholder": {"type": "plain_text", "text": "Choose your school"},
        "options": options[:100],
    }
    current = next((o for o in options if o["text"]["text"] == school_name), None)
    if current:
        picker["initial_option"] = current
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Policy Assistant"}},
            _section(
                "Ask me about your school's *social media policy*: mention me in a channel, send me a direct "
                "message, or use `/policy <question>`. I quote the exact clause, show your own school's version "
                "and tell you who to contact."
            ),
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*Your school:* {escape(school_name) if school_name else '_not chosen yet_'}",
                },
                "accessory": picker,
            },
            _section("*Try asking:*\n" + "\n".join(f"• {escape(e)}" for e in examples)),
        ],
    }

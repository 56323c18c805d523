"""Render the core's replies as Slack Block Kit. Every piece of text is escaped for mrkdwn first.

Slack limits: 3,000 characters per section text, 50 blocks per message, 2,000 characters per button value.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.compose import ANSWERED, Answer, ContactRef, in_sentence
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


def _fit_value(data: dict[str, Any]) -> str:
    """`data` as a button value of at most VALUE_LIMIT characters: the question is clipped until it fits, so
    the value stays valid JSON (escaping and JSON's \\u escapes can make a short question several times longer)."""
    question = str(data.get("q") or "")[:1200]
    while True:
        value = json.dumps({**data, "q": escape(question)}, separators=(",", ":"))
        if len(value) <= VALUE_LIMIT or not question:
            return value[:VALUE_LIMIT]
        question = question[: max(len(question) - max((len(value) - VALUE_LIMIT) // 6, 1) - 1, 0)]


def button_value(answer: Answer) -> str:
    """What a button click needs to find the answer again: school, clause and (trimmed) question."""
    # Escaped too: a value is never rendered, but a message must not carry a raw `<!channel>` anywhere.
    data = {
        "s": answer.school_id,
        "c": answer.clause.id if answer.clause else None,
        "i": answer.interaction_id,
        "q": answer.question,
    }
    return _fit_value(data)


def handoff_value(answer: Answer) -> str:
    """The hand-off button's value: the button value plus the role the question goes to (`r`)."""
    data = {
        "s": answer.school_id,
        "r": answer.handoff.role if answer.handoff else None,
        "c": answer.clause.id if answer.clause else None,
        "i": answer.interaction_id,
        "q": answer.question,
    }
    return _fit_value(data)


def answer_blocks(answer: Answer, *, shareable: bool = False) -> list[dict[str, Any]]:
    asked = "follow-up" if answer.follow_up else "you asked"
    header = _context(f"*{escape(answer.school_name)}* · {asked}: {escape(answer.question)}")
    blocks: list[dict[str, Any]] = []
    if answer.sensitive and answer.message:  # a personal or safeguarding matter leads with whom to tell
        blocks += [_section(escape(answer.message)), header]
    else:
        blocks.append(header)
    if answer.status != ANSWERED or answer.clause is None:
        if not answer.sensitive:
            blocks.append(_section(escape(answer.message)))
    else:
        clause = answer.clause
        if answer.message and not answer.sensitive:  # a routed answer leads with what to do and whom to tell
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
    if answer.privacy_note:
        blocks.append(_context(":lock: " + escape(answer.privacy_note)))
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
    if answer.handoff:
        actions.append(
            {
                "type": "button",
                "action_id": "handoff",
                "text": {"type": "plain_text", "text": _clip(answer.handoff.label, 75)},
                "value": handoff_value(answer),
            }
        )
    if shareable and not answer.sensitive:  # a personal matter is never offered for sharing in a channel
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
    """The plain fallback shown in notifications: for a personal matter, whom to tell."""
    if answer.sensitive and answer.message:
        return _clip(escape(answer.message), 300)
    if answer.status == ANSWERED and answer.clause:
        return _clip(escape(f"{answer.clause.citation}: {answer.clause.quote}"), 300)
    return escape(answer.message)


_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,30}")


def _user_mention(user_id: str | None) -> str:
    """`<@U123>` for a real Slack user id (which pings that person only), else the escaped text."""
    return f"<@{user_id}>" if user_id and _USER_ID.fullmatch(user_id) else escape(user_id or "someone")


def private_message(answer: Answer, channel_id: str | None) -> dict[str, Any]:
    """A sensitive answer for the asker alone (a DM or an ephemeral message), saying why it came privately."""
    where = f" in <#{channel_id}>" if channel_id and _CHANNEL_ID.fullmatch(channel_id) else " in a channel"
    message = reply_message(answer)
    note = _context(
        f":lock: You asked{where}. This is a personal matter, so I'm answering you here, where only you can see it."
    )
    return {**message, "blocks": [note, *message["blocks"]][:BLOCK_LIMIT]}


def escalation_message(
    user_id: str | None,
    school_name: str,
    school_id: str,
    contact_title: str,
    question: str | None,
    clause_id: str | None,
    interaction_id: str | None,
    citation: str | None = None,
) -> dict[str, Any]:
    """The hand-off as posted to the escalation channel: who asks, at which school, what, for whom, citing what.

    Everything but the asker's mention is escaped, so the question cannot ping anyone or form a link.
    """
    who = _user_mention(user_id)
    head = (
        f":raising_hand: {who} at *{escape(school_name)}* (`{escape(school_id)}`) would like "
        f"*{escape(contact_title)}* to answer a social media policy question. Please reply to them directly."
    )
    asked = _quote(question) if question else "_(the question was not kept)_"
    cited = f"`{escape(clause_id)}`" if clause_id else "_none: the policy did not cover it_"
    if clause_id and citation:
        cited = f"{escape(citation)} ({cited})"
    details = f"*Question*\n{asked}\n*Clause cited by the assistant:* {cited}"
    blocks = [_section(head), _section(details)]
    if interaction_id:
        blocks.append(_context(f"Interaction `{escape(interaction_id)}`"))
    text = f"{who} asks {escape(contact_title)} at {escape(school_name)} about the social media policy."
    return {"text": _clip(text, 300), "blocks": blocks}


def handoff_confirmation(
    contact_title: str,
    contact_how: str | None,
    posted: bool,
    recorded: bool,
    storage: bool,
    *,
    duplicate: bool = False,
    passed_on: bool = False,
) -> str:
    """What the asker is told after the hand-off button, honestly: passed on, or how to reach the contact.

    `posted`: the hand-off reached the escalation channel; `recorded`: it is in the database; `storage`: this
    server keeps records at all (when it does not, not recording is no failure to report); `duplicate`: the
    asker clicked this answer's button before, so nothing was sent again; `passed_on`: hand-offs go to a
    channel (SLACK_ESCALATION_CHANNEL) here.
    """
    title = escape(in_sentence(contact_title))
    reach = f" ({escape(contact_how)})" if contact_how else ""
    if duplicate:
        if passed_on:
            return f"You've already passed this question to {title}; they'll reply to you."
        return f"You've already asked about this one. Please contact {title} directly{reach}."
    if posted:
        text = f"I've passed your question to {title}; they'll reply to you."
        if storage and not recorded:
            text += (
                " It could not be saved in HR's records just now, so if you don't hear back, please contact "
                f"{title} directly{reach}."
            )
        return text
    if storage and not recorded:
        return (
            "Sorry, I could not record your request just now (the database is unavailable), and I can't pass "
            f"messages on from here. Please contact {title} directly{reach}."
        )
    noted = "I've noted that you'd like an answer from " if recorded else "This is one for "
    how = f"To reach them: {escape(contact_how)}." if contact_how else "Please contact them directly."
    return f"{noted}{title}, but I can't pass messages on from here. {how}"


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

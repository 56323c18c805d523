"""Render an Answer as plain text for a terminal (`policybot ask`).

A sensitive answer adds its privacy note after the quote; an answer with a hand-off ends with whom to ask and
how ("Ask HR: hr@example.org"), as the chat channels' hand-off button does.
"""

from __future__ import annotations

import re
import textwrap

from bot.compose import ANSWERED, Answer

WIDTH = 96


def _wrap(text: str, indent: str = "  ") -> str:
    """Each line wrapped on its own, so a quoted list keeps one item a line, its continuations under its text."""
    return "\n".join(_wrap_line(line, indent) for line in text.splitlines())


def _wrap_line(line: str, indent: str) -> str:
    marker = re.match(r"^\s*• ", line)
    hanging = indent + " " * (marker.end() if marker else 0)
    return textwrap.fill(
        line.strip(),
        WIDTH,
        initial_indent=indent + line[: len(line) - len(line.lstrip())],
        subsequent_indent=hanging,
    )


def render_text(answer: Answer) -> str:
    lines = [f"{answer.school_name}: {answer.question}", ""]
    if answer.status != ANSWERED or answer.clause is None:
        lines += [_wrap(answer.message, ""), ""]  # the contacts are a block of their own, as after an answer
    else:
        clause = answer.clause
        if answer.message:  # a routed answer leads with what to do and whom to tell
            lines += [_wrap(answer.message, ""), ""]
        lines += [clause.citation, _wrap(f"“{clause.quote_as_list()}”"), ""]
        if answer.school_variant:
            v = answer.school_variant
            lines += [f"Also applies to your school: {v.citation}", _wrap(f"“{v.quote_as_list()}”"), ""]
        if answer.review_note:
            lines += [_wrap(f"Note: {answer.review_note}", ""), ""]
        if answer.variants:
            lines.append(f"How other schools differ ({answer.topic_title}):")
            for v in answer.variants:
                summary = v.note or v.clause.quote_as_list()
                lines.append(_wrap(f"- {', '.join(v.school_names)} (§{v.clause.section}): {summary}"))
            lines.append("")
        if answer.alternatives:
            lines.append("Related clauses: " + "; ".join(a.citation for a in answer.alternatives))
            lines.append("")
    if answer.privacy_note:
        lines += [_wrap(answer.privacy_note, ""), ""]
    if answer.contacts:
        lines.append("Who to contact:")
        for c in answer.contacts:
            who = c.title + (f" ({c.name})" if c.name else "") + (f": {c.how}" if c.how else "")
            lines.append(f"  - {who}")
        lines.append("")
    if answer.handoff:  # the label reads as a sentence ("Ask the DSL"); the title alone may not
        h = answer.handoff
        lines.append(_wrap(f"{h.label}: {h.how}" if h.how else f"{h.label} in person.", ""))
    return "\n".join(lines).rstrip() + "\n"

"""HR's report: per school and period, questions asked, answered vs no_match, 👎 rate, top topics, and the
unanswered and down-voted questions with their nearest clauses (the to-do list for the knowledge base)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from bot.assistant import Assistant
from bot.records import Escalation, Feedback, Interaction
from bot.suggest import Nearest, nearest_clauses


class InteractionLog(Protocol):
    """Where the report reads from: the database's `Store`, or anything else holding the same records."""

    async def interactions(
        self, since: dt.datetime | None = None, school: str | None = None
    ) -> Sequence[Interaction]: ...

    async def feedback(self, since: dt.datetime | None = None) -> Sequence[Feedback]: ...

    async def escalations(
        self, since: dt.datetime | None = None, school: str | None = None
    ) -> Sequence[Escalation]: ...


_PERIOD = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")


def parse_period(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """`30d`, `12h` or `2w` → the moment that long ago (UTC)."""
    match = _PERIOD.match(text or "")
    if not match:
        raise ValueError(f"period {text!r} must look like 30d, 12h or 2w")
    if (
        len(match.group(1)) > 6
    ):  # a million hours is a century: anything longer is a typo, and int() of it is slow
        raise ValueError(f"period {text.strip()!r} is too long; give at most 999999 hours, days or weeks")
    amount, unit = int(match.group(1)), match.group(2)
    try:
        delta = {
            "h": dt.timedelta(hours=amount),
            "d": dt.timedelta(days=amount),
            "w": dt.timedelta(weeks=amount),
        }[unit]
        return (now or dt.datetime.now(dt.UTC)) - delta
    except OverflowError:  # before year 1: the datetime type ends there
        raise ValueError(f"period {text.strip()!r} reaches back before the year 1") from None


@dataclass(frozen=True)
class Item:
    """A question HR should look at, with how often it was asked and the clauses it came closest to."""

    question: str
    times: int
    last_asked: str
    nearest: tuple[Nearest, ...]
    clause_id: str | None = None  # for down-voted answers: the clause that was quoted


@dataclass(frozen=True)
class EscalationItem:
    """A question an asker passed on to a person with the hand-off button."""

    at: str
    role: str
    channel: str
    question: str | None  # None when storing question text is switched off
    clause_id: str | None


@dataclass(frozen=True)
class SchoolReport:
    school: str
    questions: int
    answered: int
    no_match: int
    thumbs_up: int
    thumbs_down: int
    down_rate: float
    top_topics: tuple[tuple[str, int], ...]
    unanswered: tuple[Item, ...]
    downvoted: tuple[Item, ...]
    escalations: tuple[EscalationItem, ...] = ()


@dataclass(frozen=True)
class Report:
    since: str
    until: str
    schools: tuple[SchoolReport, ...]


def _nearest(assistant: Assistant, school: str, question: str) -> tuple[Nearest, ...]:
    if not question:
        return ()
    return nearest_clauses(assistant.retriever, school, question)


def _items(assistant: Assistant, school: str, rows: list[Interaction], clause_of=None) -> tuple[Item, ...]:
    groups: dict[str, list[Interaction]] = {}
    for row in rows:
        # the same question typed with other capitals or punctuation counts as the same question
        key = " ".join(re.sub(r"[^\w\s]", " ", (row.question or "").lower()).split())
        groups.setdefault(key, []).append(row)
    items = []
    for members in groups.values():
        last = max(
            members, key=lambda r: (r.created_at, len(r.question or ""))
        )  # latest, then fullest wording
        question = last.question or "(question text not stored)"
        items.append(
            Item(
                question=question,
                times=len(members),
                last_asked=last.created_at.isoformat(timespec="seconds"),
                nearest=_nearest(assistant, school, last.question or ""),
                clause_id=clause_of(last) if clause_of else None,
            )
        )
    return tuple(sorted(items, key=lambda i: (-i.times, i.question)))


async def build_report(
    store: InteractionLog,
    assistant: Assistant,
    since: dt.datetime,
    school: str | None = None,
    until: dt.datetime | None = None,
) -> Report:
    until = until or dt.datetime.now(dt.UTC)
    interactions = [i for i in await store.interactions(since, school) if i.created_at <= until]
    feedback = [
        f
        for f in await store.feedback(since)
        if f.created_at <= until and (school is None or f.school == school)
    ]
    handed_on = [e for e in await store.escalations(since, school) if e.created_at <= until]
    by_id = {i.id: i for i in interactions}
    schools = sorted(
        {i.school for i in interactions}
        | {f.school for f in feedback if f.school}
        | {e.school for e in handed_on}
    )
    reports = []
    for sid in schools:
        rows = [i for i in interactions if i.school == sid]
        votes = [f for f in feedback if f.school == sid]
        down = [f for f in votes if not f.helpful]
        down_rows = [by_id[f.interaction_id] for f in down if f.interaction_id in by_id]
        answered = sum(1 for i in rows if i.status == "answered")
        topics = Counter(i.topic for i in rows if i.topic)
        reports.append(
            SchoolReport(
                school=sid,
                questions=len(rows),
                answered=answered,
                no_match=sum(1 for i in rows if i.status == "no_match"),
                thumbs_up=len(votes) - len(down),
                thumbs_down=len(down),
                down_rate=round(len(down) / len(votes), 3) if votes else 0.0,
                top_topics=tuple(topics.most_common(5)),
                unanswered=_items(assistant, sid, [i for i in rows if i.status == "no_match"]),
                downvoted=_items(assistant, sid, down_rows, clause_of=lambda r: r.clause_id),
                escalations=tuple(
                    EscalationItem(
                        e.created_at.isoformat(timespec="seconds"), e.role, e.channel, e.question, e.clause_id
                    )
                    for e in handed_on
                    if e.school == sid
                ),
            )
        )
    return Report(since.isoformat(timespec="seconds"), until.isoformat(timespec="seconds"), tuple(reports))


def report_json(report: Report) -> dict:
    return asdict(report)


CSV_FIELDS = ("school", "kind", "question", "times", "last_asked", "quoted_clause", "nearest_clauses")


# A spreadsheet runs a cell that starts with one of these as a formula (tab and CR too, after some trimming).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: object) -> object:
    """Text a spreadsheet shows as text: a cell starting like a formula gets a leading single quote (OWASP's
    advice against CSV injection), so a logged question such as `=HYPERLINK(...)` is never run on HR's machine."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


class _SafeWriter:
    """csv.writer whose text cells are made spreadsheet-safe."""

    def __init__(self, out: io.StringIO):
        self._writer = csv.writer(out)

    def writerow(self, row) -> None:
        self._writer.writerow([spreadsheet_safe(cell) for cell in row])


def report_csv(report: Report) -> str:
    """One row per question HR should look at (kind: unanswered or downvoted), plus a summary row per school.
    Every text cell is spreadsheet-safe: the questions come from anyone who can type to the bot."""
    out = io.StringIO()
    writer = _SafeWriter(out)
    writer.writerow(CSV_FIELDS)
    for s in report.schools:
        summary = (
            f"{s.questions} questions, {s.answered} answered, {s.no_match} no_match, {s.thumbs_down} thumbs down, "
            f"{len(s.escalations)} escalations"
        )
        writer.writerow([s.school, "summary", summary, s.questions, "", "", ""])
        for e in s.escalations:
            writer.writerow(
                [s.school, f"escalation to {e.role}", e.question or "", 1, e.at, e.clause_id or "", ""]
            )
        for kind, items in (("unanswered", s.unanswered), ("downvoted", s.downvoted)):
            for item in items:
                nearest = "; ".join(f"{n.clause_id} ({n.score})" for n in item.nearest)
                writer.writerow(
                    [
                        s.school,
                        kind,
                        item.question,
                        item.times,
                        item.last_asked,
                        item.clause_id or "",
                        nearest,
                    ]
                )
    return out.getvalue()


def report_text(report: Report) -> str:
    lines = [f"Policy Assistant report, {report.since} to {report.until}", ""]
    if not report.schools:
        lines.append("No questions in this period.")
    for s in report.schools:
        lines.append(
            f"{s.school}: {s.questions} questions, {s.answered} answered, {s.no_match} no_match, "
            f"👍 {s.thumbs_up} / 👎 {s.thumbs_down} ({s.down_rate:.0%} down)"
        )
        if s.top_topics:
            lines.append("  top topics: " + ", ".join(f"{t} ({n})" for t, n in s.top_topics))
        if s.escalations:
            lines.append(f"  passed on to a person: {len(s.escalations)}")
        for e in s.escalations:
            about = f" [quoted {e.clause_id}]" if e.clause_id else ""
            lines.append(
                f"    {e.at} to {e.role} via {e.channel}: {e.question or '(text not kept)'!r}{about}"
            )
        for title, items in (("unanswered", s.unanswered), ("down-voted", s.downvoted)):
            if items:
                lines.append(f"  {title}:")
            for item in items:
                quoted = f" [quoted {item.clause_id}]" if item.clause_id else ""
                lines.append(f"    {item.times}× {item.question!r}{quoted}")
                for n in item.nearest:
                    lines.append(f"        nearest: {n.citation} ({n.clause_id}, {n.score})")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"

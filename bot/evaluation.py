"""Score a question set (shared/eval format) against the assistant: top1, top3, contacts, no_match.

A dialogue set (`dialogues:`) is scored turn by turn, each dialogue's turns sent in order as one thread, with
first turns and follow-ups also scored apart, and `sensitive` turns checked for `"sensitive": true`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.assistant import Assistant
from bot.contract import answer_dict, error_dict
from bot.errors import PolicyBotError
from bot.followup import ThreadMemory

_QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)
_REMOVE = str.maketrans("", "", "*_'\"")


def normalise_for_scoring(text: str) -> str:
    """The scoring normalisation of shared/eval/README.md."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower().translate(_REMOVE)
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Case:
    id: str
    school: str
    question: str
    quote_any: tuple[str, ...] = ()
    contact_any: tuple[str, ...] = ()
    expect_no_match: bool = False
    thread: str | None = None  # the dialogue a turn belongs to; None for a single question
    turn: int = 0  # 0: a first question; 1, 2...: follow-ups in its thread
    sensitive: bool = False  # the answer must say "sensitive": true


@dataclass
class CaseResult:
    case: Case
    response: dict[str, Any]
    top1: bool = False
    top3: bool = False
    contact: bool | None = None
    no_match: bool | None = None
    sensitive: bool | None = None


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)

    def _answer_cases(self) -> list[CaseResult]:
        return [r for r in self.results if not r.case.expect_no_match]

    @property
    def metrics(self) -> dict[str, float | int]:
        answer = self._answer_cases()
        with_contacts = [r for r in answer if r.case.contact_any]
        out_of_scope = [r for r in self.results if r.case.expect_no_match]
        ratio = lambda hits, cases: round(sum(hits) / len(cases), 4) if cases else 1.0  # noqa: E731
        metrics: dict[str, float | int] = {
            "cases": len(self.results),
            "top1": ratio([r.top1 for r in answer], answer),
            "top3": ratio([r.top3 for r in answer], answer),
            "contacts": ratio([bool(r.contact) for r in with_contacts], with_contacts),
            "no_match": ratio([bool(r.no_match) for r in out_of_scope], out_of_scope),
            "false_no_match": sum(1 for r in answer if r.response.get("status") == "no_match"),
        }
        if any(r.case.thread for r in self.results):
            first = [r for r in answer if r.case.turn == 0]
            follow = [r for r in answer if r.case.turn > 0]
            sensitive = [r for r in self.results if r.case.sensitive]
            metrics |= {
                "first_top1": ratio([r.top1 for r in first], first),
                "first_top3": ratio([r.top3 for r in first], first),
                "follow_top1": ratio([r.top1 for r in follow], follow),
                "follow_top3": ratio([r.top3 for r in follow], follow),
                "sensitive": ratio([bool(r.sensitive) for r in sensitive], sensitive),
            }
        return metrics

    def misses(self) -> list[CaseResult]:
        return [
            r
            for r in self.results
            if (r.case.expect_no_match and not r.no_match)
            or (not r.case.expect_no_match and (not r.top1 or r.contact is False))
            or r.sensitive is False
        ]


def _case(raw: dict[str, Any], case_id: str, school: str, thread: str | None = None, turn: int = 0) -> Case:
    return Case(
        id=case_id,
        school=school,
        question=str(raw["question"]),
        quote_any=tuple(raw.get("quote_any") or ()),
        contact_any=tuple(raw.get("contact_any") or ()),
        expect_no_match=raw.get("expect") == "no_match",
        thread=thread,
        turn=turn,
        sensitive=raw.get("sensitive") is True,
    )


def load_cases(path: Path | str) -> list[Case]:
    """A question set's cases, or a dialogue set's turns in order (`D01.1`, `D01.2`... sharing thread `D01`)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    cases = [_case(raw, str(raw["id"]), str(raw["school"])) for raw in data.get("cases", [])]
    for dialogue in data.get("dialogues", []):
        did, school = str(dialogue["id"]), str(dialogue["school"])
        for n, raw in enumerate(dialogue["turns"]):
            cases.append(_case(raw, f"{did}.{n + 1}", school, thread=did, turn=n))
    return cases


def score_case(case: Case, response: dict[str, Any]) -> CaseResult:
    result = CaseResult(case, response)
    if case.sensitive:
        result.sensitive = response.get("sensitive") is True
    if case.expect_no_match:
        result.no_match = response.get("status") == "no_match"
        return result
    answered = response.get("status") == "answered"
    quotes = [normalise_for_scoring(q) for q in case.quote_any]
    texts = [normalise_for_scoring(c.get("text", "")) for c in response.get("clauses", [])[:3]]
    result.top1 = answered and bool(texts) and any(q in texts[0] for q in quotes)
    result.top3 = answered and any(q in t for t in texts for q in quotes)
    if case.contact_any:
        roles = {c.get("role") for c in response.get("contacts", [])}
        result.contact = bool(roles & set(case.contact_any))
    return result


def evaluate(assistant: Assistant, cases: list[Case]) -> Report:
    report = Report()
    threads = ThreadMemory(assistant)
    for case in cases:
        try:
            response = answer_dict(threads.ask(case.question, case.school, case.thread))
        except PolicyBotError as exc:
            response = error_dict(exc.user_message, case.school, case.question)
        report.results.append(score_case(case, response))
    return report

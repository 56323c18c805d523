"""Typed errors. Each carries a message that is safe to show to the person who caused it."""

from __future__ import annotations

from dataclasses import dataclass


class PolicyBotError(Exception):
    """Base class: `user_message` is what a channel may show to the asker."""

    def __init__(self, user_message: str):
        super().__init__(user_message)
        self.user_message = user_message


class UnknownSchool(PolicyBotError):
    def __init__(self, school: str, known: list[str]):
        super().__init__(f"Unknown school {school!r}. Known schools: {', '.join(sorted(known))}.")
        self.school = school


class InvalidQuestion(PolicyBotError):
    """Empty, over-long or otherwise unusable question text."""


class InvalidThread(PolicyBotError):
    """A `thread` id that is not short text: a client sent something no channel of ours would."""


class PolicyImportError(PolicyBotError):
    """`kb import`: the document cannot be read or imported, or the draft cannot be written; the message says why."""


@dataclass(frozen=True)
class Problem:
    """One problem found in the knowledge base, located as `file:line`."""

    file: str
    line: int
    message: str
    severity: str = "error"  # "error" stops a load; "warning" is reported but loads

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.file}:{self.line}: {tag}{self.message}"


class KnowledgeError(PolicyBotError):
    """The knowledge base did not load. `problems` lists every error found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = [p for p in problems if p.severity == "error"]
        first = str(self.problems[0]) if self.problems else "unknown problem"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"The knowledge base has errors: {first}{more}")


class SettingsError(PolicyBotError):
    """An environment variable holds something unusable; the message names it and what it should hold."""

"""Makes a record fit its table before it is buffered, so one request can never hold up the log.

Text from outside may carry what no database column takes: lone UTF-16 surrogates (JSON's `"\\ud800"`, which
neither SQLite's nor PostgreSQL's driver can encode) and NUL (which PostgreSQL text refuses). Both are cleaned
from every text field: a surrogate becomes U+FFFD, a NUL is removed.

Lengths come from the schema itself (`bot/store/schema.py`), so the check and the columns cannot disagree. A
value longer than its column is not truncated: the short columns hold identifiers (ids, hashes, school and
clause ids), and a cut identifier would silently point at something else. Such a record is refused with
`RecordDoesNotFit`, which the recorder sets aside and counts.
"""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import String, Table

from bot.records import Escalation, Feedback, Interaction, Preference
from bot.store import schema

Record = Interaction | Feedback | Preference | Escalation

_SURROGATE = re.compile("[\ud800-\udfff]")
_TABLES: dict[type, Table] = {
    Interaction: schema.interactions,
    Feedback: schema.feedback,
    Preference: schema.user_preferences,
    Escalation: schema.escalations,
}


class RecordDoesNotFit(ValueError):
    """A record with a value longer than its column; `message` names the field, never its content."""

    def __init__(self, record: Record, field: str, length: int, limit: int):
        self.message = f"{type(record).__name__} {field} is {length} characters; the column holds {limit}"
        super().__init__(self.message)
        self.field = field


def _limits(table: Table) -> dict[str, int]:
    return {
        column.name: column.type.length
        for column in table.columns
        if isinstance(column.type, String) and column.type.length
    }


LIMITS: dict[type, dict[str, int]] = {kind: _limits(table) for kind, table in _TABLES.items()}


def clean_text(text: str) -> str:
    """Text any database column takes: lone surrogates replaced by U+FFFD, NUL removed."""
    if text.isascii():  # the common case costs one scan in C
        return text.replace("\x00", "") if "\x00" in text else text
    return _SURROGATE.sub("\ufffd", text).replace("\x00", "")


def fit(record: Record) -> Record:
    """The record with its text cleaned; raise RecordDoesNotFit if a value is longer than its column."""
    limits = LIMITS[type(record)]
    changes = {}
    for name, value in record.__dict__.items():
        if not isinstance(value, str):
            continue
        cleaned = clean_text(value)
        if cleaned != value:
            changes[name] = cleaned
        limit = limits.get(name)
        if limit is not None and len(cleaned) > limit:
            raise RecordDoesNotFit(record, name, len(cleaned), limit)
    return dataclasses.replace(record, **changes) if changes else record

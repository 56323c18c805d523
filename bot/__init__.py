"""Policy Assistant core: turns (school, question) into a channel-neutral Answer.

The modules: `bot.knowledge` loads and checks the knowledge base; `bot.analysis`, `bot.semantic` and
`bot.retrieval` find the clauses a question is about; `bot.compose` writes the Answer; `bot.assistant` is the
façade every channel calls; `bot.server` serves the channels (`adapters/`); `bot.store` logs interactions and
feedback; `bot.cli` is the `policybot` command. Import from the module that defines a name.

The names below stay importable from `bot` for older code, but are loaded only when first used: importing
`bot` (and so any `bot.*` module) loads nothing else.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Assistant": "bot.assistant",
    "Answer": "bot.compose",
    "CitedClause": "bot.compose",
    "ContactRef": "bot.compose",
    "Variant": "bot.compose",
    "InvalidQuestion": "bot.errors",
    "KnowledgeError": "bot.errors",
    "PolicyBotError": "bot.errors",
    "UnknownSchool": "bot.errors",
    "KnowledgeBase": "bot.knowledge",
    "load_knowledge": "bot.knowledge",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bot' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "Answer",
    "Assistant",
    "CitedClause",
    "ContactRef",
    "InvalidQuestion",
    "KnowledgeBase",
    "KnowledgeError",
    "PolicyBotError",
    "UnknownSchool",
    "Variant",
    "load_knowledge",
]

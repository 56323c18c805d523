"""Policy Assistant core: turns (school, question) into a channel-neutral Answer.

The public API is re-exported here; adapters and the CLI import from `bot`, not from its modules.
"""

from bot.assistant import Assistant
from bot.compose import Answer, CitedClause, ContactRef, Variant
from bot.errors import InvalidQuestion, KnowledgeError, PolicyBotError, UnknownSchool
from bot.knowledge import KnowledgeBase, load_knowledge

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

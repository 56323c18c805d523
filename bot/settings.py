"""Settings from the environment, read once at start. Secrets are held here and never logged.

`Settings.from_env()` is the only place in the code base that reads environment variables: everything else is
handed a `Settings` (or the one value it needs), so a test builds one from a plain mapping.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bot.answer_memory import ANSWER_MEMORY
from bot.errors import SettingsError

T = TypeVar("T")

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the SQLite file and the generated salt live: $XDG_DATA_HOME/policybot, else ~/.local/share/policybot."""
    environ = os.environ if environ is None else environ
    base = (environ.get("XDG_DATA_HOME") or "").strip() or str(Path.home() / ".local" / "share")
    return Path(base) / "policybot"


def default_answer_threads() -> int:
    """One answering thread per core this process may run on, at most four (see bot/server.py)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def parse_bool(value: str) -> bool:
    """1/true/yes/on or 0/false/no/off, any case; anything else is a mistake to point out, not a silent no."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("expected on or off (1/true/yes/on, 0/false/no/off)")


def parse_int(value: str, minimum: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ValueError(f"expected a whole number of at least {minimum}") from None
    if number < minimum:
        raise ValueError(f"expected a whole number of at least {minimum}")
    return number


class _Reader:
    """One environment mapping, read with errors that name the variable and what it should hold."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ

    def text(self, name: str) -> str | None:
        value = (self.environ.get(name) or "").strip()
        return value or None

    def parsed(self, name: str, parse: Callable[[str], T], default: T) -> T:
        value = self.text(name)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError as exc:
            secret = name in SECRETS
            shown = "" if secret else f"={value!r}"
            raise SettingsError(f"{name}{shown} is not valid: {exc}.") from None

    def flag(self, name: str, default: bool) -> bool:
        return self.parsed(name, parse_bool, default)

    def number(self, name: str, default: int, minimum: int = 0) -> int:
        return self.parsed(name, lambda v: parse_int(v, minimum), default)

    def path(self, name: str) -> Path | None:
        value = self.text(name)
        return Path(value) if value else None


@dataclass(frozen=True)
class Settings:
    default_school: str | None = None
    knowledge_dir: Path | None = None  # None: the repository's knowledge/, else the copy in the package
    host: str = "127.0.0.1"
    port: int = 8080
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str | None = None
    slack_escalation_channel: str | None = None  # where hand-offs are posted (a channel id HR watches)
    microsoft_app_id: str | None = None
    microsoft_app_password: str | None = field(default=None, repr=False)
    microsoft_app_type: str = "MultiTenant"
    microsoft_app_tenant_id: str | None = None
    teams_no_auth: bool = False
    # Where Teams hand-offs are posted: a channel conversation id, and the service URL the bot reaches it at.
    teams_escalation_conversation: str | None = None
    teams_service_url: str | None = None
    # Where Teams signing keys are fetched from; None: Bot Framework's own documents. Not read from the
    # environment: only tests point it elsewhere (at a local key endpoint).
    teams_openid_metadata_url: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = field(default=None, repr=False)  # may carry a password
    hash_salt: str | None = field(default=None, repr=False)
    retention_days: int = 90
    store_questions: bool = True
    admin_token: str | None = field(default=None, repr=False)
    buffer_size: int = 10_000
    storage: bool = True  # False: no database at all (no log, choices kept in memory only)
    semantic: bool = True  # False: BM25 alone, no embedding model loaded (POLICYBOT_SEMANTIC=off)
    embedding_cache_file: Path | None = None  # default: embeddings.sqlite3 in data_dir
    answer_threads: int = field(default_factory=default_answer_threads)  # threads computing answers at once
    answer_memory: int = ANSWER_MEMORY  # recent answers kept to serve a repeated question (0: none kept)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default: this process's environment); SettingsError names a bad variable."""
        env = _Reader(os.environ if environ is None else environ)
        return cls(
            default_school=env.text("POLICYBOT_DEFAULT_SCHOOL"),
            knowledge_dir=env.path("POLICYBOT_KNOWLEDGE_DIR"),
            host=env.text("POLICYBOT_HOST") or "127.0.0.1",
            port=env.parsed("POLICYBOT_PORT", _port, 8080),
            slack_signing_secret=env.text("SLACK_SIGNING_SECRET"),
            slack_bot_token=env.text("SLACK_BOT_TOKEN"),
            slack_app_token=env.text("SLACK_APP_TOKEN"),
            slack_api_url=env.text("SLACK_API_URL"),
            slack_escalation_channel=env.text("SLACK_ESCALATION_CHANNEL"),
            microsoft_app_id=env.text("MICROSOFT_APP_ID"),
            microsoft_app_password=env.text("MICROSOFT_APP_PASSWORD"),
            microsoft_app_type=env.text("MICROSOFT_APP_TYPE") or "MultiTenant",
            microsoft_app_tenant_id=env.text("MICROSOFT_APP_TENANT_ID"),
            teams_no_auth=env.flag("POLICYBOT_TEAMS_NO_AUTH", False),
            teams_escalation_conversation=env.text("TEAMS_ESCALATION_CONVERSATION"),
            teams_service_url=env.text("TEAMS_SERVICE_URL"),
            data_dir=env.path("POLICYBOT_DATA_DIR") or default_data_dir(env.environ),
            database_url=env.text("POLICYBOT_DATABASE_URL"),
            hash_salt=env.text("POLICYBOT_HASH_SALT"),
            retention_days=env.number("POLICYBOT_RETENTION_DAYS", 90),
            store_questions=env.flag("POLICYBOT_STORE_QUESTIONS", True),
            admin_token=env.text("POLICYBOT_ADMIN_TOKEN"),
            buffer_size=env.number("POLICYBOT_BUFFER_SIZE", 10_000, minimum=1),
            storage=env.flag("POLICYBOT_STORAGE", True),
            semantic=env.flag("POLICYBOT_SEMANTIC", True),
            embedding_cache_file=env.path("POLICYBOT_EMBEDDING_CACHE"),
            answer_threads=env.number("POLICYBOT_ANSWER_THREADS", default_answer_threads(), minimum=1),
            answer_memory=env.number("POLICYBOT_ANSWER_MEMORY", ANSWER_MEMORY),
        )

    @property
    def embedding_cache(self) -> Path:
        """Where embedding vectors are cached: replicas sharing a volume may share one file."""
        return self.embedding_cache_file or self.data_dir / "embeddings.sqlite3"

    @property
    def parse_cache(self) -> Path:
        """The directory where parsed knowledge files are remembered between runs (bot.parsecache)."""
        return self.data_dir / "parsed"

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_signing_secret and self.slack_bot_token)

    @property
    def teams_enabled(self) -> bool:
        return bool(self.microsoft_app_id) or self.teams_no_auth


def _port(value: str) -> int:
    port = parse_int(value, 1)
    if port > 65535:
        raise ValueError("expected a port number from 1 to 65535")
    return port


# Values that must never appear in a message or log line, even when they are malformed.
SECRETS = frozenset(
    {
        "SLACK_SIGNING_SECRET",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "MICROSOFT_APP_PASSWORD",
        "POLICYBOT_DATABASE_URL",
        "POLICYBOT_HASH_SALT",
        "POLICYBOT_ADMIN_TOKEN",
    }
)

# Every environment variable the server reads, for deploy/ files and their tests to check against.
ENVIRONMENT = (
    "POLICYBOT_KNOWLEDGE_DIR",
    "POLICYBOT_DEFAULT_SCHOOL",
    "POLICYBOT_HOST",
    "POLICYBOT_PORT",
    "POLICYBOT_DATA_DIR",
    "POLICYBOT_DATABASE_URL",
    "POLICYBOT_HASH_SALT",
    "POLICYBOT_RETENTION_DAYS",
    "POLICYBOT_STORE_QUESTIONS",
    "POLICYBOT_ADMIN_TOKEN",
    "POLICYBOT_BUFFER_SIZE",
    "POLICYBOT_STORAGE",
    "POLICYBOT_SEMANTIC",
    "POLICYBOT_EMBEDDING_CACHE",
    "POLICYBOT_ANSWER_THREADS",
    "POLICYBOT_ANSWER_MEMORY",
    "SLACK_SIGNING_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "SLACK_ESCALATION_CHANNEL",
    "MICROSOFT_APP_ID",
    "MICROSOFT_APP_PASSWORD",
    "MICROSOFT_APP_TYPE",
    "MICROSOFT_APP_TENANT_ID",
    "POLICYBOT_TEAMS_NO_AUTH",
    "TEAMS_ESCALATION_CONVERSATION",
    "TEAMS_SERVICE_URL",
)

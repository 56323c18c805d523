"""Settings from the environment, read once at start. Secrets are held here and never logged."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    """Where the SQLite file and the generated salt live: $XDG_DATA_HOME/policybot, else ~/.local/share/policybot."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "policybot"


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class Settings:
    default_school: str | None = None
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str | None = None
    microsoft_app_id: str | None = None
    microsoft_app_password: str | None = field(default=None, repr=False)
    microsoft_app_type: str = "MultiTenant"
    microsoft_app_tenant_id: str | None = None
    teams_no_auth: bool = False
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

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            default_school=_env("POLICYBOT_DEFAULT_SCHOOL"),
            slack_signing_secret=_env("SLACK_SIGNING_SECRET"),
            slack_bot_token=_env("SLACK_BOT_TOKEN"),
            slack_app_token=_env("SLACK_APP_TOKEN"),
            slack_api_url=_env("SLACK_API_URL"),
            microsoft_app_id=_env("MICROSOFT_APP_ID"),
            microsoft_app_password=_env("MICROSOFT_APP_PASSWORD"),
            microsoft_app_type=_env("MICROSOFT_APP_TYPE") or "MultiTenant",
            microsoft_app_tenant_id=_env("MICROSOFT_APP_TENANT_ID"),
            teams_no_auth=_env("POLICYBOT_TEAMS_NO_AUTH") == "1",
            data_dir=Path(_env("POLICYBOT_DATA_DIR") or default_data_dir()),
            database_url=_env("POLICYBOT_DATABASE_URL"),
            hash_salt=_env("POLICYBOT_HASH_SALT"),
            retention_days=int(_env("POLICYBOT_RETENTION_DAYS") or 90),
            store_questions=(_env("POLICYBOT_STORE_QUESTIONS") or "1") not in ("0", "false", "no"),
            admin_token=_env("POLICYBOT_ADMIN_TOKEN"),
            buffer_size=int(_env("POLICYBOT_BUFFER_SIZE") or 10_000),
            storage=(_env("POLICYBOT_STORAGE") or "on").lower() not in ("off", "0", "false", "no"),
            semantic=(_env("POLICYBOT_SEMANTIC") or "on").lower() not in ("off", "0", "false", "no"),
            embedding_cache_file=Path(c) if (c := _env("POLICYBOT_EMBEDDING_CACHE")) else None,
        )

    @property
    def embedding_cache(self) -> Path:
        """Where embedding vectors are cached: replicas sharing a volume may share one file."""
        return self.embedding_cache_file or self.data_dir / "embeddings.sqlite3"

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_signing_secret and self.slack_bot_token)

    @property
    def teams_enabled(self) -> bool:
        return bool(self.microsoft_app_id) or self.teams_no_auth


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
    "SLACK_SIGNING_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "MICROSOFT_APP_ID",
    "MICROSOFT_APP_PASSWORD",
    "MICROSOFT_APP_TYPE",
    "MICROSOFT_APP_TENANT_ID",
    "POLICYBOT_TEAMS_NO_AUTH",
)

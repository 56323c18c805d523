"""Settings from the environment, read once at start. Secrets are held here and never logged."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


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
        )

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_signing_secret and self.slack_bot_token)

    @property
    def teams_enabled(self) -> bool:
        return bool(self.microsoft_app_id) or self.teams_no_auth

"""The Slack and Teams app manifests in deploy/ match what the code serves."""

from __future__ import annotations

import json
import struct
from urllib.parse import urlparse

import yaml
from aiohttp import web

from adapters import slack, teams
from bot.conversation import _SCHOOL_COMMAND, is_greeting
from bot.server import create_app
from bot.settings import Settings
from tests.conftest import REPO

DEPLOY = REPO / "deploy"


def routes(app: web.Application) -> set[tuple[str, str]]:
    return {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}


def test_slack_manifest_points_every_url_at_the_events_route_the_server_mounts(assistant):
    manifest = yaml.safe_load((DEPLOY / "slack-manifest.yaml").read_text(encoding="utf-8"))
    urls = [
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
        *[c["url"] for c in manifest["features"]["slash_commands"]],
    ]
    assert {urlparse(u).path for u in urls} == {slack.EVENTS_PATH}
    app = create_app(assistant, Settings(slack_signing_secret="s", slack_bot_token="xoxb-t"))
    assert ("POST", slack.EVENTS_PATH) in routes(app)


def test_slack_manifest_subscribes_to_the_events_and_command_the_adapter_handles():
    manifest = yaml.safe_load((DEPLOY / "slack-manifest.yaml").read_text(encoding="utf-8"))
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == [slack.SLASH_COMMAND]
    assert sorted(manifest["settings"]["event_subscriptions"]["bot_events"]) == sorted(
        slack.SUBSCRIBED_EVENTS
    )
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(slack.BOT_SCOPES)
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_teams_manifest_is_schema_1_17_or_newer_with_the_icons_teams_requires(assistant):
    manifest = json.loads((DEPLOY / "teams" / "manifest.json").read_text(encoding="utf-8"))
    major, minor = (int(p) for p in manifest["manifestVersion"].split(".")[:2])
    assert (major, minor) >= (1, 17)
    assert manifest["bots"][0]["botId"] == manifest["id"]
    assert _png_size(DEPLOY / "teams" / manifest["icons"]["color"]) == (192, 192)
    assert _png_size(DEPLOY / "teams" / manifest["icons"]["outline"]) == (32, 32)
    app = create_app(
        assistant,
        Settings(microsoft_app_id="00000000-0000-0000-0000-000000000001", microsoft_app_password="p"),
    )
    assert ("POST", teams.MESSAGES_PATH) in routes(app)


def test_teams_manifest_commands_are_ones_the_bot_understands():
    manifest = json.loads((DEPLOY / "teams" / "manifest.json").read_text(encoding="utf-8"))
    titles = [c["title"] for cl in manifest["bots"][0]["commandLists"] for c in cl["commands"]]
    assert "help" in titles and is_greeting("help")
    assert "school" in titles and _SCHOOL_COMMAND.match("school reading")

"""Every channel is an adapter module with the same contract: `mount(app, conversation, settings) -> str`.

The server mounts whatever is in `bot.server.CHANNELS`; an adapter gets everything it needs as arguments and
reaches nothing in the server or the CLI (the import contracts in pyproject.toml enforce the second half).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
import yaml
from aiohttp import web

import adapters
from bot.conversation import Conversation
from bot.server import CHANNELS
from bot.settings import Settings
from tests.conftest import KNOWLEDGE

ENABLED = Settings(
    slack_signing_secret="secret",
    slack_bot_token="xoxb-test",
    teams_no_auth=True,  # Teams on without fetching Microsoft's signing keys
    storage=False,
)


def adapter_modules():
    for info in pkgutil.iter_modules(adapters.__path__):
        module = importlib.import_module(f"adapters.{info.name}")
        if callable(getattr(module, "mount", None)):
            yield module


def test_the_server_mounts_every_adapter_that_has_a_mount():
    assert {m.__name__ for m in adapter_modules()} == {m.__name__ for m in CHANNELS}


@pytest.mark.parametrize("module", list(adapter_modules()), ids=lambda m: m.__name__)
def test_each_adapter_mounts_from_its_arguments_and_says_whether_it_is_on(module, assistant):
    assert list(inspect.signature(module.mount).parameters) == ["app", "conversation", "settings"]
    name = module.CHANNEL
    for settings, state in ((ENABLED, "on"), (Settings(storage=False), None)):
        app = web.Application()
        line = module.mount(app, Conversation(assistant), settings)
        assert isinstance(line, str) and line.startswith(f"channel {name}: ")
        if state == "on":
            assert line.startswith(f"channel {name}: on"), line
            assert len(app.router.routes()) > 0


def test_every_section_of_channels_yaml_is_read_by_the_adapter_of_that_platform():
    data = yaml.safe_load((KNOWLEDGE / "channels.yaml").read_text(encoding="utf-8"))
    by_channel = {m.CHANNEL: m for m in adapter_modules()}
    for platform, sections in data.items():
        assert platform in by_channel, f"channels.yaml names `{platform}`, which no adapter serves"
        adapter = by_channel[platform]
        assert set(sections) <= set(adapter.SCOPE_SECTIONS), (platform, set(sections))
        for section in sections:
            assert adapter.scope_key(section, "X1") == f"{platform}:{section}:X1"

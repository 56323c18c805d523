"""Settings are read from one mapping, once; a bad value is an error that names the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import SettingsError
from bot.settings import ENVIRONMENT, Settings


def test_an_empty_environment_gives_the_defaults_under_the_home_data_dir(tmp_path):
    settings = Settings.from_env({"XDG_DATA_HOME": str(tmp_path)})
    assert settings.data_dir == tmp_path / "policybot"
    assert settings.embedding_cache == tmp_path / "policybot" / "embeddings.sqlite3"
    assert (settings.host, settings.port, settings.retention_days) == ("127.0.0.1", 8080, 90)
    assert settings.storage and settings.semantic and settings.store_questions
    assert not settings.slack_enabled and not settings.teams_enabled
    assert settings.knowledge_dir is None and settings.default_school is None


def test_every_variable_is_read_from_the_mapping_given():
    settings = Settings.from_env(
        {
            "POLICYBOT_KNOWLEDGE_DIR": "/srv/knowledge",
            "POLICYBOT_DEFAULT_SCHOOL": "reading",
            "POLICYBOT_HOST": "0.0.0.0",
            "POLICYBOT_PORT": "9000",
            "POLICYBOT_DATA_DIR": "/srv/data",
            "POLICYBOT_RETENTION_DAYS": "30",
            "POLICYBOT_STORE_QUESTIONS": "no",
            "POLICYBOT_BUFFER_SIZE": "50",
            "POLICYBOT_STORAGE": "OFF",
            "POLICYBOT_SEMANTIC": "false",
            "POLICYBOT_EMBEDDING_CACHE": "/srv/cache.sqlite3",
            "POLICYBOT_ANSWER_MEMORY": "0",
            "SLACK_SIGNING_SECRET": "s",
            "SLACK_BOT_TOKEN": "xoxb-1",
            "POLICYBOT_TEAMS_NO_AUTH": "true",
        }
    )
    assert settings.knowledge_dir == Path("/srv/knowledge") and settings.default_school == "reading"
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.data_dir == Path("/srv/data") and settings.embedding_cache == Path("/srv/cache.sqlite3")
    assert (settings.retention_days, settings.buffer_size, settings.answer_memory) == (30, 50, 0)
    assert not (settings.store_questions or settings.storage or settings.semantic)
    assert settings.slack_enabled and settings.teams_enabled


@pytest.mark.parametrize("word", ["1", "true", "YES", "on", " On "])
def test_one_boolean_parser_takes_the_usual_words_for_on(word):
    assert Settings.from_env({"POLICYBOT_TEAMS_NO_AUTH": word}).teams_no_auth is True


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("POLICYBOT_RETENTION_DAYS", "ninety", "whole number"),
        ("POLICYBOT_RETENTION_DAYS", "-1", "at least 0"),
        ("POLICYBOT_BUFFER_SIZE", "0", "at least 1"),
        ("POLICYBOT_PORT", "99999", "port number"),
        ("POLICYBOT_STORAGE", "maybe", "on or off"),
        ("POLICYBOT_SEMANTIC", "offf", "on or off"),
    ],
)
def test_a_bad_value_names_the_variable_the_value_and_what_was_expected(name, value, expected):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    message = caught.value.user_message
    assert name in message and repr(value) in message and expected in message


def test_a_malformed_secret_is_named_but_never_shown():
    # Only values that are parsed can be malformed; no secret is parsed today, so check the rule on the reader.
    from bot.settings import SECRETS, _Reader

    reader = _Reader({"POLICYBOT_ADMIN_TOKEN": "hunter2"})
    with pytest.raises(SettingsError) as caught:
        reader.number("POLICYBOT_ADMIN_TOKEN", 0)
    assert "POLICYBOT_ADMIN_TOKEN" in caught.value.user_message
    assert "hunter2" not in caught.value.user_message
    assert "POLICYBOT_ADMIN_TOKEN" in SECRETS


def test_secrets_stay_out_of_the_repr():
    settings = Settings.from_env(
        {"SLACK_BOT_TOKEN": "xoxb-secret", "POLICYBOT_DATABASE_URL": "postgresql://u:pw@h/db"}
    )
    assert "xoxb-secret" not in repr(settings) and "pw@" not in repr(settings)


def test_settings_is_the_only_module_that_reads_the_environment():
    root = Path(__file__).resolve().parents[2]
    readers = []
    for path in [*root.joinpath("bot").rglob("*.py"), *root.joinpath("adapters").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if "os.environ" in text or "os.getenv" in text or "envvar=" in text:
            readers.append(path.relative_to(root).as_posix())
    assert readers == ["bot/settings.py"]


def test_environment_lists_every_variable_from_env_reads():
    source = (Path(__file__).resolve().parents[2] / "bot" / "settings.py").read_text(encoding="utf-8")
    body = source[source.index("def from_env") : source.index("def embedding_cache")]
    import re

    read = set(re.findall(r'"((?:POLICYBOT|SLACK|MICROSOFT|TEAMS)_[A-Z_]+)"', body))
    assert read == set(ENVIRONMENT)


def test_answer_threads_default_to_the_cores_available_at_most_four_and_can_be_set():
    from bot.settings import Settings, SettingsError

    assert 1 <= Settings.from_env({}).answer_threads <= 4
    assert Settings.from_env({"POLICYBOT_ANSWER_THREADS": "2"}).answer_threads == 2
    with pytest.raises(SettingsError, match="POLICYBOT_ANSWER_THREADS"):
        Settings.from_env({"POLICYBOT_ANSWER_THREADS": "0"})

"""The root group reads the settings once: a bad variable is a one-line error, and --knowledge, serve's --host
and --port take their defaults from the settings."""

from __future__ import annotations

from click.testing import CliRunner

from bot.cli import cli


def run(*args: str, env: dict[str, str]):
    return CliRunner().invoke(cli, list(args), obj={}, env=env)


def test_a_bad_variable_is_one_line_naming_it_and_exit_1():
    result = run("ask", "--school", "reading", "hi", env={"POLICYBOT_PORT": "eighty"})
    assert result.exit_code == 1
    assert result.output.startswith("Error: POLICYBOT_PORT='eighty' is not valid")
    assert "Traceback" not in result.output


def test_serve_defaults_come_from_the_settings():
    result = run("serve", "--help", env={"POLICYBOT_HOST": "0.0.0.0", "POLICYBOT_PORT": "9123"})
    assert result.exit_code == 0, result.output
    assert "[default: 0.0.0.0]" in result.output and "[default: 9123]" in result.output


def test_the_knowledge_directory_comes_from_the_settings_and_the_option_wins(tmp_path):
    missing = tmp_path / "nowhere"
    from_env = run("kb", "validate", env={"POLICYBOT_KNOWLEDGE_DIR": str(missing)})
    assert from_env.exit_code == 1 and f"knowledge directory not found: {missing}" in from_env.output
    elsewhere = tmp_path / "elsewhere"
    option = run(
        "--knowledge", str(elsewhere), "kb", "validate", env={"POLICYBOT_KNOWLEDGE_DIR": str(missing)}
    )
    assert option.exit_code == 1 and f"knowledge directory not found: {elsewhere}" in option.output

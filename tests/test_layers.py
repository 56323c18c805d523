"""The import rules between layers hold, and `lint-imports` really catches a break of them.

The contracts live in pyproject.toml ([tool.importlinter]): no cycles between sibling modules; adapters never
import bot.server or bot.cli; only the server, the CLI and the adapters import aiohttp, click or a channel SDK;
only the CLI starts the server; only the entry points and the conversation layer touch bot.store.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    # The tree at `root` is the one analysed: it comes first on the path, before the installed package.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


def copy_of_the_code(tmp_path: Path) -> Path:
    for name in ("bot", "adapters"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "models"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


def test_every_layer_contract_is_kept():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout and result.stdout.count("KEPT") == 5


def test_an_adapter_importing_the_server_breaks_the_build(tmp_path):
    root = copy_of_the_code(tmp_path)
    web = root / "adapters" / "web.py"
    web.write_text(web.read_text(encoding="utf-8") + "\nfrom bot.server import CHANNELS  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "Adapters never reach into the server or the CLI BROKEN" in result.stdout
    assert "adapters.web -> bot.server" in result.stdout


def test_an_import_cycle_breaks_the_build(tmp_path):
    root = copy_of_the_code(tmp_path)
    errors = root / "bot" / "errors.py"  # everything imports errors; errors importing back makes a cycle
    errors.write_text(errors.read_text(encoding="utf-8") + "\nimport bot.knowledge  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "No import cycles between sibling modules BROKEN" in result.stdout


def test_the_core_importing_a_channel_sdk_breaks_the_build(tmp_path):
    root = copy_of_the_code(tmp_path)
    compose = root / "bot" / "compose.py"
    compose.write_text(compose.read_text(encoding="utf-8") + "\nimport slack_bolt  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0 and "BROKEN" in result.stdout

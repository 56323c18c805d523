"""`policybot ask` starts light: answering one question loads none of the database, Slack or Teams libraries.

The command runs in a fresh interpreter (a test process has imported everything already), and what it imported is
read from `sys.modules` after it answered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

HEAVY = ("sqlalchemy", "alembic", "asyncpg", "aiosqlite", "slack_bolt", "slack_sdk", "botbuilder", "aiohttp")

RUN_ASK = """
import json, runpy, sys
sys.argv = ["policybot", "ask", "--school", "reading", "can i go on insta at lunch?"]
try:
    runpy.run_module("bot.cli", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


def test_ask_imports_no_database_or_channel_library(tmp_path: Path):
    env = {
        **os.environ,
        "POLICYBOT_SEMANTIC": "off",
        "POLICYBOT_STORAGE": "off",
        "POLICYBOT_DATA_DIR": str(tmp_path),
    }
    proc = subprocess.run(
        [sys.executable, "-c", RUN_ASK], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "§2.1" in proc.stdout  # it really answered
    loaded = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    assert "bot" in loaded and "numpy" in loaded  # the check sees what the command imported
    assert sorted(loaded.intersection(HEAVY)) == []


def test_importing_bot_loads_no_submodule():
    code = "import sys, bot; print(sorted(m for m in sys.modules if m.startswith('bot.')))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"

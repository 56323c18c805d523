"""Shared fixtures: the shipped knowledge base, loaded once, and copies of it that a test may break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot import Assistant, load_knowledge

REPO = Path(__file__).resolve().parent.parent
KNOWLEDGE = REPO / "knowledge"
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own data directory, so nothing writes to the developer's real one."""
    data = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.delenv("POLICYBOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("POLICYBOT_DATA_DIR", raising=False)
    return data


@pytest.fixture(scope="session")
def kb():
    return load_knowledge(KNOWLEDGE)


@pytest.fixture(scope="session")
def assistant(kb):
    return Assistant(kb)


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped knowledge directory."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target

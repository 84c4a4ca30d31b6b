"""Fixtures of the io tests."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    d = tmp_path / "archive"
    d.mkdir()
    return d

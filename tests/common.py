"""Paths the tests share (importable as ``tests.common``; fixtures live in conftest.py)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
SHARED_DATA = REPO.parent / "shared" / "data"

"""Shared fixtures. Small archives are generated in code; nothing is downloaded.

Tests that read the real DEM in ../shared skip with a reason when it is missing, unless
LST_REQUIRE_SHARED=1 (set by .ci/run), where they fail instead.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DEM = REPO.parent / "shared" / "data" / "israel_dem_1km.tif"

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def israel_dem() -> Path:
    """Path of the real SRTM DEM on the Israel LST grid (603 x 409)."""
    if not SHARED_DEM.is_file():
        if os.environ.get("LST_REQUIRE_SHARED") == "1":
            pytest.fail(f"LST_REQUIRE_SHARED=1 but the real DEM {SHARED_DEM} is missing")
        pytest.skip(f"real DEM {SHARED_DEM} not present (set LST_REQUIRE_SHARED=1 to fail instead)")
    return SHARED_DEM


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)

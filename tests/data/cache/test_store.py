"""The cache's on-disk format: the fingerprint names the content, opening checks the format."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from lst_lightning.data.cache import open_cache, prepare_cache
from lst_lightning.data.io.writers import write_geotiff, write_lst_netcdf
from lst_lightning.errors import LSTError
from tests.data.cache.common import prep


def test_fingerprint_changes(small):
    first = prep(small, quiet=True)
    paths = {first.path}
    # identical content elsewhere is the same cache (the fingerprint is content, not location)
    shutil.copytree(small["lst_dir"], small["tmp"] / "copy")
    assert prepare_cache(small["tmp"] / "copy", dem=small["dem"], cache_root=small["root"],
                         progress=False).path == first.path
    # one LST value changed in a copy of the archive
    changed = small["tmp"] / "changed"
    raw = small["raw"].copy()
    raw[0, 1, 15, 15] = 15001 if raw[0, 1, 15, 15] != 15001 else 15002
    grid = small["grid"]
    write_lst_netcdf(changed / "LST_2020_NetCDF.nc", grid, np.array([1, 2, 5]), raw[:3])
    shutil.copy(small["lst_dir"] / "LST_2021_NetCDF.nc", changed / "LST_2021_NetCDF.nc")
    paths.add(prepare_cache(changed, dem=small["dem"], cache_root=small["root"], progress=False).path)
    # the DEM changed
    dem2 = small["tmp"] / "dem2.tif"
    dem = small["dem_array"].copy()
    dem[3, 3] += 1
    write_geotiff(dem2, grid, np.nan_to_num(dem, nan=-9999.0), nodata=-9999.0)
    paths.add(prepare_cache(small["lst_dir"], dem=dem2, cache_root=small["root"], progress=False).path)
    paths.add(prep(small, k=5).path)
    paths.add(prep(small, hours={"day": 14.0}).path)
    assert len(paths) == 5
    assert prep(small, hours={"day": 14.0}).frames[1].hour == 14.0
    assert len([p for p in small["root"].iterdir() if p.name.startswith("lst-")]) == 5


def test_open_cache_errors(tmp_path):
    with pytest.raises(LSTError, match="not a prepared cache"):
        open_cache(tmp_path)
    (tmp_path / "meta.json").write_text('{"format_version": 0}')
    with pytest.raises(LSTError, match="format version"):
        open_cache(tmp_path)
    (tmp_path / "meta.json").write_text("{broken")
    with pytest.raises(LSTError, match="cannot read meta.json"):
        open_cache(tmp_path)

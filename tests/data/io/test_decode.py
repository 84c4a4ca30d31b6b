"""Values as stored -> raw LST and QA: fill values, scales, Kelvin floats, implausible values,
bad QA codes (through both archive forms)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lst_lightning.data.io.writers import write_lst_geotiff_day, write_lst_netcdf
from tests.data.io.samples import (
    GRID,
    expected_frames,
    lst_error,
    make_year,
    open_and_read,
    write_nc,
    write_tif,
)


def _variant(data: np.ndarray, kind: str):
    """Encode raw (n, 4, H, W) as a variant seen in real files: (values, dtype, fill, attrs)."""
    lst = data[:, :3]
    miss = lst == 0
    if kind == "fillvalue":
        out = data.copy()
        out[:, :3][miss] = 65535
        return out, "u2", 65535, {"missing_value": np.uint16(65535)}
    if kind == "missing_value_only":
        out = data.astype(np.int32)
        out[:, :3][miss] = -9999
        return out, "i4", False, {"missing_value": np.int32(-9999)}
    if kind == "nan_raw":
        out = data.astype(np.float32)
        out[:, :3][miss] = np.nan
        return out, "f4", False, {}
    if kind == "kelvin":
        out = data.astype(np.float64)
        out[:, :3] *= 0.02
        out[:, :3][miss] = np.nan
        return out.astype(np.float32), "f4", np.float32(np.nan), {"units": "K"}
    if kind == "scaled":
        out = data.astype(np.int32)
        out[:, :3][miss] = -1
        return out, "i4", np.int32(-1), {"scale_factor": 0.02, "add_offset": 0.0}
    if kind == "scaled_offset":
        # kelvin = packed * 0.04 + 100; raw made even so the packing is exact
        out = data.astype(np.int32)
        packed = out[:, :3] // 2 - 2500  # raw*0.02 = (raw/2)*0.04
        packed[miss] = -32767
        out[:, :3] = packed
        return out.astype(np.int16), "i2", False, {"scale_factor": 0.04, "add_offset": 100.0,
                                                  "missing_value": np.int16(-32767)}
    if kind == "no_fill_attrs":
        out = data.copy()
        lst_out = out[:, :3]
        half = np.zeros_like(miss)
        half[..., ::2] = True
        lst_out[miss & half] = 65535  # both 0 and 65535 mean missing without fill attributes
        return out, "u2", False, {}
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["fillvalue", "missing_value_only", "nan_raw", "kelvin", "scaled",
                                  "scaled_offset", "no_fill_attrs"])
def test_netcdf_value_variants(archive_dir: Path, rng: np.random.Generator, kind: str) -> None:
    data = make_year(rng, 3, missing=0.2)
    if kind == "scaled_offset":
        data[:, :3] &= np.uint16(0xFFFE)  # even raw values
        data[:, :3][data[:, :3] == 5000] = 5002
    values, dtype, fill, attrs = _variant(data, kind)
    write_nc(archive_dir / "LST_2020_NetCDF.nc", values, dtype=dtype, fill_value=fill, attrs=attrs,
             doys=[1, 50, 51])
    archive, lst, qa = open_and_read(archive_dir)
    exp_lst, exp_qa = expected_frames(data)
    np.testing.assert_array_equal(lst, exp_lst)
    np.testing.assert_array_equal(qa, exp_qa)


@pytest.mark.parametrize("variant", ["kelvin_x100", "kelvin_x100_float", "celsius"])
def test_implausible_lst_values(archive_dir: Path, rng: np.random.Generator, variant: str) -> None:
    data = make_year(rng, 2, missing=0.0)
    kelvin = data[:, :3].astype(np.float64) * 0.02
    values = data.astype(np.float32 if variant != "kelvin_x100" else np.uint16)
    if variant.startswith("kelvin_x100"):
        values[:, :3] = np.rint(kelvin * 100)  # ~15000-40000 -> 300-800 K read as 0.02 K units
        values[:, :3][..., 0, 0] = 60000  # surely outside the plausible range
    else:
        values[:, :3] = kelvin - 273.15  # Celsius floats: read as Kelvin, far too cold
    write_nc(archive_dir / "LST_2020_NetCDF.nc", values)
    message = lst_error(open_and_read, archive_dir)
    assert "LST_2020_NetCDF.nc" in message and "plausible" in message and "K" in message


def test_implausible_geotiff_values(archive_dir: Path, rng: np.random.Generator) -> None:
    day = make_year(rng, 1, missing=0.0)[0].astype(np.int16)
    day[0, 3, 3] = 100  # 2 K
    write_tif(archive_dir / "LST_2020_01_01.tif", day, nodata=-32768)
    message = lst_error(open_and_read, archive_dir)
    assert "LST_2020_01_01.tif" in message and "plausible" in message


@pytest.mark.parametrize("form", ["netcdf", "geotiff"])
def test_bad_qa_codes(archive_dir: Path, rng: np.random.Generator, form: str) -> None:
    data = make_year(rng, 2)
    data[1, 3, 4, 4] = 7
    if form == "netcdf":
        name = "LST_2020_NetCDF.nc"
        write_lst_netcdf(archive_dir / name, GRID, np.array([1, 2]), data)
    else:
        name = "LST_2020_01_02.tif"
        write_lst_geotiff_day(archive_dir / name, GRID, data[1])
    message = lst_error(open_and_read, archive_dir)
    assert name in message and "QA" in message and "7" in message

"""Property tests: damaged files and files of any dtype and shape end in an LSTError naming the
file, or in valid output; never another exception, never a hang."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lst_lightning.data.io.archive import open_archive
from lst_lightning.data.io.rasters import read_dem
from lst_lightning.data.io.writers import write_lst_geotiff_day, write_lst_netcdf
from lst_lightning.errors import LSTError
from tests.data.io.samples import GRID, H, W, make_year, read_all, time_limit, write_nc, write_tif


def _valid_blobs() -> dict[str, bytes]:
    rng = np.random.default_rng(7)
    out = {}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        write_lst_netcdf(d / "a.nc", GRID, np.array([1, 2, 40]), make_year(rng, 3))
        write_nc(d / "b.nc", make_year(rng, 3).astype(np.int32), dtype="i4", fmt="NETCDF3_CLASSIC")
        write_lst_geotiff_day(d / "c.tif", GRID, make_year(rng, 1)[0])
        stored = make_year(rng, 1)[0].astype(np.int16)
        write_tif(d / "d.tif", np.moveaxis(stored, 0, -1), planar=False)
        for name in ("a.nc", "b.nc", "c.tif", "d.tif"):
            out[name] = (d / name).read_bytes()
    return out


VALID = _valid_blobs()


NAMES = {".nc": "LST_2020_NetCDF.nc", ".tif": "LST_2020_01_01.tif"}


def _feed(blob: bytes, suffix: str) -> str:
    """open_archive + iter_blocks on one file: LSTError or valid output, nothing else, no hang.
    Returns which of the two it was (for hypothesis' statistics)."""
    with tempfile.TemporaryDirectory() as d:
        Path(d, NAMES[suffix]).write_bytes(blob)
        with time_limit(20):
            try:
                archive = open_archive(d)
                lst, qa = read_all(archive)
            except LSTError as err:
                assert "\n" not in str(err) and NAMES[suffix] in str(err)
                return "LSTError"
        assert lst.shape[1:] == archive.grid.shape
        assert qa.max(initial=0) <= 3
        nonzero = lst[lst > 0].astype(np.float64) * 0.02
        assert np.all((nonzero >= 150) & (nonzero <= 400))
        return "valid output"


damage = st.sampled_from(sorted(VALID)).flatmap(lambda name: st.tuples(
    st.just(name),
    st.one_of(
        st.tuples(st.just("truncate"), st.integers(0, len(VALID[name]) - 1)),
        st.tuples(st.just("overwrite"), st.integers(0, len(VALID[name]) - 1), st.binary(min_size=1, max_size=64)),
    ),
))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blob=st.binary(max_size=2048), suffix=st.sampled_from([".nc", ".tif"]))
def test_random_bytes_end_in_lst_error(blob: bytes, suffix: str) -> None:
    _feed(blob, suffix)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=damage)
def test_damaged_valid_files_end_in_lst_error_or_valid_output(case) -> None:
    name, how = case
    blob = VALID[name]
    if how[0] == "truncate":
        blob = blob[: how[1]]
    else:
        _, at, patch = how
        blob = blob[:at] + patch + blob[at + len(patch):]
    _feed(blob, os.path.splitext(name)[1])


NC_DTYPES = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8"]


TIF_DTYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"]


def _values(rng: np.random.Generator, dtype: str, shape: tuple[int, ...], regime: str) -> np.ndarray:
    """Values of ``dtype``: LST in 0.02 K units, in Kelvin, anything the type holds, or non-finite."""
    dtype = np.dtype(dtype)
    if regime == "raw":
        values = rng.integers(7500, 20001, size=shape)
    elif regime == "kelvin":
        values = rng.uniform(250, 330, size=shape)
    elif regime == "nonfinite" and dtype.kind == "f":
        values = rng.choice(np.array([np.nan, np.inf, -np.inf, 300.0]), size=shape)
    elif dtype.kind == "f":
        values = rng.uniform(-1e30, 1e30, size=shape)
    else:
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        return values.astype(dtype)  # out-of-range values wrap or saturate: garbage, as intended


regimes = st.sampled_from(["raw", "kelvin", "anything", "nonfinite"])


# (time, band, y, x) sizes, some wrong: a band count other than 4, a grid of one row, a dimension
# too few or too many
nc_shapes = st.one_of(
    st.tuples(st.integers(1, 3), st.just(4), st.sampled_from([H, H - 1]), st.sampled_from([W, W + 2])),
    st.tuples(st.integers(1, 3), st.integers(1, 6), st.sampled_from([H, 1]), st.just(W)),
    st.tuples(st.integers(1, 3), st.just(H), st.just(W)),
    st.tuples(st.integers(1, 2), st.just(4), st.just(H), st.just(W), st.integers(1, 2)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dtype=st.sampled_from(NC_DTYPES), shape=nc_shapes, regime=regimes, seed=st.integers(0, 2**16))
def test_netcdf_of_any_dtype_and_shape_ends_in_lst_error_or_valid_output(dtype, shape, regime, seed) -> None:
    rng = np.random.default_rng(seed)
    values = _values(rng, dtype, shape, regime)
    if len(shape) == 4 and shape[1] >= 4:  # a well-placed QA band sometimes, so that reading gets far
        values[:, 3] = rng.integers(0, 4, size=values[:, 3].shape)
    dims = {3: ("time", "y", "x"), 4: ("time", "band", "y", "x"), 5: ("time", "band", "y", "x", "extra")}
    with tempfile.TemporaryDirectory() as d:
        h, w = shape[2:4] if len(shape) > 3 else shape[1:]
        path = write_nc(Path(d, "a.nc"), values, dims=dims[len(shape)], lat=33.5 - 0.01 * np.arange(h),
                        lon=34.0 + 0.01 * np.arange(w))
        event(_feed(path.read_bytes(), ".nc"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dtype=st.sampled_from(TIF_DTYPES), bands=st.sampled_from([0, 3, 4, 5]), planar=st.booleans(),
       regime=regimes, seed=st.integers(0, 2**16))
def test_geotiff_of_any_dtype_and_shape_ends_in_lst_error_or_valid_output(dtype, bands, planar, regime,
                                                                          seed) -> None:
    rng = np.random.default_rng(seed)
    # bands=0: a plain 2-D image (tifffile cannot store a 1-sample image with a planar config)
    shape = (H, W) if bands == 0 else ((bands, H, W) if planar else (H, W, bands))
    values = _values(rng, dtype, shape, regime)
    if bands == 4:  # a valid QA band, so that the LST bands' values are what is judged
        qa = rng.integers(0, 4, size=(H, W))
        if planar:
            values[3] = qa
        else:
            values[..., 3] = qa
    with tempfile.TemporaryDirectory() as d:
        path = write_tif(Path(d, "a.tif"), values, planar=planar)
        event(_feed(path.read_bytes(), ".tif"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dtype=st.sampled_from(TIF_DTYPES), bands=st.sampled_from([0, 2, 3]), regime=regimes,
       nodata=st.sampled_from([None, 0, -9999]), seed=st.integers(0, 2**16))
def test_dem_of_any_dtype_and_shape_ends_in_lst_error_or_plausible_metres(dtype, bands, regime, nodata,
                                                                           seed) -> None:
    rng = np.random.default_rng(seed)
    values = _values(rng, dtype, (H, W) if bands == 0 else (bands, H, W), regime)
    with tempfile.TemporaryDirectory() as d:
        path = write_tif(Path(d, "dem.tif"), values, nodata=nodata)
        with time_limit(20):
            try:
                dem, grid = read_dem(path, GRID)
            except LSTError as err:
                assert "\n" not in str(err) and str(path) in str(err)
                event("LSTError")
                return
    event("valid output")
    assert dem.dtype == np.float32 and dem.shape == GRID.shape
    known = dem[~np.isnan(dem)]
    assert np.all((known >= -1000) & (known <= 9000)), (known.min(), known.max())

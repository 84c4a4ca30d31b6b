"""Truncated classic NetCDF files, which the NetCDF library itself reads without complaint."""
from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest

from lst_lightning.data.io.netcdf_classic import check_not_truncated, classic_data_end
from lst_lightning.errors import LSTError
from tests.data.io.samples import lst_error, make_year, open_and_read, write_nc


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.999])
def test_truncated_classic_netcdf(archive_dir: Path, rng: np.random.Generator, fraction: float) -> None:
    # the NetCDF library opens truncated classic files and reads fill/garbage for the lost tail
    path = write_nc(archive_dir / "LST_2020_NetCDF.nc", make_year(rng, 10).astype(np.int32), dtype="i4",
                    fmt="NETCDF3_CLASSIC")
    blob = path.read_bytes()
    path.write_bytes(blob[: int(len(blob) * fraction)])
    message = lst_error(open_and_read, archive_dir)
    assert "LST_2020_NetCDF.nc" in message and "truncated" in message


@pytest.mark.parametrize("record", [False, True], ids=["fixed", "record"])
@pytest.mark.parametrize("fmt", ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET", "NETCDF3_64BIT_DATA"])
def test_classic_data_end_is_the_length_of_an_intact_file(tmp_path: Path, fmt: str, record: bool) -> None:
    """CDF-1, -2 and -5 headers, fixed-size and record (unlimited) variables: the data end is the
    file's length less at most the last record's padding; one byte less is truncated."""
    path = tmp_path / "LST_2020_NetCDF.nc"
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        ds.createDimension("time", None if record else 3)
        ds.createDimension("y", 5)
        ds.createDimension("x", 3)
        ds.createVariable("time", "i4", ("time",))[:] = [1, 2, 3]
        ds.createVariable("v", "i2", ("time", "y", "x"))[:] = np.ones((3, 5, 3))
        ds.createVariable("y", "f8", ("y",))[:] = np.arange(5)
    end, size = classic_data_end(path), path.stat().st_size
    assert end is not None and size - 4 < end <= size
    check_not_truncated(path)
    path.write_bytes(path.read_bytes()[: end - 1])
    with pytest.raises(LSTError, match="truncated"):
        check_not_truncated(path)


def test_classic_data_end_leaves_other_files_to_the_library(tmp_path: Path, rng: np.random.Generator) -> None:
    netcdf4 = write_nc(tmp_path / "a.nc", make_year(rng, 1))  # HDF5-based: not classic
    assert classic_data_end(netcdf4) is None
    for blob in (b"", b"CDF", b"CDF\x03" + bytes(20), b"CDF\x01" + bytes(3), b"\x89HDF"):
        (tmp_path / "b.nc").write_bytes(blob)
        assert classic_data_end(tmp_path / "b.nc") is None

"""``lst-prepare``: builds or reuses the cache; bad input exits 2 with one ``error:`` line naming the
file or setting, no traceback, and no cache directory left behind."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lst_lightning.apps.cli import prepare_main
from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.writers import write_geotiff, write_lst_netcdf
from tests.common import REPO


@pytest.fixture
def archive(tmp_path, rng):
    h, w = 20, 24
    grid = Grid.from_corner(34.0, 33.0, 0.01, 0.01, (h, w))
    data = np.zeros((2, 4, h, w), dtype=np.uint16)
    data[:, :2] = rng.integers(13000, 16000, size=(2, 2, h, w))
    data[:, 3] = 3
    write_lst_netcdf(tmp_path / "lst" / "LST_2020_NetCDF.nc", grid, np.array([100, 101]), data)
    write_geotiff(tmp_path / "dem.tif", grid, rng.normal(300, 50, (h, w)).astype(np.float32))
    other = Grid.from_corner(35.0, 33.0, 0.01, 0.01, (h, w))
    write_geotiff(tmp_path / "dem_other.tif", other, np.zeros((h, w), dtype=np.int16))
    return tmp_path


def run_prepare(args: list, capsys) -> tuple[int, str, str]:
    try:
        prepare_main([str(a) for a in args])
        code = 0
    except SystemExit as stop:
        code = stop.code
    out = capsys.readouterr()
    return code, out.out, out.err


def lst_dirs(root: Path) -> list[Path]:
    return sorted(root.glob("lst-*")) + sorted(root.glob(".tmp-*")) if root.exists() else []


def test_prepare_builds_then_reuses(archive, capsys):
    root = archive / "cache"
    args = [archive / "lst", "--dem", archive / "dem.tif", "--k", "3", "--cache-root", root]
    code, _, err = run_prepare(args, capsys)
    assert code == 0 and "cache ready" in err
    built = lst_dirs(root)
    assert len(built) == 1 and (built[0] / "meta.json").is_file()
    code, _, err = run_prepare(args, capsys)
    assert code == 0 and "reusing cache" in err and lst_dirs(root) == built


@pytest.mark.parametrize("case, needle", [
    ("missing_lst", "nope"),
    ("k_even", "data.k"),
    ("k_small", "data.k"),
    ("k_too_big", "data.k"),
    ("dem_other_grid", "dem_other.tif"),
    ("dem_missing", "missing_dem.tif"),
    ("oracle_frames", "oracle"),
])
def test_prepare_bad_input(archive, capsys, case, needle):
    root = archive / "cache"
    args = {"lst": archive / "lst", "--dem": archive / "dem.tif", "--k": "3", "--cache-root": root}
    if case == "missing_lst":
        args["lst"] = archive / "nope"
    elif case == "k_even":
        args["--k"] = "4"
    elif case == "k_small":
        args["--k"] = "1"
    elif case == "k_too_big":
        args["--k"] = "25"
    elif case == "dem_other_grid":
        args["--dem"] = archive / "dem_other.tif"
    elif case == "dem_missing":
        args["--dem"] = archive / "missing_dem.tif"
    elif case == "oracle_frames":
        grid = Grid.from_corner(34.0, 33.0, 0.01, 0.01, (20, 24))
        write_lst_netcdf(archive / "oracle" / "LST_2020_NetCDF.nc", grid, np.array([100]),
                         np.full((1, 4, 20, 24), 15000, dtype=np.uint16))
        args["--oracle-dir"] = archive / "oracle"
    argv = [args.pop("lst")] + [x for kv in args.items() for x in kv]
    code, out, err = run_prepare(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert needle in lines[0] and "Traceback" not in err
    assert lst_dirs(root) == []
    if case == "dem_other_grid":  # both grids are described
        assert lines[0].count("24 pixels") == 2 and "lon 35.0050" in lines[0] and "lon 34.0050" in lines[0]


def test_prepare_time_base(archive, capsys):
    """--time-base 0 reads the archive's days 100 and 101 as 0-based: 10 and 11 April 2020."""
    root = archive / "cache"
    args = [archive / "lst", "--dem", archive / "dem.tif", "--k", "3", "--cache-root", root, "--time-base", "0"]
    assert run_prepare(args, capsys)[0] == 0
    meta = json.loads((lst_dirs(root)[0] / "meta.json").read_text())
    assert [f["date"] for f in meta["frames"][::2]] == ["2020-04-10", "2020-04-11"]
    code, _, err = run_prepare(args[:-1] + ["2"], capsys)
    assert code == 2 and "--time-base" in err and len(lst_dirs(root)) == 1


def test_prepare_console_script_subprocess(archive):
    """The real entry point in a fresh interpreter: exit 2, one error line, nothing left behind."""
    root = archive / "cache"
    code = "import sys; from lst_lightning.apps.cli import prepare_main; sys.argv[0] = 'lst-prepare'; prepare_main()"
    proc = subprocess.run([sys.executable, "-c", code, str(archive / "lst"), "--dem", str(archive / "dem_other.tif"),
                           "--cache-root", str(root), "--k", "3"], capture_output=True, text=True, cwd=REPO,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: DEM ") and "Traceback" not in proc.stderr
    assert "dem_other.tif" in proc.stderr and lst_dirs(root) == []
    proc = subprocess.run([sys.executable, "-c", code, str(archive / "lst"), "--dem", str(archive / "dem.tif"),
                           "--cache-root", str(root), "--k", "3"], capture_output=True, text=True, cwd=REPO,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "cache ready" in proc.stderr and len(lst_dirs(root)) == 1


def test_prepare_help_is_fast_and_clean():
    proc = subprocess.run([sys.executable, "-c", "from lst_lightning.apps.cli import prepare_main; prepare_main()",
                           "--help"], capture_output=True, text=True, cwd=REPO, timeout=30)
    assert proc.returncode == 0 and "--cache-root" in proc.stdout

"""lst-transfer: leave one site out vs each site alone, on three tiny synthetic archives."""
from __future__ import annotations

import json

import pytest

from tests.data.inputs import SITES, archives_override

pytestmark = pytest.mark.e2e


def test_the_transfer_table_has_every_site_trained_elsewhere_and_on_itself(sites, tmp_path):
    from lst_lightning.apps.study_cli import transfer_main

    transfer_main(["--name", "tiny", "--models", "lightgbm", "--folds", "3", "--out", str(tmp_path / "reports"),
          "data=multi", archives_override(sites), "split.space.block_px=10", "data.k=5", "logger=none",
          "model.train_samples=20000", "model.baseline.n_estimators=40", "model.baseline.log_every=0",
          f"paths.root_dir={tmp_path}"])
    root = tmp_path / "reports" / "tiny"
    table = (root / "transfer.md").read_text()
    assert all(f"| {site} | lightgbm |" in table for site in SITES) and "lst-transfer --name tiny" in table
    # the archives it ran on, each with its files and hours
    data = next(line for line in table.splitlines() if line.startswith("Data: "))
    assert data.startswith(f"Data: `Pool of 3 archives: north = Files: data.lst_dir={sites['north']}/lst ")
    assert all(f"{site} = Files: data.lst_dir={sites[site]}/lst" in data for site in SITES)
    assert "overpass hours night 01:30, day 13:30 (local solar)" in data
    result = json.loads((root / "transfer.json").read_text())
    for site in SITES:
        row = result["sites"][site]["lightgbm"]
        assert 0 < row["elsewhere"]["rmse_k"] < row["elsewhere"]["trivial_rmse_k"]
        assert 0 < row["own"]["rmse_k"]["mean"] and len(row["own"]["rmse_k"]["folds"]) == 3
    # the site-alone runs used the inputs of the pooled run: no lat/lon, no input one site lacks
    own_cfg = (root / "runs" / "north_lightgbm" / "config.yaml").read_text()
    assert "latlon" not in own_cfg.split("groups:")[1].split("when_available")[0]

"""Fine-scale prediction (``lst-predict fine_dem=...``) with the default model (the 1024-512-256-128
MLP; default features less NDVI, which would need a 12-band fine raster of 1 GB at this size): the
wall time and rate of one 1200 x 1200 fine tile (target under a minute), and the whole job on an
Israel-sized grid at f = 9 (5427 x 3681 = 20 million fine pixels, one map): wall time, fine pixels
per second and peak RSS (target under 2 GB). On the GPU too when there is one. The field's
sharpeners on the same tile and frame, for comparison: ATPRK and the data-mining sharpener (one
frame each, on the fine elevation; lst-scale-check and fine_truth= run them)."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import child, figure, peak_rss_kb, run_child, stage
from benchmarks.inputs import bench_cache

F = 9
TILE = 1200
GROUPS = ("lst_mean", "elev_mean", "elev_diff", "doy", "tod", "latlon", "context")


@stage("fine_predict")
def bench_fine_predict(args) -> list[dict]:
    """One 1200 x 1200 fine tile (target < 60 s) and the whole Israel-sized grid at f = 9 (peak
    RSS target < 2 GB), fine pixels per second."""
    from lst_lightning.data.io.writers import write_geotiff
    from lst_lightning.downscale.grids import fine_grid_of

    with tempfile.TemporaryDirectory(prefix="lst-bench-") as tmp:
        tmp = Path(tmp)
        cache = bench_cache(tmp, args.day_step, args.shape)
        coarse = cache.grid
        dem = np.asarray(cache.array("dem"))
        fine = fine_grid_of(coarse, F, (coarse.west, coarse.north - coarse.shape[0] * coarse.dlat,
                                         coarse.west + coarse.shape[1] * coarse.dlon, coarse.north))
        rng = np.random.default_rng(0)
        fine_dem = np.kron(dem, np.ones((F, F), np.float32)) + rng.normal(0, 10, fine.shape).astype(np.float32)
        write_geotiff(tmp / "fine_dem.tif", fine, fine_dem.astype(np.float32), nodata=float("nan"))
        del fine_dem
        res = run_child("fine_predict", cache.path, tmp / "fine_dem.tif", tmp / "out")
    sizes = dict(f=F, fine_shape=list(fine.shape), coarse_shape=list(coarse.shape), model="mlp 1024-512-256-128",
                 features="+".join(GROUPS), residual="smooth")
    tile = "x".join(str(n) for n in res["tile"])
    out = [figure("fine_tile_seconds", res["tile_s"], "s", tile=tile, **sizes),
           figure("fine_tile_rate", res["tile_rate"], "fine px/s", tile=tile, **sizes),
           figure("fine_grid_seconds", res["grid_s"], "s", note="whole lst-predict job: NetCDF, GeoTIFF, PNG", **sizes),
           figure("fine_grid_rate", res["grid_rate"], "fine px/s", **sizes),
           figure("fine_grid_peak_rss", res["maxrss_kb"] / 1024, "MiB", **sizes)]
    for name, label in (("atprk", "ATPRK"), ("dms", "data-mining sharpener")):
        out += [figure(f"{name}_tile_seconds", res[f"{name}_tile_s"], "s", tile=tile, method=label, f=F),
                figure(f"{name}_tile_rate", res[f"{name}_tile_rate"], "fine px/s", tile=tile, method=label, f=F)]
    if "cuda_tile_rate" in res:
        out.append(figure("gpu_fine_tile_rate", res["cuda_tile_rate"], "fine px/s", device="cuda", **sizes))
    return out


@child("fine_predict")
def fine_predict_child(cache_path: str, fine_dem: str, out_dir: str) -> dict:
    """The tile alone (predict_tile), then the whole job (predict_fine_maps) in this fresh process."""
    import torch
    from omegaconf import OmegaConf, open_dict

    from lst_lightning.apps.predict_fine import predict_fine_maps
    from lst_lightning.apps.runs import NetworkPredictor, Run
    from lst_lightning.config import CONF_DIR, compose
    from lst_lightning.data.cache import open_cache
    from lst_lightning.data.io.rasters import read_dem
    from lst_lightning.data.loading.datamodule import LSTDataModule
    from lst_lightning.downscale.atprk import atprk
    from lst_lightning.downscale.dms import dms_sharpen
    from lst_lightning.downscale.fine import predict_tile
    from lst_lightning.downscale.grids import nest
    from lst_lightning.downscale.tiles import fine_inputs_from
    from lst_lightning.evaluation.predictions import network_predictor
    from lst_lightning.features import FeatureLayout
    from lst_lightning.training.module import LSTRegressor

    cache = open_cache(cache_path)
    layout = FeatureLayout(k=cache.k, groups=GROUPS)
    dm = LSTDataModule(cache, layout, {"kind": "days"}, batch_size=1024, samples_per_epoch=1024,
                       eval_samples=1000, scaler_samples=20_000)
    dm.setup()
    mlp = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / "mlp.yaml"))
    module = LSTRegressor(net=mlp["net"], layout=layout.to_json(), optimizer=mlp["optimizer"])
    module.scaler.fit(*dm.scaler_arrays())  # the weights do not change the speed: untrained is fine
    frame = int(np.argmax(cache.n_windows))
    dem, grid = read_dem(fine_dem)
    nesting = nest(grid, cache.grid)
    inputs = fine_inputs_from(cache, [frame], nesting, dem, layout)
    hf, wf = grid.shape  # the tile: the grid's centre (inland on the Israel grid), at most TILE a side
    th, tw = min(TILE, hf), min(TILE, wf)
    rows, cols = slice((hf - th) // 2, (hf + th) // 2), slice((wf - tw) // 2, (wf + tw) // 2)

    def tile_rate(predictor) -> tuple[float, float]:
        t0 = time.perf_counter()
        pred = predict_tile(inputs, layout, predictor, rows, cols, conserve=True)
        seconds = time.perf_counter() - t0
        return seconds, np.isfinite(pred).sum() / seconds

    out = {"tile": [th, tw]}
    out["tile_s"], out["tile_rate"] = tile_rate(NetworkPredictor(network_predictor(module, "cpu")))
    tile_nesting = nesting.tile(rows, cols)
    for name, method in (("atprk", atprk), ("dms", dms_sharpen)):
        t0 = time.perf_counter()
        pred = method(inputs.coarse_lst[0], [dem[rows, cols]], tile_nesting)
        out[f"{name}_tile_s"] = time.perf_counter() - t0
        out[f"{name}_tile_rate"] = np.isfinite(pred).sum() / out[f"{name}_tile_s"]
    if torch.cuda.is_available():
        out["cuda_tile_rate"] = tile_rate(NetworkPredictor(network_predictor(module, "cuda")))[1]
        module.to("cpu")
    # lst-predict's own settings and defaults (conf/predict.yaml), only the inputs and output named here
    cfg = compose("predict", ["run=benchmark", f"fine_dem={fine_dem}", "residual=smooth", "tile=512"])
    with open_dict(cfg):
        cfg.output_dir = str(out_dir)
    run = Run(cfg=OmegaConf.create({"model": {"name": "mlp"}}), model_file=Path("untrained"), run_id=None, dm=dm,
              predict=NetworkPredictor(network_predictor(module, "cpu")))
    t0 = time.perf_counter()
    predict_fine_maps(cfg, run, [frame])
    out["grid_s"] = time.perf_counter() - t0
    import netCDF4

    with netCDF4.Dataset(Path(out_dir) / "lst_fine.nc") as ds:
        n = int(np.ma.count(ds["lst_pred"][0]))
    out["grid_rate"] = n / out["grid_s"]
    out["maxrss_kb"] = peak_rss_kb()
    return out

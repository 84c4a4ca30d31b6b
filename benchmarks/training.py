"""The MLP's (model=mlp) training steps fed by the real pipeline vs by prebuilt tensors: a ratio near 1
means training is not input-bound. On the CPU, and on the GPU when there is one (there also with
the device-resident stream)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from benchmarks.common import best_time, child, figure, peak_rss_kb, run_child, stage
from benchmarks.inputs import bench_cache, bench_datamodule, resident_datamodule

BATCH = 1024


@stage("training")
def bench_training(args) -> list[dict]:
    """Training steps (--train-model, default the MLP) fed by the real pipeline vs by prebuilt
    tensors (ratio >= 0.9: not input-bound), on the CPU and, when present, the GPU; on a synthetic
    archive, or on a prepared cache (--train-cache, e.g. the real year's, with --train-groups)."""
    groups = ",".join(args.train_groups)
    if args.train_cache:
        res = run_child("training", args.train_cache, BATCH, args.train_batches, args.train_model, groups,
                        args.repeat)
    else:
        with tempfile.TemporaryDirectory(prefix="lst-bench-") as tmp:
            res = run_child("training", bench_cache(Path(tmp), args.day_step, args.shape).path, BATCH,
                            args.train_batches, args.train_model, groups, args.repeat)
    sizes = dict(batch=BATCH, batches=args.train_batches, frames=res["frames"], shape=res["shape"],
                 torch_threads=res["threads"],
                 model=args.train_model, groups=groups, cache=args.train_cache or "synthetic")
    cpu = res["cpu"]
    out = [figure("train_pipeline", cpu["pipeline"], "samples/s", note=f"data.loader.prefetch={res['prefetch']}",
                  **sizes),
           figure("train_pipeline_no_prefetch", cpu["no_prefetch"], "samples/s", note="data.loader.prefetch=0",
                  **sizes),
           figure("train_in_memory", cpu["memory"], "samples/s", **sizes),
           figure("train_pipeline_ratio", cpu["pipeline"] / cpu["memory"], "ratio", **sizes)]
    if "cuda" in res:
        gpu = res["cuda"]
        out += [figure("gpu_train_pipeline", gpu["pipeline"], "samples/s", device="cuda",
                       note="host stream, batches copied to the GPU", **sizes),
                figure("gpu_train_resident", gpu["resident"], "samples/s", device="cuda",
                       note="data.loader.device_resident=true", **sizes),
                figure("gpu_train_in_memory", gpu["memory"], "samples/s", device="cuda", **sizes),
                figure("gpu_train_pipeline_ratio", gpu["pipeline"] / gpu["memory"], "ratio", device="cuda", **sizes),
                figure("gpu_train_resident_ratio", gpu["resident"] / gpu["memory"], "ratio", device="cuda", **sizes)]
    return out + [figure("training_peak_rss", res["maxrss_kb"] / 1024, "MiB", **sizes)]


@child("training")
def training_child(cache_path: str, batch_size: str, batches: str, model: str = "mlp", groups: str = "",
                   repeat: str = "2") -> dict:
    """A network (conf/model/<model>.yaml), one epoch of ``batches`` steps: from the real stream vs
    from tensors in memory, on the CPU, and on the GPU when there is one (there also with the
    device-resident stream)."""
    import torch
    from omegaconf import OmegaConf

    from lst_lightning.config import CONF_DIR
    from lst_lightning.data.cache import open_cache
    from lst_lightning.threads import step_threads
    from lst_lightning.training.module import LSTRegressor

    batch_size, batches = int(batch_size), int(batches)
    # the archive was generated and prepared by the parent: this RSS is the run's own
    cache = open_cache(cache_path)
    prefetch = int(OmegaConf.load(CONF_DIR / "data" / "loader" / "default.yaml").prefetch)  # the default
    dm = bench_datamodule(cache, batch_size, batches, tuple(filter(None, groups.split(","))) or None, prefetch)
    # the step's threads as train.py sets them (one core: 1; --all-cores: a core left to the batch thread)
    torch.set_num_threads(step_threads(dm.batch_thread) or (1 if os.environ.get("OMP_NUM_THREADS") == "1"
                                                            else os.cpu_count()))
    # the model config file itself (not a composed train config): the network, its ensemble, its optimizer
    conf = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / f"{model}.yaml"))
    module = LSTRegressor(net=conf["net"], layout=dm.layout.to_json(), optimizer=conf.get("optimizer"),
                          ensemble=conf.get("ensemble", 1), clip=conf.get("clip_inputs"))
    module.scaler.fit(*dm.scaler_arrays())
    out = {"frames": len(cache.meta["frames"]), "shape": list(cache.grid.shape), "prefetch": prefetch,
           "threads": torch.get_num_threads(),
           "cpu": train_rates(module, dm, torch.device("cpu"), repeat=int(repeat))}
    if torch.cuda.is_available():
        out["cuda"] = train_rates(module, dm, torch.device("cuda"), resident=True, repeat=int(repeat))
    out["maxrss_kb"] = peak_rss_kb()
    return out


def train_rates(module, dm, device, resident: bool = False, repeat: int = 2) -> dict:
    """Training samples/s of ``module`` on ``device``: fed by the host stream (batches copied to the
    device as Lightning does), by batches already on the device, and (``resident``) by the
    device-resident stream."""
    import torch

    module = module.to(device)
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def on_device(batch):
        return {k: batch[k].to(device, non_blocking=True) for k in ("scalars", "patch", "target")}

    def epoch(stream):
        for batch in stream:
            batch = on_device(batch)
            loss = torch.nn.functional.mse_loss(module(batch["scalars"], batch["patch"]), batch["target"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync()

    in_memory = [on_device(b) for b in dm.train_dataloader()]
    epoch(in_memory)  # warm-up: allocator, kernels
    n = sum(len(b["target"]) for b in in_memory)
    # the best of ``repeat`` timed epochs of each kind: the shared machine's rates vary by 10-20 %
    rates = {"pipeline": n / best_time(lambda: epoch(dm.train_dataloader()), repeat),
             "memory": n / best_time(lambda: epoch(in_memory), repeat)}
    prefetch, dm.prefetch = dm.prefetch, 0
    rates["no_prefetch"] = n / best_time(lambda: epoch(dm.train_dataloader()), repeat)
    dm.prefetch = prefetch
    if resident:
        dm_resident = resident_datamodule(dm.cache, dm.batch_size, len(in_memory), device)
        rates["resident"] = n / best_time(lambda: epoch(dm_resident.train_dataloader()), repeat)
    module.to("cpu")
    return rates

"""Spread one Optuna study over several workers: one per visible GPU, or --workers N.

    python scripts/sweep_workers.py --trials 40 -- hparams_search=cnn_optuna trainer=gpu \\
        optuna.storage=postgresql+psycopg2://user:password@dbhost/optuna

Each worker is ``python train.py -m <overrides>`` with its own sweep directory
(<sweep-dir>/worker<i>), its own GPU (CUDA_VISIBLE_DEVICES) and its own sampler seed, asking the
shared study for its share of the trials: the shares add up to exactly --trials. The study and
the MLflow experiment are created here once, before the workers start, so that they do not race
to create the same tables. sqlite storage works for a few workers on one machine; use PostgreSQL
(or any server database SQLAlchemy speaks) for more, or across machines. Running the command
again adds --trials more trials to the same study.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--trials", type=int, required=True, help="trials to add to the study, in all")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: one per visible GPU, else 1)")
    parser.add_argument("--sweep-dir", type=Path, default=None,
                        help="parent of the workers' sweep directories (default: logs/multiruns/<now>_workers)")
    parser.add_argument("overrides", nargs="*", help="train.py overrides, e.g. hparams_search=cnn_optuna")
    args = parser.parse_args(argv)
    if args.trials < 1 or (args.workers is not None and args.workers < 1):
        parser.error("--trials and --workers must be at least 1")
    return args


def visible_gpus() -> list[str]:
    """GPU ids from CUDA_VISIBLE_DEVICES, else every GPU torch sees ([] on a CPU machine)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip() and g.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def shares(total: int, workers: int) -> list[int]:
    """``total`` split as evenly as possible; the shares add up to ``total``."""
    return [total // workers + (i < total % workers) for i in range(workers)]


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import lst_lightning.training.sweeps  # noqa: F401  (the ${lst_dir:...} resolver)

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return hydra_compose(config_name="train", overrides=overrides, return_hydra_config=True)


def prepare_shared_state(cfg) -> tuple[str, str]:
    """Create the study and the MLflow experiment once; returns (storage, study name)."""
    import optuna

    from lst_lightning.errors import LSTError

    sweeper = cfg.hydra.sweeper
    if "optuna" not in str(sweeper.get("_target_", "")):
        raise LSTError("the overrides select no Optuna sweeper: add hparams_search=mlp_optuna or cnn_optuna")
    storage, name = str(sweeper.storage), str(sweeper.study_name)
    optuna.create_study(study_name=name, storage=storage, direction=str(sweeper.direction), load_if_exists=True)
    if "mlflow" in (cfg.get("logger") or {}):
        import mlflow

        from lst_lightning.training.tracking import mlflow_settings

        settings = mlflow_settings(cfg, cfg.logger.mlflow)
        client = mlflow.MlflowClient(tracking_uri=settings["tracking_uri"])
        if client.get_experiment_by_name(settings["experiment_name"]) is None:
            client.create_experiment(settings["experiment_name"], artifact_location=settings.get("artifact_location"))
    return storage, name


def start_worker(i: int, n_trials: int, gpu: str | None, threads: int, seed: int, overrides: list[str],
                 sweep_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, LST_ROOT=os.environ.get("LST_ROOT", str(REPO)), OMP_NUM_THREADS=str(threads))
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    cmd = [sys.executable, str(REPO / "train.py"), "-m", *overrides,
           f"hydra.sweeper.n_trials={n_trials}", f"hydra.sweep.dir={sweep_dir / f'worker{i}'}",
           # distinct sampler seeds: identical ones would propose identical start-up trials
           f"hydra.sweeper.sampler.seed={seed + 1000 * i}"]
    log = open(sweep_dir / f"worker{i}.log", "w")
    print(f"worker {i}: {n_trials} trials" + (f" on GPU {gpu}" if gpu is not None else "") + f", log {log.name}")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)


def main(argv: list[str] | None = None) -> int:
    from lst_lightning.errors import exit_on_user_error

    return exit_on_user_error(run)(parse_args(argv))


def run(args: argparse.Namespace) -> int:
    import optuna

    os.environ.setdefault("LST_ROOT", str(REPO))
    cfg = compose(args.overrides)
    storage, name = prepare_shared_state(cfg)
    gpus = visible_gpus()
    n = args.workers or max(1, len(gpus))
    sweep_dir = args.sweep_dir or Path(cfg.paths.log_dir) / "multiruns" / time.strftime("%Y-%m-%d_%H-%M-%S_workers")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 1) // n)
    before = len(optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False))
    procs = [start_worker(i, k, gpus[i % len(gpus)] if gpus else None, threads, int(cfg.seed),
                          args.overrides, sweep_dir)
             for i, k in enumerate(shares(args.trials, n)) if k > 0]
    codes = [p.wait() for p in procs]
    study = optuna.load_study(study_name=name, storage=storage)
    done = [t for t in study.get_trials(deepcopy=False)[before:] if t.state == optuna.trial.TrialState.COMPLETE]
    print(f"study {name} ({storage}): {len(done)} of {args.trials} new trials complete, "
          f"{len(study.trials)} trials in all")
    if done:
        print(f"best so far: {study.best_value:.4f} with {study.best_params}")
    failed = [i for i, c in enumerate(codes) if c != 0]
    if failed:
        print(f"workers {failed} failed: see {sweep_dir}/worker<i>.log", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

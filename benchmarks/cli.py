"""The command line: parse the arguments, run the chosen stages, print each figure as a JSON line
(also appended to --out) and then the table. ``--_child NAME ...`` is the child-process side."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import benchmarks

# isort: off
# imported for their @stage/@child registration: this import order is the order of the stages
from benchmarks import window_mean, prepare, batch_assembly, training, threads, full_scale, fine_predict  # noqa: F401
# isort: on
from benchmarks.common import STAGES, child_main, machine, pin_one_core, table


def parse_args(argv=None) -> argparse.Namespace:
    from lst_lightning.data.synthetic import ISRAEL_SHAPE  # the parent's only: it pulls scipy

    p = argparse.ArgumentParser(prog="python -m benchmarks", description=benchmarks.__doc__.split("\n\n")[0])
    heavy = ("threads", "full_scale", "fine_predict")  # minutes each: run on request
    p.add_argument("--stages", nargs="+", choices=sorted(STAGES), default=[s for s in STAGES if s not in heavy],
                   help=f"stages to run (default: all but {', '.join(heavy)}: {', '.join(STAGES)})")
    p.add_argument("--frames", type=int, default=200,
                   help="frames for 'prepare' (window_mean uses at most 64 of them; default 200)")
    p.add_argument("--shape", type=int, nargs=2, default=list(ISRAEL_SHAPE), metavar=("H", "W"),
                   help="frame size (default: 603 409, the Israel grid; full_scale always uses it)")
    p.add_argument("--k", type=int, default=9, help="window size (default 9)")
    p.add_argument("--day-step", type=int, default=8,
                   help="synthetic archive for batch_assembly/training: every n-th day of a year (default 8)")
    p.add_argument("--repeat", type=int, default=5, help="timed repetitions; the best one counts")
    p.add_argument("--assembly-batches", type=int, default=60, help="batch_assembly: batches of 4096 (default 60)")
    p.add_argument("--train-batches", type=int, default=100, help="training: steps of 1024 (default 100)")
    p.add_argument("--train-model", default="mlp", help="training: the network (conf/model/<name>.yaml; default mlp)")
    p.add_argument("--train-cache", default=None, help="training: a prepared cache to train from (e.g. the real "
                   "year's) instead of a synthetic archive")
    p.add_argument("--train-groups", nargs="*", default=[], help="training: feature groups (default: the original "
                   "inputs); with --train-cache, e.g. lst_mean elev_mean elev_diff doy tod latlon context ndvi")
    p.add_argument("--thread-seconds", type=float, default=8.0,
                   help="threads: seconds of training steps per measurement (default 8; eight measurements)")
    p.add_argument("--lgbm-trees", type=int, default=20, help="threads: LightGBM trees per measurement (default 20)")
    p.add_argument("--years", type=int, default=19, help="full_scale: years of day + night frames (default 19)")
    p.add_argument("--workdir", type=Path, default=None, help="full_scale: where the archive and cache go")
    p.add_argument("--out", type=Path, default=None, help="also append the JSON lines to this file")
    p.add_argument("--all-cores", action="store_true", help="do not restrict to one thread on one core")
    args = p.parse_args(argv)
    args.shape = tuple(args.shape)
    return args


def configure_logging() -> None:
    """Progress (the benchmark's and the project's) as plain lines on stderr: stdout holds only
    the JSON lines and the table."""
    from lst_lightning.log import configure

    configure()
    logger = logging.getLogger("benchmarks")
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler(sys.stderr))


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    configure_logging()
    if argv and argv[0] == "--_child":
        child_main(argv)
        return
    args = parse_args(argv)
    if not args.all_cores:
        pin_one_core()
    info = machine()
    results = []
    for name in args.stages:
        for fig in STAGES[name](args):
            fig["machine"] = info
            line = json.dumps(fig)
            print(line, flush=True)
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                with open(args.out, "a") as fh:
                    fh.write(line + "\n")
            results.append(fig)
    print(table(results, info))

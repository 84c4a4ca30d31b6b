"""``python -m benchmarks``: the thread settings and the one-thread setting first, then the command
line (``benchmarks.cli``)."""
import os
import sys

from lst_lightning.threads import configure_threads

configure_threads()  # the project's own (lst_lightning/threads.py): the figures are what a run sees
# BLAS/OpenMP read these once, when numpy (or torch) is first imported: set them before anything
# imports either, so that the figures are single-threaded ones (the child processes inherit them).
if "--all-cores" not in sys.argv:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = "1"

from benchmarks.cli import main  # noqa: E402

main()

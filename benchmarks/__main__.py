"""``python -m benchmarks``: the one-thread setting first, then the command line (``benchmarks.cli``)."""
import os
import sys

# BLAS/OpenMP read these once, when numpy (or torch) is first imported: set them before anything
# imports either, so that the figures are single-threaded ones (the child processes inherit them).
if "--all-cores" not in sys.argv:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = "1"

from benchmarks.cli import main  # noqa: E402

main()

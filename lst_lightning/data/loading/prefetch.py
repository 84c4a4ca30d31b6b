"""Training batches made ahead in a background thread.

With the DataLoader in the main process (``data.loader.num_workers: 0``, the default) drawing and
gathering a batch and the training step on it take turns; a thread that draws and gathers the
next batches while the step runs overlaps the two (numpy's array work and torch's kernels release
the GIL). The batches, and their order, are those of the stream without it: the same generator
draws them, one after the other. Training gives the thread a core of its own (threads.step_threads);
on the 2-core machine a fold of the gated network on the real year h18v04 (experiment=report) ran
in 26.2 s against 31.3 s without the thread (docs/performance.md)."""
from __future__ import annotations

import queue
import threading
from typing import Iterator

from lst_lightning.errors import LSTError

_END = object()


def check_prefetch(value) -> int:
    """``data.loader.prefetch``: batches made ahead, an integer >= 0 (0: none, no thread)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LSTError(f"data.loader.prefetch: the training batches made ahead in a background thread, an "
                       f"integer >= 0 (0: none), got {value!r}")
    return value


def prefetched(batches: Iterator, depth: int) -> Iterator:
    """``batches``, each made by a background thread up to ``depth`` batches ahead of the consumer.
    An error in the thread is raised here; stopping early (the generator closed) stops the thread."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fill() -> None:
        try:
            for batch in batches:
                if not put((batch, None)):
                    return
            put((_END, None))
        except Exception as err:  # noqa: BLE001 - any error is the consumer's to raise
            put((None, err))

    thread = threading.Thread(target=fill, name="lst-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            batch, err = ready.get()
            if err is not None:
                raise err
            if batch is _END:
                return
            yield batch
    finally:
        stop.set()
        thread.join()

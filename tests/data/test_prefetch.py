"""Training batches made ahead in a background thread: the same batches, errors raised where the
batches are used, no thread left behind, a bad setting refused before anything exists."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from lst_lightning.data.loading.prefetch import prefetched
from lst_lightning.errors import LSTError
from tests.data.test_datamodule import make_dm


def _threads() -> int:
    return sum(t.name == "lst-prefetch" for t in threading.enumerate())


def test_prefetched_yields_every_batch_in_order_made_ahead_but_bounded():
    made = []

    def batches():
        for i in range(20):
            made.append(i)
            yield i

    stream = prefetched(batches(), 3)
    assert next(stream) == 0
    deadline = time.monotonic() + 10
    while len(made) < 5 and time.monotonic() < deadline:  # the thread runs ahead on its own
        time.sleep(0.01)
    time.sleep(0.1)
    assert len(made) == 5  # 1 taken, 3 waiting in the queue, 1 made and held: no further
    assert [0, *stream] == list(range(20)) and _threads() == 0


def test_an_error_while_making_a_batch_is_raised_to_the_consumer():
    def batches():
        yield 1
        raise ValueError("broken window")

    got = []
    with pytest.raises(ValueError, match="broken window"):
        for b in prefetched(batches(), 2):
            got.append(b)
    assert got == [1] and _threads() == 0


def test_stopping_early_stops_the_thread():
    stream = prefetched(iter(range(10_000)), 2)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert _threads() == 0


def test_the_data_module_streams_the_same_batches_with_and_without_prefetch(random_cache):
    def epoch(prefetch: int) -> list[dict]:
        loader = make_dm(random_cache, prefetch=prefetch).train_dataloader()
        return [list(loader) for _ in range(2)]  # two epochs: fresh draws each

    plain, ahead = epoch(0), epoch(2)
    assert len(plain[0]) == len(ahead[0]) == 8
    for e in range(2):
        for a, b in zip(plain[e], ahead[e]):
            assert all(torch.equal(a[k], b[k]) for k in ("scalars", "patch", "target", "frame", "row", "col"))
    assert not torch.equal(plain[0][0]["target"], plain[1][0]["target"])
    assert _threads() == 0


@pytest.mark.parametrize("value", [-1, 1.5, "2", True])
def test_a_bad_prefetch_setting_is_one_line_before_any_cache(value, tmp_path):
    from omegaconf import open_dict

    from lst_lightning.training.run import check_settings
    from tests.common import compose_cfg

    cfg = compose_cfg(["debug=tiny"], tmp_path)
    with open_dict(cfg):
        cfg.data.loader.prefetch = value
    with pytest.raises(LSTError, match=r"^data.loader.prefetch: the training batches made ahead .* got "):
        check_settings(cfg)
    assert not list(tmp_path.rglob("lst-k*"))

"""K-fold cross-validation splits: the folds' test parts partition the date groups and the spatial
blocks, every fold keeps the split guarantees, and bad settings are one clear line."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from lst_lightning.data.loading.splits import PARTS, check_guarantees, make_split
from lst_lightning.errors import LSTError
from tests.data.inputs import frames_meta, windows_overlap


def plans(n_dates, shape, k, folds, seed, kind="space_days", block=10):
    meta = frames_meta(n_dates)
    return meta, [make_split(meta, shape, k, kind=kind, space={"block_px": block}, seed=seed,
                             folds=folds, fold=i) for i in range(folds)]


@settings(max_examples=20, deadline=None)
@given(n_dates=st.integers(6, 40), h=st.integers(40, 70), w=st.integers(40, 70), k=st.sampled_from([3, 5]),
       folds=st.integers(2, 5), seed=st.integers(0, 1000))
@example(n_dates=6, h=51, w=41, k=3, folds=3, seed=328)  # a fold's validation part left without a pixel
def test_folds_partition_dates_and_blocks_with_the_guarantees(n_dates, h, w, k, folds, seed):
    try:
        meta, fold_plans = plans(n_dates, (h, w), k, folds, seed)
    except LSTError as err:  # too few blocks or dates for this K, or a part left empty: said clearly
        assert f"split.folds={folds}: only" in str(err) or "is empty" in str(err)
        assume(False)
    dates = [{meta[i]["date"] for i in p["test"].frames} for p in fold_plans]
    # every date is in exactly one fold's test part
    assert sum(len(d) for d in dates) == len({m["date"] for m in meta})
    for plan in fold_plans:
        check_guarantees(plan, meta, k)  # no date in two parts, no window overlap, within the fold
        held = {meta[i]["date"] for p in ("train", "val") for i in plan[p].frames}
        assert not held & {meta[i]["date"] for i in plan["test"].frames}
    # the test parts of two folds never share a date, nor a window
    for i in range(folds):
        for j in range(i + 1, folds):
            assert not dates[i] & dates[j]
            assert not windows_overlap(fold_plans[i]["test"].pixel_mask, fold_plans[j]["test"].pixel_mask, k)


def test_the_grouping_is_the_same_in_every_fold():
    meta, fold_plans = plans(30, (60, 60), 3, 3, seed=5)
    all_dates = {m["date"] for m in meta}
    for plan in fold_plans:
        test = {meta[i]["date"] for i in plan["test"].frames}
        rest = {meta[i]["date"] for p in ("train", "val") for i in plan[p].frames}
        assert test | rest == all_dates and len(test) == 10  # 30 dates dealt into 3 groups of 10
    # validation lies inside the training side of its fold and differs between folds
    vals = [frozenset(meta[i]["date"] for i in p["val"].frames) for p in fold_plans]
    assert len(set(vals)) == 3
    # the same settings give the same folds
    _, again = plans(30, (60, 60), 3, 3, seed=5)
    for a, b in zip(fold_plans, again):
        for part in PARTS:
            np.testing.assert_array_equal(a[part].frames, b[part].frames)
            np.testing.assert_array_equal(a[part].pixel_mask, b[part].pixel_mask)


@pytest.mark.parametrize("kind", ["days", "space"])
def test_single_axis_folds(kind):
    meta, fold_plans = plans(12, (60, 60), 3, 4, seed=1, kind=kind)
    if kind == "days":
        tested = [{meta[i]["date"] for i in p["test"].frames} for p in fold_plans]
        assert sum(map(len, tested)) == 12 and all(len(t) == 3 for t in tested)
    else:
        masks = [p["test"].pixel_mask for p in fold_plans]
        assert all(m.any() for m in masks) and not np.any(np.sum(masks, axis=0) > 1)


@pytest.mark.parametrize("kwargs,needle", [
    ({"folds": 1}, "split.folds must be an integer >= 2"),
    ({"folds": 3, "fold": 3}, "split.fold must be one of 0..2"),
    ({"folds": 3, "kind": "random"}, "not the leaky random split"),
    ({"folds": 8}, "split.folds=8: only 6 date groups (mode=random) to deal into 8 test groups"),
])
def test_bad_fold_settings(kwargs, needle):
    kwargs = {"kind": "space_days", "fold": 0, **kwargs}
    with pytest.raises(LSTError) as err:
        make_split(frames_meta(6), (60, 60), 3, space={"block_px": 10}, seed=0, **kwargs)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_single_unit_test_part_is_a_warning(caplog):
    with caplog.at_level("WARNING", logger="lst_lightning"):
        plans(7, (60, 60), 3, 5, seed=0, kind="days")  # 7 dates into 5 folds: one date per test part
    assert "split.folds=5: each fold tests on only 1 of the 7 date groups (mode=random)" in caplog.text

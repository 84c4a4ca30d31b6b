"""Split guarantees: no date in two parts, no window overlap across parts, clear errors."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lst_lightning.data.facts.windows import box_sum
from lst_lightning.data.loading.splits import PARTS, check_guarantees, make_split, sample_bucket
from lst_lightning.errors import LSTError
from tests.data.inputs import frames_meta, windows_overlap


@settings(max_examples=25, deadline=None)
@given(h=st.integers(30, 70), w=st.integers(30, 70), k=st.sampled_from([3, 5, 7, 9]),
       block=st.integers(4, 20), buffer=st.integers(0, 2), seed=st.integers(0, 10_000),
       kind=st.sampled_from(["space", "space_days"]))
def test_space_parts_never_share_a_window(h, w, k, block, buffer, seed, kind):
    meta = frames_meta(12)
    try:
        plan = make_split(meta, (h, w), k, kind=kind, space={"block_px": block, "buffer_px": buffer},
                          seed=seed)
    except LSTError as err:  # a grid too small for the blocks may leave a part empty: said clearly
        assert "is empty" in str(err)
        assume(False)  # not a counterexample: hypothesis draws another case
    check_guarantees(plan, meta, k)
    masks = [plan[p].pixel_mask for p in PARTS]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not windows_overlap(masks[i], masks[j], k)
    # every usable pixel's window is inside the grid
    r = k // 2
    for m in masks:
        assert not m[:r].any() and not m[-r:].any() and not m[:, :r].any() and not m[:, -r:].any()


@settings(max_examples=25, deadline=None)
@given(n=st.integers(5, 60), seed=st.integers(0, 1000), mode=st.sampled_from(["random", "blocks", "months"]),
       kind=st.sampled_from(["days", "space_days"]))
def test_no_date_in_two_parts(n, seed, mode, kind):
    meta = frames_meta(n, step=7)
    try:
        plan = make_split(meta, (60, 60), 5, kind=kind, days={"mode": mode, "block_days": 14},
                          space={"block_px": 10}, seed=seed)
    except LSTError as err:
        assert "is empty" in str(err)
        assume(False)  # not a counterexample: hypothesis draws another case
    check_guarantees(plan, meta, 5)
    dates = [{meta[i]["date"] for i in plan[p].frames} for p in PARTS]
    assert not (dates[0] & dates[1]) and not (dates[0] & dates[2]) and not (dates[1] & dates[2])
    # day and night of one date stay together
    for p in PARTS:
        bands = {}
        for i in plan[p].frames:
            bands.setdefault(meta[i]["date"], set()).add(meta[i]["band"])
        assert all(b == {"night", "day"} for b in bands.values())


def test_space_days_parts_are_blocks_times_dates():
    meta = frames_meta(40)
    plan = make_split(meta, (80, 80), 9, kind="space_days", space={"block_px": 16}, seed=3)
    days_only = make_split(meta, (80, 80), 9, kind="days", seed=3)
    # train frames of space_days are exactly the train dates, pixels exactly the train blocks' interiors
    assert set(plan["test"].frames).isdisjoint(plan["train"].frames)
    assert plan["train"].pixels.size > plan["test"].pixels.size > 0
    assert days_only["train"].pixels.size > plan["train"].pixels.size  # days keeps all pixels


def test_years_mode_holds_out_whole_years():
    meta = frames_meta(30, start=dt.date(2019, 12, 17))  # spans 2019 and 2020
    meta += frames_meta(10, start=dt.date(2021, 3, 1))
    plan = make_split(meta, (40, 40), 5, kind="days", days={"mode": "years", "test_years": [2021],
                                                           "val_years": [2019]})
    assert {meta[i]["date"][:4] for i in plan["test"].frames} == {"2021"}
    assert {meta[i]["date"][:4] for i in plan["val"].frames} == {"2019"}
    with pytest.raises(LSTError, match="years \\[2030\\] are not in the data"):
        make_split(meta, (40, 40), 5, kind="days", days={"mode": "years", "test_years": [2030]})


def test_empty_frames_and_bands_are_excluded():
    meta = frames_meta(20, empty={(0, "day"), (1, "night")})
    plan = make_split(meta, (40, 40), 5, kind="days", bands=("day",), seed=1)
    used = np.concatenate([plan[p].frames for p in PARTS])
    assert all(meta[i]["band"] == "day" for i in used)
    assert 1 not in used  # the empty day frame of date 0 is index 1
    assert len(used) == 19


def test_bad_settings_are_named():
    meta = frames_meta(10)
    with pytest.raises(LSTError, match="split.kind: unknown 'pixels'"):
        make_split(meta, (40, 40), 5, kind="pixels")
    with pytest.raises(LSTError, match="split.days: val and test fractions"):
        make_split(meta, (40, 40), 5, kind="days", days={"val_fraction": 0.6, "test_fraction": 0.5})
    with pytest.raises(LSTError, match="split.space.block_px"):
        make_split(meta, (40, 40), 5, kind="space", space={"block_px": 0})
    with pytest.raises(LSTError, match=r"part 'val' is empty \(0 frames"):
        make_split(frames_meta(2), (40, 40), 5, kind="days")
    with pytest.raises(LSTError, match="no usable frame"):
        make_split(frames_meta(3, empty={(i, b) for i in range(3) for b in ("day", "night")}), (40, 40), 5)


def test_random_split_buckets_are_stable_and_proportional():
    f = np.repeat(np.arange(50), 2000)
    p = np.tile(np.arange(2000), 50)
    b = sample_bucket(f, p, 2000, seed=5, fractions=(0.7, 0.15, 0.15))
    assert np.array_equal(b, sample_bucket(f, p, 2000, seed=5, fractions=(0.7, 0.15, 0.15)))
    share = np.bincount(b, minlength=3) / b.size
    assert np.allclose(share, [0.7, 0.15, 0.15], atol=0.01)
    assert not np.array_equal(b, sample_bucket(f, p, 2000, seed=6, fractions=(0.7, 0.15, 0.15)))


def test_fully_inside_matches_brute_force():
    rng = np.random.default_rng(0)
    region = rng.random((30, 30)) < 0.8
    from lst_lightning.data.loading.splits import fully_inside

    got = fully_inside(region, 5)
    ref = np.zeros_like(region)
    for i in range(2, 28):
        for j in range(2, 28):
            ref[i, j] = region[i - 2:i + 3, j - 2:j + 3].all()
    assert np.array_equal(got, ref)
    assert box_sum(region, 5).shape == (26, 26)


def test_a_saved_plan_is_read_back_as_the_same_parts_and_a_broken_one_is_refused(tmp_path):
    from lst_lightning.data.loading.splits import save_plan

    meta = frames_meta(30)
    plan = make_split(meta, (60, 60), 5, kind="space_days", space={"block_px": 15}, seed=4)
    dates = {p: sorted({meta[i]["date"] for i in plan[p].frames}) for p in PARTS}
    masks = {p: plan[p].pixel_mask for p in PARTS}
    save_plan(tmp_path / "plan.npz", dates, masks)
    given_plan = make_split(meta, (60, 60), 5, kind="given", plan_file=str(tmp_path / "plan.npz"))
    for p in PARTS:
        np.testing.assert_array_equal(given_plan[p].frames, plan[p].frames)
        np.testing.assert_array_equal(given_plan[p].pixels, plan[p].pixels)
    with pytest.raises(LSTError, match=r"plan.npz: its pixel masks are 60x60, the grid is 50x60"):
        make_split(meta, (50, 60), 5, kind="given", plan_file=str(tmp_path / "plan.npz"))
    masks["train"] = masks["train"] | masks["test"]  # training pixels inside the test blocks
    save_plan(tmp_path / "bad.npz", dates, masks)
    with pytest.raises(LSTError, match=r"bad.npz: split given: windows of train and test overlap"):
        make_split(meta, (60, 60), 5, kind="given", plan_file=str(tmp_path / "bad.npz"))
    dates["train"] = dates["train"] + dates["test"][:1]
    masks["train"] = plan["train"].pixel_mask
    save_plan(tmp_path / "dates.npz", dates, masks)
    with pytest.raises(LSTError, match=r"dates.npz: split given: dates .* are in both train and test"):
        make_split(meta, (60, 60), 5, kind="given", plan_file=str(tmp_path / "dates.npz"))
    with pytest.raises(LSTError, match=r"split.kind=given needs split.plan_file"):
        make_split(meta, (60, 60), 5, kind="given")

"""Cross-validation intervals and paired comparisons, on constructed per-fold figures."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lst_lightning.evaluation.intervals import mean_interval, paired_difference


def test_the_interval_is_students_t_of_the_mean():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    iv = mean_interval(values)
    # mean 3, sample std sqrt(2.5), t(0.975, 4) = 2.7764451
    half = 2.7764451 * math.sqrt(2.5) / math.sqrt(5)
    assert iv["n"] == 5 and iv["mean"] == pytest.approx(3.0) and iv["std"] == pytest.approx(math.sqrt(2.5))
    assert iv["low"] == pytest.approx(3.0 - half, rel=1e-6) and iv["high"] == pytest.approx(3.0 + half, rel=1e-6)


def test_the_interval_shrinks_as_folds_agree():
    rng = np.random.default_rng(0)
    centre = 25.0
    widths = [mean_interval(centre + spread * rng.standard_normal(5))["half_width"] for spread in (4.0, 1.0, 0.1)]
    assert widths[0] > widths[1] > widths[2] > 0
    agreeing = mean_interval([25.0, 25.0, 25.0, 25.0, 25.0])
    assert agreeing["half_width"] == 0.0 and agreeing["low"] == agreeing["high"] == 25.0


def test_too_few_folds_have_no_interval():
    one = mean_interval([0.8, float("nan")])
    assert one["n"] == 1 and one["mean"] == 0.8 and math.isnan(one["low"]) and math.isnan(one["half_width"])


def test_paired_comparison_flags_a_real_difference():
    # fold difficulty varies a lot (the unpaired intervals overlap), model a is better by 0.05 K on
    # every fold: pairing removes what the folds share
    folds = np.array([0.7, 1.1, 0.9, 1.4, 1.0])
    a, b = folds - 0.05 + np.array([0.0, 0.004, -0.003, 0.002, -0.001]), folds
    ia, ib = mean_interval(a), mean_interval(b)
    assert ia["high"] > ib["low"]  # unpaired: no verdict
    d = paired_difference(a, b)
    assert d["differs"] and d["high"] < 0 and d["mean"] == pytest.approx(-0.0496, abs=1e-4)


def test_paired_comparison_does_not_flag_a_null_difference():
    rng = np.random.default_rng(3)
    folds = np.array([0.7, 1.1, 0.9, 1.4, 1.0])
    a, b = folds + 0.02 * rng.standard_normal(5), folds + 0.02 * rng.standard_normal(5)
    d = paired_difference(a, b)
    assert not d["differs"] and d["low"] < 0 < d["high"]
    with pytest.raises(ValueError, match="same folds"):
        paired_difference([1.0, 2.0], [1.0])

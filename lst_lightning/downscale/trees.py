"""Bagged regression trees with a linear model in each leaf (Gao et al. 2012, section 2.1; pyDMS).

Each tree is a scikit-learn ``DecisionTreeRegressor`` (``max_leaf_nodes``, ``min_samples_leaf``)
grown on a bootstrap sample with the homogeneity weights times the bootstrap counts (what
scikit-learn's ``BaggingRegressor`` does); then every leaf gets a weighted ridge regression of its
samples on the standardised features, clipped at prediction to the leaf's training range widened
by ``EXTRAPOLATION`` of it on each side (pyDMS's limit on extrapolation). Own bagging rather than
``BaggingRegressor``: the leaf models need the fitted tree's leaf of each sample. Not lightgbm's
``linear_tree``: that is boosting (each tree fits the previous trees' residuals), not an average of
independent trees, and it has no per-leaf clipping.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn.tree import DecisionTreeRegressor

EXTRAPOLATION = 0.25  # of a leaf's training LST range, allowed beyond it on each side
RIDGE = 1.0  # ridge penalty in units of the leaf's mean sample weight (sklearn Ridge(alpha=1) on unit weights)


@dataclass
class LeafLinearTree:
    """A fitted tree; per node id (``tree.apply``): ``coef`` [nodes, 1 + C] (intercept first, on
    standardised features), ``lo``/``hi`` [nodes] the clip range (target units)."""

    tree: DecisionTreeRegressor
    coef: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def predict(self, z: np.ndarray, z32: np.ndarray) -> np.ndarray:
        """[N] predictions for standardised features ``z`` [N, C] (``z32``: the same as C-ordered
        float32, what the tree routes on)."""
        leaf = self.tree.tree_.apply(z32)  # the Cython router: no per-call input validation
        out = self.coef[leaf, 0]
        for c in range(z.shape[1]):  # column by column: no [N, C] gather of coefficients
            out += self.coef[leaf, c + 1] * z[:, c]
        np.maximum(out, self.lo[leaf], out=out)
        return np.minimum(out, self.hi[leaf], out=out)


@dataclass
class Forest:
    """Bagged leaf-linear trees and the feature standardisation they were trained with."""

    trees: list[LeafLinearTree]
    mean: np.ndarray  # [C]
    scale: np.ndarray  # [C]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """[N] the mean prediction of the trees for features ``x`` [N, C] (finite)."""
        z = (x - self.mean) / self.scale
        z32 = np.ascontiguousarray(z, dtype=np.float32)
        total = np.zeros(len(z))
        for t in self.trees:
            total += t.predict(z, z32)
        return total / len(self.trees)


def leaf_models(z: np.ndarray, y: np.ndarray, w: np.ndarray, leaf: np.ndarray,
                nodes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coef [nodes, 1 + C], lo [nodes], hi [nodes]): every leaf's weighted ridge regression (intercept
    unpenalised) of ``y`` [n] on ``z`` [n, C] and its clip range, all leaves at once: each entry of
    the leaves' normal equations is one weighted ``bincount`` over the leaf ids."""
    n, c = z.shape
    x1 = np.concatenate([np.ones((n, 1)), z], 1)
    gram = np.empty((nodes, c + 1, c + 1))
    for i in range(c + 1):  # (C + 1)^2 / 2 products of feature columns, C is a handful
        for j in range(i, c + 1):
            gram[:, i, j] = gram[:, j, i] = np.bincount(leaf, w * x1[:, i] * x1[:, j], nodes)
    rhs = np.stack([np.bincount(leaf, w * x1[:, i] * y, nodes) for i in range(c + 1)], -1)
    count = np.bincount(leaf, minlength=nodes)
    ridge = RIDGE * gram[:, 0, 0] / np.maximum(count, 1)  # in units of the leaf's mean weight
    gram[:, np.arange(1, c + 1), np.arange(1, c + 1)] += ridge[:, None]
    gram[count == 0] = np.eye(c + 1)  # inner nodes: never predicted from; the identity keeps the batch solvable
    coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
    order = np.lexsort((y, leaf))  # by leaf, then by y: each leaf's first and last are its min and max
    first = np.searchsorted(leaf[order], np.arange(nodes))
    last = np.searchsorted(leaf[order], np.arange(nodes), side="right") - 1
    ys = y[order]
    ymin, ymax = ys[np.minimum(first, n - 1)], ys[np.maximum(last, 0)]
    span = EXTRAPOLATION * (ymax - ymin)
    return coef, ymin - span, ymax + span


def fit_tree(z: np.ndarray, y: np.ndarray, w: np.ndarray, max_leaves: int, min_leaf: int,
             seed: int) -> LeafLinearTree:
    """One leaf-linear tree on standardised ``z`` [n, C], target ``y`` [n], weights ``w`` [n] > 0."""
    tree = DecisionTreeRegressor(max_leaf_nodes=max_leaves, min_samples_leaf=min_leaf, random_state=seed)
    z32 = np.ascontiguousarray(z, dtype=np.float32)
    with sklearn.config_context(skip_parameter_validation=True):  # fixed, valid parameters: no per-fit check
        tree.fit(z32, y, sample_weight=w, check_input=False)  # float32, C-ordered, finite
    leaf = tree.tree_.apply(z32)
    return LeafLinearTree(tree, *leaf_models(z, y, w, leaf, tree.tree_.node_count))


def fit_forest(x: np.ndarray, y: np.ndarray, w: np.ndarray, n_trees: int, max_leaves: int, min_leaf: int,
               seed: int) -> Forest:
    """``n_trees`` leaf-linear trees on bootstrap samples of ``x`` [n, C], ``y`` [n], weights ``w``
    [n] (>= 0; zero-weight samples never train)."""
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 0, scale, 1.0)  # a constant feature: leave it unscaled
    z = (x - mean) / scale
    rng = np.random.default_rng(seed)
    trees = []
    for k in range(n_trees):
        counts = np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y))
        bw = w * counts
        keep = bw > 0
        if keep.sum() < 2 * min_leaf:  # a degenerate draw: train on everything once
            keep, bw = w > 0, w
        trees.append(fit_tree(z[keep], y[keep], bw[keep], max_leaves, min_leaf, seed + k))
    return Forest(trees, mean, scale)

"""Maps: the 1 km panels of ``lst-predict``, the per-pixel error map of ``lst-evaluate`` and the
fine-scale panel. What a reader needs to read them: where the land is (the DEM, faint, under pixels
without values), which compared values were gap-filled rather than observed (shaded), and at the
fine scale the pixels themselves (a crop at full resolution beside the overview), an elevation
scale without a sea and the DEM's voids marked."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import patches
from matplotlib.colors import ListedColormap
from scipy import ndimage

from lst_lightning.errors import LSTError
from lst_lightning.evaluation.plots import _pyplot, _save

VOID_COLOUR = "magenta"
SHADE = ListedColormap(["black"])  # the veil over gap-filled pixels
DETAIL_PX = 200  # fine pixels a side of the full-resolution crop


def land_colours() -> ListedColormap:
    """matplotlib's ``terrain`` without its blue sea: the lowest ground is green, not water; voids
    (NaN) in ``VOID_COLOUR``."""
    plt = _pyplot()
    cmap = ListedColormap(plt.get_cmap("terrain")(np.linspace(0.25, 1.0, 256)), name="land")
    cmap.set_bad(VOID_COLOUR)
    return cmap


def data_window(mask, lat=None, lon=None, bbox=None, margin: int = 2) -> tuple[slice, slice]:
    """Rows and columns a map should show: those of ``bbox`` ([lon_min, lat_min, lon_max, lat_max],
    degrees) when given, else the bounding box of ``mask`` (where there is data) plus a margin.
    Why: a real archive's valid windows may cover a speck of its grid; a whole-grid map hides them."""
    h, w = mask.shape
    if bbox is not None:
        lon_min, lat_min, lon_max, lat_max = (float(v) for v in bbox)
        rows = np.flatnonzero((np.asarray(lat) >= lat_min) & (np.asarray(lat) <= lat_max))
        cols = np.flatnonzero((np.asarray(lon) >= lon_min) & (np.asarray(lon) <= lon_max))
        if rows.size == 0 or cols.size == 0:
            raise LSTError(f"bbox={list(bbox)}: no pixel of the grid (lon {float(np.min(lon)):.4f}.."
                           f"{float(np.max(lon)):.4f}, lat {float(np.min(lat)):.4f}..{float(np.max(lat)):.4f}) "
                           "lies inside it")
    else:
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if rows.size == 0:
            return slice(0, h), slice(0, w)
    return (slice(max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin)),
            slice(max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin)))


def _extent(lat, lon) -> tuple[float, float, float, float]:
    """imshow extent of a (cropped) grid whose first row is the northernmost."""
    return (float(lon[0]), float(lon[-1]), float(min(lat[0], lat[-1])), float(max(lat[0], lat[-1])))


def _background(ax, dem, extent) -> None:
    """The DEM, faint and grey, under the map's fill: where the land is around held-out pixels."""
    if dem is not None and np.isfinite(dem).any():
        lo, hi = np.nanpercentile(dem, [2, 98])
        ax.imshow(dem, extent=extent, cmap="Greys", vmin=lo - 0.5 * (hi - lo), vmax=hi + 0.5 * (hi - lo),
                  alpha=0.45, interpolation="nearest", zorder=0)


def _shade(ax, where, extent) -> None:
    """A dark veil over ``where`` (gap-filled: the value compared with is a model's, not a measurement)."""
    if where is not None and np.any(where):
        ax.imshow(np.where(where, 1.0, np.nan), extent=extent, cmap=SHADE, alpha=0.35, interpolation="nearest",
                  zorder=2)


def error_map(lat, lon, rows, cols, err, path: Path, title: str = "", background=None) -> Path:
    """Per-pixel RMSE and mean error (bias, predicted - true) over the evaluated samples, the DEM
    (``background``, on the grid) faint beneath."""
    plt = _pyplot()
    h, w = len(lat), len(lon)
    flat = np.asarray(rows) * w + np.asarray(cols)
    n = np.bincount(flat, minlength=h * w).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rmse = np.sqrt(np.bincount(flat, err * err, h * w) / n).reshape(h, w)
        bias = (np.bincount(flat, err, h * w) / n).reshape(h, w)
    rs, cs = data_window(n.reshape(h, w) > 0)  # the evaluated pixels, not the whole grid
    rmse, bias, lat, lon = rmse[rs, cs], bias[rs, cs], np.asarray(lat)[rs], np.asarray(lon)[cs]
    dem = None if background is None else np.asarray(background, dtype=np.float32)[rs, cs]
    extent = _extent(lat, lon)
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.5))
    vmax = np.nanpercentile(rmse, 98) if np.isfinite(rmse).any() else 1.0
    bmax = np.nanpercentile(np.abs(bias), 98) if np.isfinite(bias).any() else 1.0
    for ax, field, label, kw in ((axes[0], rmse, "RMSE (K)", {"cmap": "magma", "vmin": 0, "vmax": vmax}),
                                 (axes[1], bias, "mean error, pred - true (K)",
                                  {"cmap": "RdBu_r", "vmin": -bmax, "vmax": bmax})):
        im = ax.imshow(field, extent=extent, aspect="auto", interpolation="nearest", zorder=1, **kw)
        _background(ax, dem, extent)
        fig.colorbar(im, ax=ax, label=label, shrink=0.8)
        ax.set_xlabel("lon")
        ax.set_ylabel("lat")
    fig.suptitle(title or "error per pixel (held-out pixels only)")
    return _save(fig, path)


def _panel(ax, fig, name, field, cmap, vmin, vmax, extent, background=None, shaded=None) -> None:
    im = ax.imshow(field, extent=extent, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", zorder=1)
    _background(ax, background, extent)
    _shade(ax, shaded, extent)
    ax.set_title(name, fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)


def _lst_range(fields) -> tuple[float, float]:
    """The 1st..99th percentile of the finite values of LST maps: one colour scale for all of them."""
    values = np.concatenate([a[np.isfinite(a)] for a in fields] + [np.zeros(0)])
    return tuple(np.percentile(values, [1, 99])) if values.size else (0.0, 1.0)


def _error_limit(err) -> float:
    return float(np.nanpercentile(np.abs(err), 99)) if np.isfinite(err).any() else 1.0


def map_panel(path: Path, grid, title: str, mean, pred, obs, bbox=None, dem=None, gap_filled=None,
              halfwidth=None, level: float | None = None) -> Path:
    """Window-mean input, prediction, observation and error, side by side, over the area with
    predictions (or ``bbox``: [lon_min, lat_min, lon_max, lat_max]); the DEM faint beneath, and
    the gap-filled observations (``gap_filled``) shaded in the observation and the error; with
    ``halfwidth``, a fifth panel: each pixel's prediction-interval half-width (K; nominal coverage
    ``level``)."""
    rs, cs = data_window(np.isfinite(pred) | np.isfinite(obs), grid.lat, grid.lon, bbox)
    mean, pred, obs = mean[rs, cs], pred[rs, cs], obs[rs, cs]
    dem = None if dem is None else np.asarray(dem, dtype=np.float32)[rs, cs]
    gap = None if gap_filled is None else np.asarray(gap_filled)[rs, cs] & np.isfinite(obs)
    extent = _extent(np.asarray(grid.lat)[rs], np.asarray(grid.lon)[cs])
    lo, hi = _lst_range((mean, pred, obs))
    err = pred - obs
    lim = _error_limit(err)
    gap_note = ", gap-filled shaded" if gap is not None and gap.any() else ""
    panels = [("window-mean input (K)", mean, "inferno", lo, hi, None),
              ("prediction (K)", pred, "inferno", lo, hi, None),
              (f"observation (K{gap_note})", obs, "inferno", lo, hi, gap),
              (f"prediction - observation (K{gap_note})", err, "RdBu_r", -lim, lim, gap)]
    if halfwidth is not None:
        width = np.asarray(halfwidth, dtype=np.float32)[rs, cs]
        top = 1.2 * float(np.nanpercentile(width, 99)) if np.isfinite(width).any() else 1.0
        name = f"{100 * level:.0f} % interval half-width (K)" if level else "interval half-width (K)"
        panels.append((name, width, "viridis", 0.0, top, None))
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 5.2))
    for ax, (name, field, cmap, vmin, vmax, shaded) in zip(axes, panels):
        _panel(ax, fig, name, field, cmap, vmin, vmax, extent, dem, shaded)
        ax.set_xlabel("lon")
    axes[0].set_ylabel("lat")
    fig.suptitle(title)
    return _save(fig, path)


def detail_window(valid, dem, step: int, shape: tuple[int, int], size: int = DETAIL_PX) -> tuple[slice, slice]:
    """The fine rows and columns (``size`` a side) of the crop a fine panel shows at full resolution:
    where the decimated maps (every ``step``-th pixel: ``valid`` predictions, ``dem``) have the most
    predictions on the most varied ground."""
    side = max(1, size // step)
    terrain = np.nan_to_num(np.asarray(dem, dtype=np.float64))
    spread = np.sqrt(np.maximum(ndimage.uniform_filter(terrain ** 2, side) - ndimage.uniform_filter(terrain, side) ** 2,
                                0))
    score = ndimage.uniform_filter(np.asarray(valid, dtype=np.float64), side) * (1 + spread)
    r, c = np.unravel_index(int(np.argmax(score)), score.shape)

    def span(centre: int, n: int) -> slice:
        start = min(max(0, centre * step - size // 2), max(0, n - size))
        return slice(start, min(n, start + size))

    return span(r, shape[0]), span(c, shape[1])


def fine_panel(path: Path, lat, lon, title: str, coarse, pred, dem, truth=None, unobserved=None,
               detail: dict | None = None, halfwidth=None, level: float | None = None) -> Path:
    """Fine-scale prediction: the coarse input, the fine prediction and the fine DEM side by side,
    then the truth and the error when the fine truth is known (synthetic; ``unobserved``: the truth's
    gap-filled pixels, shaded). ``detail``: the same maps over a crop at full resolution (``lat``,
    ``lon``, ``rows``, ``cols`` and the fields by name), drawn as a second row and outlined above.
    ``halfwidth``: a last panel, each pixel's prediction-interval half-width (K; nominal ``level``)."""
    plt = _pyplot()
    rows = [dict(lat=lat, lon=lon, coarse=coarse, pred=pred, dem=dem, truth=truth, unobserved=unobserved,
                 halfwidth=halfwidth)]
    if detail is not None:
        rows.append(detail)
    lo, hi = _lst_range([coarse, pred] + ([truth] if truth is not None else []))
    known = np.isfinite(dem).any()
    elev = (float(np.nanmin(dem)), float(np.nanmax(dem))) if known else (0.0, 1.0)
    n = (5 if truth is not None else 3) + (halfwidth is not None)
    if halfwidth is not None:
        top = 1.2 * float(np.nanpercentile(halfwidth, 99)) if np.isfinite(halfwidth).any() else 1.0
        width_name = f"{100 * level:.0f} % interval half-width (K)" if level else "interval half-width (K)"
    fig, axes = plt.subplots(len(rows), n, figsize=(4.4 * n, 4.6 * len(rows)), squeeze=False)
    for i, row in enumerate(rows):
        extent = _extent(np.asarray(row["lat"]), np.asarray(row["lon"]))
        where = "" if i == 0 else ", full res."
        panels = [(f"coarse input (K){where}", row["coarse"], "inferno", lo, hi, None),
                  (f"fine prediction (K){where}", row["pred"], "inferno", lo, hi, None),
                  (f"fine DEM (m), voids: {VOID_COLOUR}", row["dem"], land_colours(), *elev, None)]
        if truth is not None:
            err = row["pred"] - row["truth"]
            lim = _error_limit(err)
            panels += [(f"fine truth (K){where}", row["truth"], "inferno", lo, hi, None),
                       ("pred. - truth (K), gap-filled: shaded", err, "RdBu_r", -lim, lim,
                        row.get("unobserved"))]
        if halfwidth is not None:
            panels.append((width_name + where, row["halfwidth"], "viridis", 0.0, top, None))
        for ax, (name, field, cmap, vmin, vmax, shaded) in zip(axes[i], panels):
            _panel(ax, fig, name, field, cmap, vmin, vmax, extent, shaded=shaded)
            ax.set_xlabel("lon")
        axes[i][0].set_ylabel("lat")
    if detail is not None:
        _outline(axes[0], detail)
    fig.suptitle(title)
    return _save(fig, path)


def _outline(axes, detail: dict) -> None:
    """The crop's rectangle on the overview panels."""
    lat, lon = np.asarray(detail["lat"]), np.asarray(detail["lon"])
    west, east, south, north = _extent(lat, lon)
    for ax in axes:
        ax.add_patch(patches.Rectangle((west, south), east - west, north - south, fill=False, edgecolor="cyan",
                                       lw=1.2, zorder=3))

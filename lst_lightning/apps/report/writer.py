"""The study report's markdown and summary figures, from the jobs ``report.py`` ran and read back.

Every number comes from ``Job.metrics`` (read back from MLflow). The markdown is written to a
temporary file and renamed into place, so a ``report.md`` is always a complete one.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

from omegaconf import OmegaConf

from lst_lightning.data.io.formats import FRAME_BANDS
from lst_lightning.data.loading.sources import source_of
from lst_lightning.evaluation import plots
from lst_lightning.evaluation.importance import ablation_table
from lst_lightning.evaluation.intervals import paired_difference
from lst_lightning.evaluation.numbers import fmt

T = "test/"


def _f(value, digits: int = 3, sign: bool = False) -> str:
    return fmt(value, digits, sign)  # the report's default: 3 decimals


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(r) + " |" for r in rows), ""]


def _iv(job, key: str, digits: int = 3) -> str:
    """A job's figure; cross-validated: the folds' mean +- the half-width of its 95 % interval."""
    s = job.cv.get(T + key) if job.cv else None
    if s is None:
        return _f(job.metrics.get(T + key), digits)
    return f"{_f(s['mean'], digits)} ± {_f(s['half_width'], digits)}"


ERROR_BARS = "\n(error bars: 95 % interval of the mean over the folds)"


def _half_width(job, key: str) -> float:
    """The half-width of a cross-validated figure's 95 % interval (NaN for a single split)."""
    s = job.cv.get(T + key) if job.cv else None
    return float("nan") if s is None else s["half_width"]


def _img(path: Path, out: Path, alt: str) -> str:
    return f"![{alt}]({path.relative_to(out).as_posix()})"


def _primary(jobs, split: str) -> dict:
    return {j.model: j for j in jobs if j.split == split and j.dropped is None}


def q1(jobs, split: str, networks: list[str], out: Path, shown) -> list[str]:
    lines = ["## Q1: does the network improve on the trivial baseline?", "",
             f"Held-out pixel blocks x held-out dates (`split={split}`). The trivial model predicts 0: "
             "the centre pixel equals the window mean. Oracle floor: the RMSE of the input-visible "
             "physics of the synthetic generator (no model can beat it; n/a on real data); explained "
             "fraction: the share of the trivial-to-floor MSE gap the model closes.", ""]
    rows = []
    for name in networks:
        m = jobs[name].metrics
        gain = m[T + "trivial_rmse_k"] - m[T + "rmse_k"]
        job = jobs[name]
        rows.append([name, _iv(job, "rmse_k"), _iv(job, "trivial_rmse_k"), _f(gain, sign=True),
                     _iv(job, "rmse_improvement_pct", 1), _iv(job, "mse_improvement_pct", 1),
                     _f(m.get(T + "floor_rmse_k")), _f(m.get(T + "explained_fraction"), 2),
                     f"{int(m[T + 'n_samples']):,}"])
    lines += _table(["model", "RMSE (K)", "trivial RMSE (K)", "improvement (K)", "RMSE improvement (%)",
                     "MSE improvement (%)", "oracle floor (K)", "explained fraction", "test samples"], rows)
    if shown is not None:
        m = shown.metrics
        lines += [f"**Answer**: the {shown.model} reaches {_f(m[T + 'rmse_k'])} K against "
                  f"{_f(m[T + 'trivial_rmse_k'])} K for the trivial baseline: "
                  f"{_f(m[T + 'rmse_improvement_pct'], 1)} % lower RMSE, {_f(m[T + 'mse_improvement_pct'], 1)} % "
                  "lower MSE, on pixels and dates it never saw.", ""]
        order = ("pred_vs_true", "error_map", "residual_vs_elevation", "rmse_by_month", "learning_curves")
        figs = [out / "figures" / "evaluation" / f"{n}.png" for n in order]
        figs = [p for p in figs if p.is_file()]
        lines += [f"Evaluation of the {shown.model} on the test set:", ""]
        lines += [_img(p, out, p.stem.replace("_", " ")) for p in figs] + [""]
    return lines


def q2(jobs, split: str, out: Path) -> list[str]:
    order = sorted(jobs.values(), key=lambda j: j.metrics[T + "rmse_k"])
    trivial = order[0].metrics[T + "trivial_rmse_k"]
    fig = plots.bars({"test RMSE (K)": {j.model: j.metrics[T + "rmse_k"] for j in order}},
                     out / "figures" / "models.png", "test RMSE (K)",
                     f"all models, split={split}" + (ERROR_BARS if order[0].cv else ""),
                     reference=("trivial (0)", trivial),
                     errors={"test RMSE (K)": {j.model: _half_width(j, "rmse_k") for j in order}})
    rows = [[j.model, _iv(j, "rmse_k"), _iv(j, "rmse_improvement_pct", 1),
             _iv(j, "mse_improvement_pct", 1), _f(j.metrics.get(T + "bias_k"), sign=True),
             _f(j.metrics.get(T + "explained_fraction"), 2), _f(j.metrics.get(T + "all_rmse_k")),
             f"{j.seconds:.0f}"] for j in order]
    return ["## Q2: how do the models compare?", "",
            f"Every model on the same samples (`split={split}`, trivial RMSE {_f(trivial)} K for all). "
            "ridge: DisTrad-style linear regression per band x season; lightgbm: gradient-boosted trees on "
            "the same features; coarse: label-free, the coarse-scale LST-elevation relation of each frame "
            "applied at 1 km (what the 1 km labels add is the gap to it).", "",
            *_table(["model", "RMSE (K)", "RMSE improvement (%)", "MSE improvement (%)", "bias (K)",
                     "explained fraction", "RMSE incl. gap-filled (K)", "run time (s)"], rows),
            _answer_q2(order), "", *_by_band(order), _img(fig, out, "model comparison"), ""]


def _by_band(order) -> list[str]:
    """Q2 per band: day and night behave differently, a pooled figure can hide it."""
    bands = sorted({k.split("/")[2] for j in order for k in j.metrics if k.startswith(T + "band/")})
    if not bands:
        return []
    rows = [[j.model, *(cell for b in bands for cell in (_iv(j, f"band/{b}/rmse_k"), _iv(j, f"band/{b}/trivial_rmse_k"),
                                                         _iv(j, f"band/{b}/mse_improvement_pct", 1)))]
            for j in order]
    header = ["model", *(h for b in bands for h in (f"{b} RMSE (K)", f"{b} trivial (K)", f"{b} MSE improvement (%)"))]
    return ["Per band:", "", *_table(header, rows)]


def _answer_q2(order) -> str:
    best = order[0]
    nets = [j for j in order if not j.is_baseline]
    base = [j for j in order if j.is_baseline and j.model != "trivial"]
    text = f"**Answer**: the best model is {best.model} ({_f(best.metrics[T + 'rmse_k'])} K)."
    if nets and base:
        n, b = nets[0], base[0]
        diff = b.metrics[T + "rmse_k"] - n.metrics[T + "rmse_k"]
        text += (f" The best network ({n.model}) is {_f(abs(diff))} K {'better' if diff > 0 else 'worse'} "
                 f"than the best baseline ({b.model}).")
    if best.cv and len(order) > 1:
        text += " " + _paired(best, order[1])
        if nets and base and {nets[0].key, base[0].key} != {best.key, order[1].key}:
            text += " " + _paired(*sorted((nets[0], base[0]), key=lambda j: j.metrics[T + "rmse_k"]))
    return text


def _paired(better, other) -> str:
    """Whether ``better``'s lead over ``other`` exceeds the spread of their per-fold differences."""
    d = paired_difference(other.cv[T + "rmse_k"]["folds"], better.cv[T + "rmse_k"]["folds"])
    verdict = ("exceeds the folds' spread: a real lead" if d["differs"] else
               "is within the folds' spread: no verdict from these folds")
    return (f"Paired over the same {d['n']} folds, {better.model} leads {other.model} by {_f(d['mean'])} K "
            f"(95 % interval {_f(d['low'])} .. {_f(d['high'])} K), which {verdict}.")


def q3(jobs_all, split: str, out: Path) -> list[str]:
    primary = _primary(jobs_all, split)
    perm = {m: v for m, v in ((m, _importance(j.metrics)) for m, j in primary.items()) if v}
    bands = {m: [b for b in FRAME_BANDS if _importance(primary[m].metrics, f"band/{b}/")] for m in perm}
    ablated = [j for j in jobs_all if j.dropped]
    ablation = {}
    if ablated:
        model = ablated[0].model
        ablation = {model: ablation_table(primary[model].metrics, {j.dropped: j.metrics for j in ablated})}
    if not perm and not ablation:
        return q3_skipped()
    lines = ["## Q3: which inputs matter?", "",
             "Permutation: the test RMSE increase (K) when one feature group is shuffled across test samples "
             "of the same band (the trained model kept), pooled and per band. Ablation: the test RMSE increase "
             "when the model is retrained without the group (`features.groups` without it). A group the model "
             "can replace with others matters little in the ablation even when the trained model leans on it.",
             ""]
    groups = list(dict.fromkeys(g for v in perm.values() for g in v))
    groups += [g for v in ablation.values() for g in v if g not in groups]
    def perm_half_width(model: str, group: str, prefix: str = "") -> float:
        m = primary[model].metrics
        value = m.get(f"importance/{group}/{prefix}rmse_increase_k")
        high = m.get(f"importance/{group}/{prefix}rmse_increase_k/high")  # cross-validated: the folds' interval
        return float("nan") if high is None or value is None else high - value

    def perm_cell(model: str, group: str, prefix: str = "") -> str:
        cell = _f(primary[model].metrics.get(f"importance/{group}/{prefix}rmse_increase_k"), 3, sign=True)
        hw = perm_half_width(model, group, prefix)
        return cell if math.isnan(hw) else f"{cell} ± {_f(hw, 3)}"

    rows = [[g, *(perm_cell(m, g, p) for m in perm for p in ("", *(f"band/{b}/" for b in bands[m]))),
             *(_f(ablation[m][g]["rmse_increase_k"], 3, sign=True) if g in ablation[m] else "n/a" for m in ablation)]
            for g in groups]
    header = ["group", *(f"permutation: {m}{', ' + p if p else ''} (K)" for m in perm for p in ("", *bands[m])),
              *(f"ablation: {m} (K)" for m in ablation)]
    lines += _table(header, rows)
    for label, values in (("permutation", perm), ("ablation", {m: {g: r["rmse_increase_k"] for g, r in t.items()}
                                                                for m, t in ablation.items()})):
        for model, row in values.items():
            top = max(row, key=row.get)
            lines.append(f"- {label}, {model}: most important group `{top}` (+{_f(row[top])} K)")
    lines.append("")
    if perm or ablation:
        fig = plots.importance_bars(perm, {m: {g: r["rmse_increase_k"] for g, r in t.items()}
                                           for m, t in ablation.items()}, out / "figures" / "importance.png",
                                    {m: {g: perm_half_width(m, g) for g in v} for m, v in perm.items()})
        lines += [_img(fig, out, "feature importance"), ""]
    return lines


def _importance(metrics: dict, prefix: str = "") -> dict[str, float]:
    """{group: RMSE increase (K)} of a run's permutation importance (``prefix`` "band/<b>/": in one band)."""
    out = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if parts[0] == "importance" and key == f"importance/{parts[1]}/{prefix}rmse_increase_k":
            out[parts[1]] = value
    return out


def q3_skipped() -> list[str]:
    """Q3 when the report measured neither permutation importance nor an ablation: no empty table."""
    return ["## Q3: which inputs matter?", "",
            "**Skipped**: this report measured no permutation importance (`--importance-models none`, or none of "
            "them among `--models`) and no ablation (`--ablation-model none`, or not among `--models`). To answer "
            "Q3, run `lst-report` with `--importance-models gated,lightgbm` (the trained models' test RMSE with "
            "each feature group shuffled: minutes) and/or `--ablation-model gated` (retrained without each "
            "feature group: one run per group), each model also among `--models`.", ""]


def data_line(cfg) -> str:
    """The archive the report ran on, from the composed config: its kind, files, bands and hours."""
    return f"Data: `{source_of(OmegaConf.to_container(cfg.data, resolve=True)).describe()}`."


def split_contrast(jobs_all, splits: list[str], out: Path) -> list[str]:
    honest, leaky = splits[0], splits[1:]
    by_split = {s: _primary(jobs_all, s) for s in splits}
    lines = ["## Split contrast: how much a leaky split flatters each model", "",
             f"The same models under `split={honest}` (honest) and " + ", ".join(f"`split={s}`" for s in leaky)
             + ". Random samples share dates and overlapping windows with the training data. The test sets "
             "differ (so do their trivial RMSEs): compare the improvement over trivial; the flattering is how "
             "many percentage points more improvement the leaky split reports.", ""]
    rows = []
    for model, job in by_split[honest].items():
        row = [model, _f(job.metrics[T + "rmse_k"]), _f(job.metrics[T + "rmse_improvement_pct"], 1)]
        for s in leaky:
            other = by_split[s].get(model)
            if other is None:
                row += ["n/a"] * 3
                continue
            i_h, i_l = job.metrics[T + "rmse_improvement_pct"], other.metrics[T + "rmse_improvement_pct"]
            row += [_f(other.metrics[T + "rmse_k"]), _f(i_l, 1), _f(i_l - i_h, 1, sign=True)]
        rows.append(row)
    header = ["model", f"{honest} RMSE (K)", f"{honest} improvement (%)"]
    for s in leaky:
        header += [f"{s} RMSE (K)", f"{s} improvement (%)", "flattered by (points)"]
    lines += _table(header, rows)
    for s in leaky:
        gaps = [by_split[s][m].metrics[T + "rmse_improvement_pct"] - j.metrics[T + "rmse_improvement_pct"]
                for m, j in by_split[honest].items() if m in by_split[s] and m != "trivial"]
        if gaps:
            lines += [f"**Answer**: `split={s}` reports on average {_f(sum(gaps) / len(gaps), 1, sign=True)} "
                      f"percentage points of RMSE improvement over `split={honest}` (range "
                      f"{_f(min(gaps), 1, sign=True)} to {_f(max(gaps), 1, sign=True)}).", ""]
    fig = plots.bars({s: {m: j.metrics[T + "rmse_k"] for m, j in by_split[s].items()} for s in splits},
                     out / "figures" / "split_contrast.png", "test RMSE (K)",
                     "honest vs leaky split" + (ERROR_BARS if any(j.cv for j in by_split[honest].values()) else ""),
                     errors={s: {m: _half_width(j, "rmse_k") for m, j in by_split[s].items()} for s in splits})
    return lines + [_img(fig, out, "split contrast"), ""]


def runs_section(jobs_all) -> list[str]:
    rows = [[j.key, f"`{j.results.get('mlflow_run_id')}`", f"{j.seconds:.0f}"] for j in jobs_all]
    return ["## Runs", "", *_table(["run", "MLflow run id", "time (s)"], rows)]


def write_report(out: Path, name: str, jobs_all, base: list[str], splits: list[str], shown, seconds: float) -> Path:
    honest = _primary(jobs_all, splits[0])
    networks = [m for m, j in honest.items() if not j.is_baseline]
    folds = jobs_all[0].results.get("folds")
    first = jobs_all[0].results["per_fold"][0] if folds else jobs_all[0].results
    cv_note = (f" Every run is a {folds}-fold cross-validation over spatial blocks x dates: each figure is the "
               "mean over the folds ± the half-width of its 95 % t interval; samples below are fold 0's."
               if folds else "")
    head = [f"# Study report: {name}", "",
            f"Generated {dt.datetime.now():%Y-%m-%d %H:%M} by `lst-report {' '.join(base)}` in {seconds / 60:.1f} "
            f"minutes ({len(jobs_all)} training runs).{cv_note} Data cache: `{first.get('cache')}`; samples "
            f"train/val/test under `{splits[0]}`: {int(first['split/train_samples']):,} / "
            f"{int(first['split/val_samples']):,} / {int(first['split/test_samples']):,}. Inputs (feature groups): "
            f"{', '.join(f'`{g}`' for g in jobs_all[0].cfg.features.groups)}. Metrics in K on really "
            "observed centre pixels; every number is read back from the MLflow runs listed at the end.", "",
            data_line(jobs_all[0].cfg), ""]
    body = head + (q1(honest, splits[0], networks, out, shown) if networks else [])
    body += q2(honest, splits[0], out) + q3(jobs_all, splits[0], out)
    if len(splits) > 1:
        body += split_contrast(jobs_all, splits, out)
    body += runs_section(jobs_all)
    summary = {j.key: {"metrics": j.metrics, "seconds": j.seconds, "mlflow_run_id": j.results.get("mlflow_run_id")}
               for j in jobs_all}
    (out / "summary.json").write_text(json.dumps({"name": name, "seconds": seconds, "runs": summary}, indent=2))
    path = out / "report.md"
    tmp = out / ".report.md.tmp"
    tmp.write_text("\n".join(body) + "\n")
    tmp.replace(path)
    return path

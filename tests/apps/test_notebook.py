"""notebooks/analysis.ipynb runs top to bottom on a store with real runs, so it cannot rot."""
from __future__ import annotations

import pytest
from omegaconf import open_dict

from tests.common import REPO, compose_cfg

pytestmark = pytest.mark.e2e  # executes the notebook in a kernel

NOTEBOOK = REPO / "notebooks" / "analysis.ipynb"


def test_analysis_notebook_executes_and_compares_the_runs(tmp_path, monkeypatch):
    """Two models on one archive and a third run on another: the "which model is best" table ranks
    runs within an archive and test set only, and labels runs shortly (model and run id)."""
    import nbclient
    import nbformat

    from lst_lightning.training.run import run_training

    for name, model, extra in (("mlp", "mlp", ["trainer.max_epochs=2"]),
                               ("ridge", "ridge", ["model.train_samples=4000"]),
                               ("other", "mlp", ["trainer.max_epochs=1", "data.synthetic.day_step=15"])):
        cfg = compose_cfg(["debug=tiny", "logger=mlflow", f"model={model}", f"run_name=nb-{name}", *extra],
                          tmp_path / name)
        with open_dict(cfg):
            cfg.paths.data_dir = str(tmp_path / "data")
            cfg.paths.log_dir = str(tmp_path / "logs")
        run_training(cfg)

    monkeypatch.setenv("LST_TRACKING_URI", f"sqlite:///{tmp_path}/logs/mlflow.db")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "3 finished runs" in text
    best = nb.cells[5].outputs[0]["data"]["text/plain"]
    rows = [line.split() for line in best.splitlines()[1:]]
    assert len(rows) == 3 and len({r[1] for r in rows}) == 2  # mlp on each archive, ridge on the first
    assert sorted(r[4] for r in rows) == ["mlp", "mlp", "ridge"]
    assert all(r[1].startswith("lst-k9-") for r in rows)
    assert "nb-mlp" not in text and "mlp " in text  # labels: the model and the run id, not the overrides
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # comparison + learning curves

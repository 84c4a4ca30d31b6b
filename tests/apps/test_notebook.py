"""notebooks/analysis.ipynb runs top to bottom on a store with real runs, so it cannot rot."""
from __future__ import annotations

import pytest
from omegaconf import open_dict

from tests.common import REPO, compose_cfg

pytestmark = pytest.mark.e2e  # executes the notebook in a kernel

NOTEBOOK = REPO / "notebooks" / "analysis.ipynb"


def test_analysis_notebook_executes_and_compares_the_runs(tmp_path, monkeypatch):
    import nbclient
    import nbformat

    from lst_lightning.training.run import run_training

    for model, extra in (("mlp", ["trainer.max_epochs=2"]), ("ridge", ["model.train_samples=4000"])):
        cfg = compose_cfg(["debug=tiny", "logger=mlflow", f"model={model}", f"run_name=nb-{model}", *extra],
                          tmp_path / model)
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
    assert "2 finished runs" in text
    assert "nb-mlp" in text and "nb-ridge" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # comparison + learning curves

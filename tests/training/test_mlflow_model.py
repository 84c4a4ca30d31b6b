"""A tracked run's model is an MLflow Model: ``mlflow.pyfunc.load_model("runs:/<id>/model")`` predicts
a table of raw features as the run's own predictor does, for a network and the baselines; its
signature names the columns; a missing column is one clear error naming it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

MODELS = ("mlp", "ridge", "lightgbm", "coarse")  # tiny runs shared through tests/conftest.py
CONTEXT = {"mlp": [], "ridge": ["band", "month"], "lightgbm": [], "coarse": ["date", "band"]}


@pytest.fixture(scope="module")
def tracked(tiny_runs):
    """One MLflow-tracked tiny run per model, on one archive and one store: uri, {model: (out, results)}."""
    return tiny_runs.uri, {name: tiny_runs[name] for name in MODELS}


@pytest.fixture(scope="module")
def test_set(tracked):
    """The gathered test batch of the runs (one split, one archive) and the data module that gave it."""
    from lst_lightning.apps.runs import open_run
    from lst_lightning.evaluation.predictions import gather_all

    run = open_run(str(tracked[1]["mlp"][0]), tracked[0], Path("unused"))
    return run.dm, gather_all(run.dm.gatherer, run.dm.eval_index("test"), run.dm.eval_batch_size)


def load(uri: str, run_id: str):
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow.pyfunc.load_model(f"runs:/{run_id}/model")


def test_the_model_is_a_logged_model_of_its_run(tracked):
    """MLflow 3 lists a run's models from its logged models (the run page's "Logged models")."""
    import mlflow

    uri, runs = tracked
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(runs["mlp"][1]["mlflow_run_id"])
    (output,) = run.outputs.model_outputs
    model = client.get_logged_model(output.model_id)
    assert (model.name, model.source_run_id, str(model.status)) == ("model", run.info.run_id, "READY")
    files = {a.path for a in client.list_logged_model_artifacts(model.model_id)}
    assert {"MLmodel", "artifacts"} <= files


@pytest.mark.parametrize("name", list(MODELS))
def test_pyfunc_model_predicts_as_the_run_does(tracked, test_set, name):
    from lst_lightning.apps.runs import model_predictor
    from lst_lightning.evaluation.predictions import predict_batched
    from lst_lightning.training.mlflow_model import feature_table

    uri, runs = tracked
    out, results = runs[name]
    dm, batch = test_set
    predict, _ = model_predictor(results["best_checkpoint"], dm.gatherer)
    expected = predict_batched(predict, batch, dm.eval_batch_size)
    model = load(uri, results["mlflow_run_id"])
    table = feature_table(batch, dm.gatherer)[model.metadata.get_input_schema().input_names()]
    got = np.asarray(model.predict(table), dtype=np.float64)
    assert got.shape == expected.shape == (batch["target"].shape[0],)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    if name != "mlp":  # a baseline's prediction is numpy on the same float32 inputs: exact
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", list(MODELS))
def test_signature_names_the_columns(tracked, name):
    from lst_lightning.features import ORIGINAL_GROUPS, FeatureLayout
    from lst_lightning.training.mlflow_model import feature_columns

    uri, runs = tracked
    signature = load(uri, runs[name][1]["mlflow_run_id"]).metadata.signature
    # the default features on the synthetic archive: the original ones, the context, NDVI
    features = feature_columns(FeatureLayout(k=9, groups=ORIGINAL_GROUPS + ("context", "ndvi")))
    assert features[:8] == ["lst_mean", "elev_mean", "doy_sin", "doy_cos", "tod_sin", "tod_cos", "lat", "lon"]
    assert features[8] == "ctx_lst_n" and features[24] == "ctx_lapse"
    assert features[25] == "elev_diff_0_0" and features[-1] == "ndvi_8_8" and len(features) == 8 + 17 + 2 * 81
    assert signature.inputs.input_names() == features + CONTEXT[name]
    assert {s.name: s.type.name for s in signature.inputs.inputs}["elev_diff_4_4"] == "double"
    assert signature.outputs.input_names() == ["lst_anomaly_k"]


@pytest.mark.parametrize("name, column", [("mlp", "elev_diff_4_4"), ("ridge", "band"), ("coarse", "date")])
def test_missing_column_is_a_clear_error(tracked, test_set, name, column):
    from mlflow.exceptions import MlflowException

    from lst_lightning.errors import LSTError
    from lst_lightning.training.mlflow_model import feature_table, table_model

    uri, runs = tracked
    model = load(uri, runs[name][1]["mlflow_run_id"])
    dm, batch = test_set
    columns = model.metadata.get_input_schema().input_names()
    table = feature_table(batch, dm.gatherer)[columns].head(10).drop(columns=column)
    # MLflow checks the signature first: its message (the table and schema, then the verdict) ends naming it
    with pytest.raises(MlflowException) as err:
        model.predict(table)
    assert str(err.value).endswith(f"Error: Model is missing inputs ['{column}'].")
    # the same model without MLflow's check (table_model, what the pyfunc runs): one line naming it
    with pytest.raises(LSTError, match=rf"^the model's input table lacks column\(s\) {column} "
                                       rf"\(it needs {len(columns)} columns; see the model's signature\)$"):
        table_model(runs[name][1]["best_checkpoint"], dm.gatherer.cache.meta["frames"]).predict(table)


def test_coarse_model_needs_a_frame_of_the_archive(tracked, test_set):
    from lst_lightning.errors import LSTError
    from lst_lightning.training.mlflow_model import feature_table

    uri, runs = tracked
    model = load(uri, runs["coarse"][1]["mlflow_run_id"])
    dm, batch = test_set
    table = feature_table(batch, dm.gatherer)[model.metadata.get_input_schema().input_names()].head(3)
    table["date"] = "1999-12-31"
    with pytest.raises(LSTError, match=r"\('1999-12-31', '(day|night)'\).*only for those frames"):
        model.predict(table)


def test_run_id_opens_the_model_inside_the_mlflow_model(tracked, tmp_path):
    from lst_lightning.apps.runs import locate_run

    uri, runs = tracked
    for name in ("mlp", "ridge"):
        out, results = runs[name]
        _, model_file, run_id = locate_run(results["mlflow_run_id"], uri, tmp_path / name)
        assert run_id == results["mlflow_run_id"] and model_file.is_relative_to(tmp_path / name)
        assert model_file.read_bytes() == Path(results["best_checkpoint"]).read_bytes()

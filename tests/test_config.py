"""Every config group option composes, and the pieces it names instantiate."""
from __future__ import annotations

import itertools

import pytest
from omegaconf import OmegaConf

from tests.common import CONF, compose_cfg

GROUPS = {g.name: sorted(p.stem for p in g.glob("*.yaml")) for g in CONF.iterdir()
          if g.is_dir() and g.name not in ("hydra",)}


def test_groups_exist():
    for group in ("data", "features", "scaling", "model", "split", "trainer", "logger", "callbacks", "paths",
                  "experiment", "debug"):
        assert GROUPS.get(group), f"config group {group} has no options"


@pytest.mark.parametrize("group,option", [(g, o) for g, opts in GROUPS.items() for o in opts
                                          if g != "hparams_search"])
def test_each_option_composes_and_resolves(group, option, tmp_path):
    cfg = compose_cfg([f"{group}={option}"], tmp_path)
    if group == "data" and option in ("israel", "custom"):
        assert OmegaConf.is_missing(cfg.data, "lst_dir")
        return
    if group == "data" and option == "multi":  # the archives must be named
        assert OmegaConf.is_missing(cfg.data, "archives")
        return
    if group == "split" and option == "given":  # a plan written by splits.save_plan must be named
        assert OmegaConf.is_missing(cfg.split, "plan_file")
        return
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


# networks only: the baselines (model=ridge, lightgbm, coarse, trivial) have no net (tests/models/test_baselines.py)
NETWORKS = [m for m in GROUPS["model"] if "baseline" not in OmegaConf.load(CONF / "model" / f"{m}.yaml")]


@pytest.mark.parametrize("model,split,features", list(itertools.product(
    NETWORKS, GROUPS["split"], [f for f in GROUPS["features"] if not f.startswith("no_")])))
def test_model_split_feature_combinations_instantiate(model, split, features, tmp_path):
    import torch

    from lst_lightning.data.loading.splits import make_split
    from lst_lightning.features import FeatureLayout
    from lst_lightning.training.run import build_module

    cfg = compose_cfg([f"model={model}", f"split={split}", f"features={features}"], tmp_path)
    layout = FeatureLayout(k=9, groups=tuple(cfg.features.groups))
    module = build_module(cfg, layout)
    out = module.net(torch.zeros(4, layout.n_scalars), torch.zeros(4, layout.n_channels, 9, 9))
    assert out.shape == (4,)
    frames = [{"date": f"2020-01-{d:02d}", "band": b, "hour": 1.5, "n_windows": 5}
              for d in range(1, 31) for b in ("night", "day")]
    if split == "sites":  # one archive of several held out: planned by data/multi.py (tests/data/test_multi.py)
        assert cfg.split.kind == "sites" and cfg.split.keep_latlon is False
        return
    if split == "given":  # the parts of another split, saved
        from lst_lightning.data.loading.splits import PARTS, save_plan

        other = make_split(frames, (120, 120), 9, kind="space_days")
        save_plan(tmp_path / "plan.npz", {p: [frames[i]["date"] for i in other[p].frames] for p in PARTS},
                  {p: other[p].pixel_mask for p in PARTS})
        cfg.split.plan_file = str(tmp_path / "plan.npz")
    split_cfg = OmegaConf.to_container(cfg.split, resolve=True)
    plan = make_split(frames, (120, 120), 9, kind=split_cfg["kind"], days=split_cfg.get("days"),
                      space=split_cfg.get("space"), fractions=tuple(split_cfg.get("fractions", (0.15, 0.15))),
                      plan_file=split_cfg.get("plan_file"))
    assert plan.kind == split


@pytest.mark.parametrize("trainer", GROUPS["trainer"])
@pytest.mark.parametrize("logger", GROUPS["logger"])
def test_trainer_and_logger_options_instantiate(trainer, logger, tmp_path):
    from lst_lightning.training.run import build_trainer
    from lst_lightning.training.tracking import build_loggers

    cfg = compose_cfg([f"trainer={trainer}", f"logger={logger}"], tmp_path)
    if trainer == "gpu":
        import torch

        if not torch.cuda.is_available():
            assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == "bf16-mixed"
            return
    loggers = build_loggers(cfg, "test")
    trainer_obj = build_trainer(cfg, loggers, [])
    # fast_dev_run overrides the epoch count: Lightning runs exactly one batch and one epoch.
    expected = 1 if cfg.trainer.get("fast_dev_run") else cfg.trainer.max_epochs
    assert trainer_obj.max_epochs == expected


def test_experiment_and_debug_overrides_apply(tmp_path):
    cfg = compose_cfg(["debug=tiny"], tmp_path)
    assert list(cfg.data.synthetic.shape) == [96, 80] and cfg.logger == {}
    cfg = compose_cfg(["experiment=quick"], tmp_path)
    assert cfg.data.synthetic.day_step == 3


def test_the_large_archive_recipe_is_the_gated_network_with_the_physics_inputs(tmp_path):
    """experiment=large_archive: what won on the real year (docs/research.md); a baseline named
    with it gets the same inputs, so that comparisons are paired on the same inputs."""
    cfg = compose_cfg(["experiment=large_archive"], tmp_path)
    assert cfg.model.net._target_.endswith("GatedMLP") and cfg.data.loader.batch_size == 2048
    assert {"illumination", "illum_diff", "position", "water"} <= set(cfg.features.groups)
    assert "local_fit" in cfg.features.when_available  # with NDVI: the coarse field's local regression
    trees = compose_cfg(["experiment=large_archive", "model=lightgbm"], tmp_path)
    assert list(trees.features.groups) == list(cfg.features.groups) and trees.model.baseline is not None


def test_original_recipe_is_the_original_project(tmp_path):
    from lst_lightning.data.loading.scaling import scaling_methods
    from lst_lightning.targets import build
    from lst_lightning.training.schedules import Schedule

    cfg = compose_cfg(["experiment=original_recipe"], tmp_path)
    assert list(cfg.data.bands) == ["day"] and cfg.data.loader.batch_size == 128
    net = cfg.model.net
    assert list(net.hidden) == [1024, 512, 256, 128] and net.batch_norm and net.dropout == 0.2
    assert (cfg.model.optimizer._target_, cfg.model.optimizer.lr) == ("torch.optim.Adam", 1e-3)
    methods = scaling_methods(cfg.features.groups, cfg.scaling.methods, cfg.scaling.default)
    assert methods["elev_diff"] == "normalize" and methods["latlon"] == "normalize"
    factor = build(dict(cfg.model.scheduler), "model.scheduler", Schedule).factor(cfg.trainer.max_epochs)
    # five epochs at 1e-3, then divided by 2^0.1 at every epoch
    expected = [1.0] * 5 + [2.0 ** (-0.1 * n) for n in range(1, 16)]
    assert [factor(e) for e in range(20)] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("data, expected_extra", [
    (["data=synthetic"], ["ndvi"]),  # the synthetic archive always has NDVI
    (["data=custom", "data.lst_dir=x", "data.dem=d.tif"], []),
    (["data=custom", "data.lst_dir=x", "data.dem=d.tif", "data.landcover=lc.tif"], ["landcover"]),
    (["data=custom", "data.lst_dir=x", "data.dem=d.tif", "data.ndvi=n.tif", "data.landcover=lc.tif"],
     ["ndvi", "landcover"]),
])
def test_default_features_use_every_input_the_data_provides(data, expected_extra, tmp_path):
    from lst_lightning.features import ORIGINAL_GROUPS
    from lst_lightning.training.run import resolve_features

    cfg = resolve_features(compose_cfg(data, tmp_path))
    assert cfg.features.groups == [*ORIGINAL_GROUPS, "context", *expected_extra]
    assert list(resolve_features(cfg).features.groups) == list(cfg.features.groups)  # idempotent
    original = resolve_features(compose_cfg([*data, "features=original"], tmp_path))
    assert tuple(original.features.groups) == ORIGINAL_GROUPS


def test_when_available_accepts_only_optional_inputs(tmp_path):
    from lst_lightning.errors import LSTError
    from lst_lightning.training.run import resolve_features

    with pytest.raises(LSTError, match=r"features.when_available: \['doy'\] are not optional inputs"):
        resolve_features(compose_cfg(["features.when_available=[doy]"], tmp_path))


def test_a_misspelt_group_option_is_one_line_listing_the_options():
    from lst_lightning.config import check_choices
    from lst_lightning.errors import LSTError

    with pytest.raises(LSTError, match=r"^model=gatd: no such option of 'model'; choose from cnn, coarse, gated, "):
        check_choices(["model=gatd"])
    with pytest.raises(LSTError, match=r"^model/scheduler=step: .*choose from cosine, exponential, none$"):
        check_choices(["model/scheduler=step"])
    with pytest.raises(LSTError, match=r"^model=cnnn: "):  # a sweep list, value by value
        check_choices(["model=mlp,cnnn"])
    check_choices(["model=mlp,cnn", "model.optimizer.lr=0.1", "+trainer.x=1", "model=choice(mlp,cnn)", "-m"])


def test_a_misspelt_component_name_is_one_line_listing_the_valid_ones(tmp_path):
    from lst_lightning.errors import LSTError
    from lst_lightning.training.run import check_settings

    cases = {"model.baseline._target_=lst_lightning.models.baselines.Ridgee": r"model.baseline._target_: "
             r"unknown 'lst_lightning.models.baselines.Ridgee'; choose from .*Coarse, .*LightGBM, .*Ridge, .*Trivial$",
             "model.net._target_=lst_lightning.models.mlp.MLPP": r"model.net._target_: unknown .*; choose from "
             r"lst_lightning.models.cnn.CNN, lst_lightning.models.gated.GatedMLP, lst_lightning.models.mlp.MLP$",
             "model.optimizer._target_=torch.optim.Adamm": r"model.optimizer._target_: unknown .*torch.optim.AdamW",
             "model.scheduler._target_=x.Step": r"model.scheduler._target_: unknown 'x.Step'; choose from .*Constant",
             "+model.net.hiden=[4]": r"model.net \(GatedMLP\): got an unexpected keyword argument 'hiden'"}
    for override, message in cases.items():
        model = ["model=ridge"] if "baseline" in override else []
        with pytest.raises(LSTError, match=message):
            check_settings(compose_cfg([*model, override], tmp_path))

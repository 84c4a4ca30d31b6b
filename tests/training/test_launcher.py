"""The SLURM launcher config composes into the submitit plugin's launcher with one GPU per job."""

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import get_class

from tests.common import CONF


def test_slurm_launcher_composes_with_an_optuna_sweep():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", return_hydra_config=True,
                      overrides=["hparams_search=mlp_optuna", "hydra/launcher=slurm", "trainer=gpu",
                                 "hydra.launcher.partition=gpu", "hydra.sweeper.n_jobs=4"])
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert get_class(launcher._target_).__name__ == "SlurmLauncher"  # the plugin is installed
    assert (launcher.gpus_per_node, launcher.tasks_per_node, launcher.partition) == (1, 1, "gpu")
    assert cfg.hydra.sweeper.n_jobs == 4 and cfg.trainer.devices == 1

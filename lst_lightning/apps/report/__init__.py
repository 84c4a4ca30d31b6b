"""lst-report: the study's jobs and the markdown writer; here, the study's default design (the
command line's defaults, shared by ``apps/study_cli.py`` and ``jobs.py``)."""

# the default network first (model=gated), then the original recipe's MLP, the CNN and the baselines
MODELS = ("gated", "mlp", "cnn", "ridge", "lightgbm", "coarse", "trivial")
SPLITS = ("space_days", "random")
IMPORTANCE_MODELS = ("gated", "ridge", "lightgbm")
ABLATION_MODEL = "gated"  # the model retrained without each feature group

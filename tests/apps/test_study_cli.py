"""The study apps' command lines (lst-report, lst-scale-check, lst-transfer): a list option takes ONE
comma-separated value, so the train.py overrides after it stay overrides; an unknown model or split,
or an override where a name belongs, is one ``error:`` line that says what is valid."""
from __future__ import annotations

import pytest

from lst_lightning.apps.study_cli import _report_parser, _scale_check_parser, _transfer_parser, report_main
from lst_lightning.config import group_options

PARSERS = {"lst-report": _report_parser, "lst-scale-check": _scale_check_parser, "lst-transfer": _transfer_parser}


def refused(parse, argv: list[str], capsys) -> str:
    """The one stderr line of a command line refused with exit code 2."""
    with pytest.raises(SystemExit) as stop:
        parse(argv)
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_the_issue_command_no_longer_runs_on_the_synthetic_archive(capsys):
    """issue 24: the data overrides after --importance-models were taken as model names, and the
    report ran on the default (synthetic) archive without a word."""
    argv = ["--folds", "5", "--importance-models", "lightgbm", "gated", "data=custom", "data.lst_dir=/x/lst"]
    line = refused(_report_parser().parse_args, argv, capsys)
    assert "'gated' is no train.py override" in line and "--models lightgbm,gated" in line


def test_a_comma_separated_list_leaves_the_overrides_to_every_run():
    args = _report_parser().parse_args(["--folds", "5", "--importance-models", "lightgbm,gated", "--splits",
                                        "space_days", "--models", "gated,lightgbm,trivial", "data=custom",
                                        "data.lst_dir=/x/lst", "~callbacks.early_stopping"])
    assert args.importance_models == ["lightgbm", "gated"] and args.models == ["gated", "lightgbm", "trivial"]
    assert args.splits == ["space_days"]
    assert args.overrides == ["data=custom", "data.lst_dir=/x/lst", "~callbacks.early_stopping"]


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_every_study_keeps_its_overrides_after_models(prog, capsys):
    args = PARSERS[prog]().parse_args(["--models", "lightgbm,ridge", "data=custom", "data.dem=/x/dem.tif"])
    assert args.models == ["lightgbm", "ridge"] and args.overrides == ["data=custom", "data.dem=/x/dem.tif"]
    line = refused(PARSERS[prog]().parse_args, ["--models", "lightgbm", "ridge", "data=custom"], capsys)
    assert line.startswith(f"error: {prog}: ") and "'ridge' is no train.py override" in line


@pytest.mark.parametrize("option, value, valid", [
    ("--models", "lightgbm,gatd", "model"), ("--importance-models", "rige", "model"),
    ("--ablation-model", "mpl", "model"), ("--splits", "space_days,rand", "split")])
def test_an_unknown_name_lists_the_valid_ones(option, value, valid, capsys):
    line = refused(_report_parser().parse_args, [option, value], capsys)
    bad = value.split(",")[-1]
    assert f"argument {option}: no {valid} '{bad}'; choose from {', '.join(group_options(valid))}" in line


@pytest.mark.parametrize("option", ["--models", "--importance-models", "--splits"])
def test_an_override_in_a_list_option_says_where_it_goes(option, capsys):
    line = refused(_report_parser().parse_args, [option, "data=custom"], capsys)
    assert f"argument {option}: 'data=custom' is a train.py override" in line
    assert "put the overrides after the options" in line


def test_none_skips_importance_and_ablation():
    args = _report_parser().parse_args(["--importance-models", "none", "--ablation-model", "none"])
    assert args.importance_models == [] and args.ablation_model == []


@pytest.mark.parametrize("argv, needle", [
    (["--models", "lightgbm,ridge", "--importance-models", "gated"],
     "error: --importance-models gated: not among --models (lightgbm,ridge)"),
    (["--models", "lightgbm,ridge", "--ablation-model", "mlp"],
     "error: --ablation-model mlp: not among --models (lightgbm,ridge)"),
    (["--ablation-model", "ridge,lightgbm"], "error: --ablation-model ridge,lightgbm: one model")])
def test_an_analysed_model_must_be_trained(argv, needle, capsys, tmp_path, monkeypatch):
    """Before, a model named for importance or ablation but not trained was dropped without a word."""
    from lst_lightning.apps.report import jobs

    def build_report(*args, **kwargs):
        raise AssertionError("the report started")

    monkeypatch.setattr(jobs, "build_report", build_report)
    line = refused(report_main, [*argv, "--out", str(tmp_path)], capsys)
    assert line.startswith(needle)
    assert list(tmp_path.iterdir()) == []


def test_the_command_a_transfer_report_prints_runs_again(tmp_path):
    """The report's header command, read by today's parser: the same models, the same overrides."""
    import shlex

    from lst_lightning.apps.transfer import write_transfer

    overrides = ["data=multi", "data.archives={a:{lst_dir:/a/lst,dem:/a/dem.tif},b:{lst_dir:/b/lst,dem:/b/dem.tif}}",
                 "data.bands=[day]"]
    result = {"name": "t", "data": "Pool of 2 archives: ...", "models": ["lightgbm", "mlp_small"], "folds": 5,
              "overrides": overrides, "sites": {}}
    text = write_transfer(tmp_path, result).read_text()
    command = next(line for line in text.splitlines() if line.startswith("Command: "))
    argv = shlex.split(command.removeprefix("Command: ").strip("`"))
    args = _transfer_parser().parse_args(argv[1:])
    assert args.models == ["lightgbm", "mlp_small"] and args.overrides == overrides
    assert "\nData: `Pool of 2 archives: ...`.\n" in text

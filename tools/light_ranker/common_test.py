"""What the light-ranker examples share (tools/light_ranker/common.py): the stable default save_dir
(no temporary directory left behind), the start line naming it and the closing lines naming the
run's results."""

import logging
import os
import tempfile

import pytest

from tools.light_ranker import common


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BUILD_WORKING_DIRECTORY", raising=False)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return tmp_path


def test_default_save_dir_is_stable_and_no_temporary_directory_is_left(home):
    for _ in range(2):
        params = common.parse_args(common.get_parser("example", "light_ranker"), [])
        assert params.save_dir == str(home / "home" / "twml_runs" / "light_ranker")
    assert common.parse_args(common.get_parser("mlp", "light_ranker_mlp"), []).save_dir.endswith(
        os.path.join("twml_runs", "light_ranker_mlp")
    )
    # twml's parser makes a temporary directory as its default; the examples do not leave it behind.
    assert os.listdir(home / "tmp") == []
    assert "twml_runs" in common.get_parser("example").format_help()


def test_an_explicit_save_dir_wins(home):
    params = common.parse_args(common.get_parser("example"), ["--save_dir", str(home / "m")])
    assert params.save_dir == str(home / "m")


def test_a_bad_flag_stops_before_the_save_dir_line(home, caplog):
    params = common.parse_args(
        common.get_parser("example"), ["--data_spec", str(home / "missing.json"), "--train.data_dir", str(home)]
    )
    with caplog.at_level(logging.INFO, logger="light_ranker"), pytest.raises(ValueError, match="--data_spec"):
        common.prepare(params)  # the checks come first: a bad flag before the save_dir line
    assert not [r for r in caplog.records if "save_dir" in r.getMessage()]


def test_print_outputs_names_exports_plots_and_predictions(capsys):
    common.print_outputs("/runs/lr", [("export", "/runs/lr/exported_models/17"), ("all modes", "/runs/lr/all/18")])
    assert capsys.readouterr().out.splitlines() == [
        "results in /runs/lr:",
        "  export         /runs/lr/exported_models/17",
        "  all modes      /runs/lr/all/18",
        "  plots          /runs/lr/exported_models/plots/{roc_curve,pr_curve,reliability}.png",
        "  predictions    /runs/lr/exported_models/batch_predictions",
    ]

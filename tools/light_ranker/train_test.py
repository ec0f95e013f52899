"""The light-ranker examples end to end on a small generated dataset: every phase runs and
leaves its artefacts (discretizer module, checkpoints, export, plots, run record)."""

import os
import sqlite3

import pytest

from tools.light_ranker import train, train_mlp

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = [
    "--num_train_records",
    "20000",
    "--train.max_steps",
    "300",
    "--save_checkpoints_steps",
    "100",
    "--auc_tolerance",
    "1.0",
]


@pytest.fixture(autouse=True)
def tracking_db(tmp_path, monkeypatch):
    monkeypatch.setenv("TWML_EXPERIMENT_DB", str(tmp_path / "experiments.sqlite"))
    return str(tmp_path / "experiments.sqlite")


def exported_models(root):
    """SavedModel directories under root (TF-Hub modules, which also hold a saved_model.pb, excluded)."""
    return [
        dirpath for dirpath, _, files in os.walk(root) if "saved_model.pb" in files and "tfhub_module.pb" not in files
    ]


def test_logistic_regression_example(tmp_path, tracking_db, capsys):
    save_dir = str(tmp_path / "lr")
    assert train.main(SMALL + ["--save_dir", save_dir, "--data_cache_dir", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "batch prediction on 20000 held-out records" in out and "ROC-AUC" in out
    assert os.path.exists(os.path.join(save_dir, "discretizer", "tfhub_module.pb"))
    assert os.path.exists(os.path.join(save_dir, "_SUCCESS"))
    (export,) = exported_models(os.path.join(save_dir, "exported_models"))
    assert os.path.exists(os.path.join(export, "feature_spec.yaml"))
    (all_modes,) = exported_models(os.path.join(save_dir, "all_modes"))
    assert os.path.exists(os.path.join(all_modes, "feature_spec.yaml"))
    for name in ("roc_curve.png", "pr_curve.png", "reliability.png"):
        with open(os.path.join(os.path.dirname(export), "plots", name), "rb") as png:
            assert png.read(8) == PNG_MAGIC
    # The held-out AUC beats chance clearly even after 300 steps; the run and its metrics are recorded.
    auc = float(next(line.split()[1] for line in out.splitlines() if line.strip().startswith("roc_auc ")))
    assert auc > 0.7
    db = sqlite3.connect(tracking_db)
    assert ("light_ranker", "finished") in db.execute("SELECT name, status FROM runs").fetchall()
    assert db.execute("SELECT COUNT(*) FROM metrics WHERE name = 'batch_prediction_roc_auc'").fetchone()[0] == 1


def test_mlp_example_with_isotonic_phase(tmp_path, capsys):
    save_dir = str(tmp_path / "mlp")
    flags = SMALL + [
        "--save_dir",
        save_dir,
        "--data_cache_dir",
        str(tmp_path / "data"),
        "--hidden_units",
        "8",
        "--calibrator.parts_downsampling_rate",
        "1.0",
    ]
    assert train_mlp.main(flags) == 0
    out = capsys.readouterr().out
    (export,) = exported_models(os.path.join(save_dir, "calibrator"))
    assert "batch prediction on 20000 held-out records" in out
    assert os.path.exists(os.path.join(os.path.dirname(export), "plots", "reliability.png"))


def test_user_data_needs_a_data_spec(tmp_path):
    with pytest.raises(ValueError, match="--data_spec"):
        train.main(["--train.data_dir", str(tmp_path), "--save_dir", str(tmp_path / "m")])

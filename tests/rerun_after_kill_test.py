"""Reruns after a SIGKILL (issue 10, item 2): a resumed run reuses the calibration its checkpoint
was trained with, a rerun of a finished run does not export a second model, and a calibration
that does not match the checkpoint is refused.

The light-ranker example runs as a real process on small generated data and is SIGKILLed once it
has written a checkpoint; the isotonic phase (calibrate -> train -> isotonic) runs in this
process on the same data.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow.compat.v1 as tf

import twml
from tools.light_ranker import synthetic_data
from twml import run_state
from twml.contrib.calibrators import IsotonicCalibrator
from twml.contrib.calibrators.common_calibrators import (
    add_isotonic_calibrator_arguments,
    calibrate_calibrator_and_export,
)
from twml.trainers import DataRecordTrainer

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), TF_CPP_MIN_LOG_LEVEL="2")
MODULE_FILES = ("tfhub_module.pb", "saved_model.pb", "variables", "assets", "hashing_discretizer_calibrator_bin.json")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two training files and one eval file of 2,000 records each, and the data spec."""
    root = tmp_path_factory.mktemp("data")
    paths = synthetic_data.write_dataset(
        str(root / "train"), num_files=3, records_per_file=2000, seed=11, compression="lzo"
    )
    os.makedirs(str(root / "eval"))
    os.replace(paths[-1], str(root / "eval" / os.path.basename(paths[-1])))
    return {"train": str(root / "train"), "eval": str(root / "eval"), "spec": str(root / "train" / "data_spec.json")}


def module_hash(module_dir):
    """SHA-1 of the discretizer module's model files (not its summaries or markers)."""
    digest = hashlib.sha1()
    for name in MODULE_FILES:
        path = os.path.join(module_dir, name)
        files = (
            [path]
            if os.path.isfile(path)
            else sorted(os.path.join(root, f) for root, _, names in os.walk(path) for f in names)
        )
        for file_path in files:
            digest.update(file_path[len(module_dir) :].encode())
            with open(file_path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


def light_ranker(data, save_dir, *extra):
    """The light-ranker example's command line on the small data (the discretizer samples half the
    records, so that two calibrations differ)."""
    return [
        sys.executable,
        "-m",
        "tools.light_ranker.train",
        "--data_spec",
        data["spec"],
        "--train.data_dir",
        data["train"],
        "--eval.data_dir",
        data["eval"],
        "--save_dir",
        save_dir,
        "--train.max_steps",
        "100",
        "--save_checkpoints_steps",
        "20",
        "--train.batch_size",
        "128",
        "--eval.batch_size",
        "1000",
        "--discretizer.keep_rate",
        "0.5",
        "--discretizer.parts_downsampling_rate",
        "1",
        "--discretizer.num_bins",
        "8",
        "--discretizer.output_size_bits",
        "16",
        "--predict_batch_size",
        "1000",
        "--disable_experiment_tracking",
    ] + list(extra)


def run(command):
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout, result.stderr


def numbered(directory):
    return sorted(name for name in os.listdir(directory) if name.isdigit())


def test_light_ranker_rerun_after_sigkill_reuses_the_discretizer_and_the_export(data, tmp_path):
    save_dir = str(tmp_path / "lr")
    module = os.path.join(save_dir, "discretizer")
    first = subprocess.Popen(
        light_ranker(data, save_dir), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.time() + 240
        while not tf.io.gfile.glob(os.path.join(save_dir, "model.ckpt-[1-9]*.index")):
            assert first.poll() is None and time.time() < deadline, "no checkpoint before the run ended"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait()
    killed_at = int(tf.train.load_variable(tf.train.latest_checkpoint(save_dir), "global_step"))
    assert 0 < killed_at < 100
    calibrated = module_hash(module)

    code, out, err = run(light_ranker(data, save_dir))
    assert code == 0, err[-3000:]
    assert module_hash(module) == calibrated  # the resumed checkpoint's discretizer, not a new sample's
    assert "reusing the calibrated module" in out
    (export,) = numbered(os.path.join(save_dir, "exported_models"))
    (all_modes,) = numbered(os.path.join(save_dir, "all_modes"))

    # A rerun of the finished run: the same discretizer and no second export.
    code, out, err = run(light_ranker(data, save_dir))
    assert code == 0, err[-3000:]
    assert module_hash(module) == calibrated
    assert numbered(os.path.join(save_dir, "exported_models")) == [export]
    assert numbered(os.path.join(save_dir, "all_modes")) == [all_modes]

    # A module that is not the one the checkpoint was trained with is refused, on one line.
    record_path = os.path.join(save_dir, run_state.CALIBRATION_RECORD_FILE)
    with open(record_path) as handle:
        record = json.load(handle)
    record["discretizer"]["fingerprint"] = "0" * 40
    with open(record_path, "w") as handle:
        json.dump(record, handle)
    code, out, err = run(light_ranker(data, save_dir))
    assert code == 2
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "calibration_record.json" in last and "0" * 40 in last and module in last

    # The remedy the message names: --overwrite_save_dir starts afresh (a new calibration that the
    # model's own Trainer does not delete again), one export.
    code, out, err = run(light_ranker(data, save_dir, "--overwrite_save_dir"))
    assert code == 0, err[-3000:]
    assert module_hash(module) != calibrated
    assert len(numbered(os.path.join(save_dir, "exported_models"))) == 1


def build_graph(features, label, mode, params, config=None):
    """Logistic regression on the ebd.* features."""
    logits = twml.layers.full_sparse(twml.util.convert_to_sparse(features, 16), output_size=1, name="linear")
    output = tf.sigmoid(logits)
    if mode == tf.estimator.ModeKeys.PREDICT:
        return {"output": output}
    return {"output": output, "loss": tf.losses.sigmoid_cross_entropy(label, logits)}


def test_isotonic_phase_is_run_state(data, tmp_path):
    """calibrate -> train -> isotonic: the isotonic calibration is reused by a rerun (same export),
    redone when its state was never recorded (a kill before), and refused once the model changed."""
    config = (
        twml.FeatureConfigBuilder(data_spec_path=data["spec"])
        .batch_add_features([(r"ebd\..*", "A")])
        .add_labels([synthetic_data.MAIN_LABEL])
        .define_weight(synthetic_data.WEIGHT)
        .build()
    )
    parser = DataRecordTrainer.add_parser_arguments()
    add_isotonic_calibrator_arguments(parser)
    save_dir = str(tmp_path / "model")
    params = parser.parse_args(
        [
            "--save_dir",
            save_dir,
            "--data_spec",
            data["spec"],
            "--train.data_dir",
            data["train"],
            "--eval.data_dir",
            data["eval"],
            "--train.batch_size",
            "200",
            "--disable_experiment_tracking",
            "--calibrator.num_bins",
            "20",
            "--calibrator.parts_downsampling_rate",
            "1",
            "--calibrator.batch_size",
            "500",
        ]
    )
    params.calibrator_keep_rate = 0.5  # a random half: two calibrations differ
    trainer = DataRecordTrainer("iso", params, build_graph, feature_config=config)
    trainer.train(steps=10)

    def phase():
        return calibrate_calibrator_and_export(
            "iso", IsotonicCalibrator(20), build_graph, params, config, run_eval=False
        )

    first = phase()
    calibrator_dir = os.path.join(save_dir, "calibrator")
    state_path = os.path.join(calibrator_dir, "isotonic_calibration.json")
    with open(state_path) as handle:
        state = json.load(handle)
    step = int(tf.train.load_variable(tf.train.latest_checkpoint(calibrator_dir), "global_step"))

    # A rerun reuses the calibration: no new sample, no new checkpoint, the same export.
    assert phase() == first
    with open(state_path) as handle:
        assert json.load(handle) == state
    assert int(tf.train.load_variable(tf.train.latest_checkpoint(calibrator_dir), "global_step")) == step
    assert numbered(os.path.dirname(first)) == [os.path.basename(first)]

    # A phase killed before it recorded its state starts again from nothing.
    os.remove(state_path)
    phase()
    assert os.path.exists(state_path)
    assert int(tf.train.load_variable(tf.train.latest_checkpoint(calibrator_dir), "global_step")) == 1

    # The model trained on: the calibration no longer fits its checkpoint.
    trainer.train(steps=5)
    with pytest.raises(run_state.CalibrationMismatchError, match="isotonic_calibration.json.*fitted to the model"):
        phase()


def test_rerun_of_an_early_stopped_run_trains_no_further(data, tmp_path):
    """A rerun of a run that early stopping ended keeps its checkpoints: no step more, so the best
    and latest checkpoints (and so the export) stay what the finished run left."""
    config = (
        twml.FeatureConfigBuilder(data_spec_path=data["spec"])
        .batch_add_features([(r"ebd\..*", "A")])
        .add_labels([synthetic_data.MAIN_LABEL])
        .build()
    )

    def train_and_evaluate():
        params = DataRecordTrainer.add_parser_arguments().parse_args(
            [
                "--save_dir",
                str(tmp_path / "model"),
                "--data_spec",
                data["spec"],
                "--train.data_dir",
                data["train"],
                "--eval.data_dir",
                data["eval"],
                "--train.batch_size",
                "100",
                "--train.max_steps",
                "400",
                "--eval.delay",
                "0",
                "--eval.period",
                "0",
                "--disable_experiment_tracking",
            ]
        )
        params.save_checkpoints_steps = 10
        trainer = DataRecordTrainer(
            "stop",
            params,
            build_graph,
            feature_config=config,
            metric_fn=twml.metrics.get_binary_class_metric_fn(["total_weight"]),
        )
        # The eval set's total weight never changes: the second evaluation ends the run.
        trainer.train_and_evaluate(
            train_input_fn=trainer.get_train_input_fn(repeat=True),
            early_stop_metric="total_weight",
            early_stop_patience=1,
            early_stop_minimize=True,
        )
        return trainer

    first = train_and_evaluate()
    assert os.path.exists(os.path.join(first.save_dir, "earlystop_now.txt"))
    latest, best = first.latest_checkpoint, first.best_or_latest_checkpoint
    step = int(tf.train.load_variable(latest, "global_step"))
    assert step < 400

    again = train_and_evaluate()
    assert again.latest_checkpoint == latest and again.best_or_latest_checkpoint == best
    assert int(tf.train.load_variable(again.latest_checkpoint, "global_step")) == step

"""Faults a hostile tester found (issue 10), each with the test that keeps it fixed: bad
configurations (item 7), file modes (item 8), debris and stale state after SIGKILL (item 9), metric
edge cases (item 10), corrupt-record skipping in the trainer (item 3) and twml-records on a
directory (item 11).

Real files, real processes: the examples and the CLIs run as subprocesses, and a process killed
"during" a step is stopped there by a fault injected into that one process (a function that
signals the test and sleeps), then SIGKILLed.
"""

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml
from libtwml import _core
from tools.light_ranker import common, report, synthetic_data, train
from twml import experiment_tracker, run_state, runs_cli
from twml.trainers import DataRecordTrainer
from twml_common import block_files, data_spec, record_json
from twml_common.block_files import read_records

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), TF_CPP_MIN_LOG_LEVEL="2")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two training files and one eval file of 1,000 records each, and the data spec."""
    root = tmp_path_factory.mktemp("data")
    paths = synthetic_data.write_dataset(
        str(root / "train"), num_files=3, records_per_file=1000, seed=13, compression="lzo"
    )
    os.makedirs(str(root / "eval"))
    os.replace(paths[-1], str(root / "eval" / os.path.basename(paths[-1])))
    return {"train": str(root / "train"), "eval": str(root / "eval"), "spec": str(root / "train" / "data_spec.json")}


def start_and_kill(command, ready_file, timeout=180):
    """Starts ``command``, waits until it creates ``ready_file`` (its injected fault reached), then
    SIGKILLs it and reaps it."""
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + timeout
        while not os.path.exists(ready_file):
            if process.poll() is not None or time.time() > deadline:
                raise AssertionError("the process ended before its fault:\n" + process.stdout.read()[-3000:])
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.communicate()
    return process.returncode


# ------------------------------------------------------------------------------------------ item 7


def light_ranker(data, save_dir, *flags):
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
        "--disable_experiment_tracking",
        *flags,
    ]


def mislabelled_spec(data, path):
    """The data spec with every continuous feature typed BINARY and the label CONTINUOUS."""
    spec = data_spec.read_data_spec(data["spec"])
    features = []
    for info in spec.contents:
        kind = info.featureType
        if info.fullFeatureName == synthetic_data.MAIN_LABEL:
            kind = data_spec.FeatureType.CONTINUOUS
        elif kind == data_spec.FeatureType.CONTINUOUS:
            kind = data_spec.FeatureType.BINARY
        features.append((info.fullFeatureName, kind))
    data_spec.write_data_spec(data_spec.make_data_spec(features), path)
    return path


def spec_without_label_records(data, path):
    """A spec whose label is a feature no record holds."""
    spec = data_spec.read_data_spec(data["spec"])
    features = [(i.fullFeatureName, i.featureType) for i in spec.contents] + [("made.up.label", "BINARY")]
    data_spec.write_data_spec(data_spec.make_data_spec(features), path)
    return path


BAD_CONFIGURATIONS = [
    (["--train.max_steps", "-10"], "--train.max_steps"),
    (["--discretizer.num_bins", "0"], "--discretizer.num_bins"),
    (["--eval.batch_size", "-1"], "--eval.batch_size"),
    (["--discretizer.output_size_bits", "70"], "--discretizer.output_size_bits"),
    (["--optimizer", "Foo"], "'DGC'"),
    (["--train.keep_rate", "0"], "--train.keep_rate"),
    ("mislabelled", "is BINARY in the spec but continuous in the data"),
    ("no_label_records", "'made.up.label' (BINARY in data spec"),
    (["--data_spec", "/nonexistent/spec.json"], "--data_spec /nonexistent/spec.json"),
    (["--train.data_dir", "/nonexistent"], "--train.data_dir /nonexistent"),
    (["--data_threads", "0"], "--data_threads"),
    (["--learning_rate", "-1"], "--learning_rate"),
    (["--keep_checkpoint_max", "-3"], "--keep_checkpoint_max"),
    (["--save_dir", "/proc/no/such/dir"], "--save_dir /proc/no/such/dir"),
    (["exponential_learning_rate_decay"], "decay_steps"),
]


@pytest.mark.parametrize("flags,named", BAD_CONFIGURATIONS, ids=[str(c[0]) for c in BAD_CONFIGURATIONS])
def test_bad_configuration_is_one_line_and_exit_2_before_any_work(data, tmp_path, capsys, flags, named):
    save_dir = str(tmp_path / "model")
    if flags == "mislabelled":
        flags = ["--data_spec", mislabelled_spec(data, str(tmp_path / "spec.json"))]
    elif flags == "no_label_records":
        flags = [
            "--data_spec",
            spec_without_label_records(data, str(tmp_path / "spec.json")),
            "--label",
            "made.up.label",
        ]
    try:
        status = common.guarded_main(train.main, light_ranker(data, save_dir, *flags)[3:])
    except SystemExit as exit_:  # argparse's usage errors
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and named in errors[0], err[-3000:]
    assert not os.path.exists(os.path.join(save_dir, "discretizer"))  # nothing was calibrated


def test_the_command_exits_2_with_one_line_and_a_traceback_only_with_verbose(data, tmp_path):
    spec = mislabelled_spec(data, str(tmp_path / "spec.json"))
    for verbose in ([], ["--verbose"]):
        result = subprocess.run(
            light_ranker(data, str(tmp_path / "model"), "--data_spec", spec, *verbose),
            env=ENV,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2
        assert ("Traceback" in result.stderr) == bool(verbose)
        assert "is BINARY in the spec" in result.stderr.splitlines()[-1]


def test_trainer_params_with_an_unknown_optimizer_are_refused_at_construction(tmp_path):
    with pytest.raises(ValueError, match="params.optimizer 'Foo' is not one of .*DGC"):
        twml.trainers.Trainer(
            "t",
            {"train_batch_size": 8, "optimizer": "Foo", "save_dir": str(tmp_path), "disable_experiment_tracking": True},
            build_graph,
        )


# ------------------------------------------------------------------------------------------ item 8


WRITERS = textwrap.dedent("""
    import os, sys
    from twml import util
    from tools.light_ranker import synthetic_data
    from twml_common import atomic_files, data_spec
    out = sys.argv[1]
    os.umask(int(sys.argv[2], 8))
    atomic_files.write_file_atomically(os.path.join(out, "plain.bin"), b"x")
    util.write_file(os.path.join(out, "util.json"), {"a": 1}, encode="json")
    synthetic_data.write_dataset(os.path.join(out, "data"), num_files=1, records_per_file=10, compression="gz")
    data_spec.write_data_spec(data_spec.read_data_spec(os.path.join(out, "data", "data_spec.json")),
                              os.path.join(out, "spec.thrift"), binary=True)
""")


@pytest.mark.parametrize("umask", ["022", "027", "077"])
def test_atomic_writers_give_the_mode_of_a_plain_open(tmp_path, umask):
    subprocess.run([sys.executable, "-c", WRITERS, str(tmp_path), umask], env=ENV, check=True, timeout=120)
    expected = 0o666 & ~int(umask, 8)
    written = ["plain.bin", "util.json", "spec.thrift", "data/part-00000.gz", "data/data_spec.json"]
    modes = {name: stat.S_IMODE(os.stat(str(tmp_path / name)).st_mode) for name in written}
    assert modes == {name: expected for name in written}


# ------------------------------------------------------------------------------------------ item 9


def build_graph(features, label, mode, params, config=None):
    logits = twml.layers.full_sparse(twml.util.convert_to_sparse(features, 16), output_size=1, name="linear")
    if mode == tf.estimator.ModeKeys.PREDICT:
        return {"output": tf.sigmoid(logits)}
    return {"output": tf.sigmoid(logits), "loss": tf.losses.sigmoid_cross_entropy(label, logits)}


EXPORT_SCRIPT = textwrap.dedent("""
    import os, sys, time
    import tensorflow.compat.v1 as tf
    import twml, yaml
    from twml.trainers import DataRecordTrainer
    from tools.light_ranker import synthetic_data

    spec, data_dir, save_dir, fault, ready = sys.argv[1:6]

    def build_graph(features, label, mode, params, config=None):
        logits = twml.layers.full_sparse(twml.util.convert_to_sparse(features, 16), output_size=1, name="linear")
        return {"output": tf.sigmoid(logits)}

    def hang(*args, **kwargs):
        open(ready, "w").close()
        time.sleep(600)

    config = (twml.FeatureConfigBuilder(data_spec_path=spec).batch_add_features([(r"ebd\\..*", "A")])
              .add_labels([synthetic_data.MAIN_LABEL]).build())
    params = DataRecordTrainer.add_parser_arguments().parse_args([
        "--save_dir", save_dir, "--data_spec", spec, "--train.data_dir", data_dir, "--eval_name", "train",
        "--disable_experiment_tracking"])
    trainer = DataRecordTrainer("debris", params, build_graph, feature_config=config)
    receiver = config.get_serving_input_receiver_fn()
    if fault == "graph":  # killed while the SavedModel is being written
        def receiver_fn():
            hang()
        print(trainer.export_model(serving_input_receiver_fn=receiver_fn))
    else:
        if fault == "feature_spec":  # killed while feature_spec.yaml is being written
            yaml.safe_dump = hang
        print(trainer.export_model())
""")


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """A checkpoint of the export script's model (trained here, in-process)."""
    save_dir = str(tmp_path_factory.mktemp("trained") / "model")
    config = (
        twml.FeatureConfigBuilder(data_spec_path=data["spec"])
        .batch_add_features([(r"ebd\..*", "A")])
        .add_labels([synthetic_data.MAIN_LABEL])
        .build()
    )
    params = DataRecordTrainer.add_parser_arguments().parse_args(
        [
            "--save_dir",
            save_dir,
            "--data_spec",
            data["spec"],
            "--train.data_dir",
            data["train"],
            "--eval_name",
            "train",
            "--disable_experiment_tracking",
        ]
    )
    DataRecordTrainer("debris", params, build_graph, feature_config=config).train(steps=5)
    return save_dir


def test_killed_exports_leave_neither_debris_nor_an_export_without_feature_spec(data, trained, tmp_path):
    export_dir = os.path.join(trained, "exported_models")
    for fault in ("graph", "feature_spec"):
        ready = str(tmp_path / fault)
        start_and_kill([sys.executable, "-c", EXPORT_SCRIPT, data["spec"], data["train"], trained, fault, ready], ready)
        # Whatever the kill left, no export is in place without its feature spec.
        for name in os.listdir(export_dir):
            if name.isdigit():
                assert os.path.exists(os.path.join(export_dir, name, "feature_spec.yaml")), name
    assert any(name.startswith("temp-") for name in os.listdir(export_dir))  # the killed exports' debris

    result = subprocess.run(
        [sys.executable, "-c", EXPORT_SCRIPT, data["spec"], data["train"], trained, "none", str(tmp_path / "unused")],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    export = result.stdout.strip().splitlines()[-1]
    assert sorted(os.listdir(export_dir)) == [os.path.basename(export)]  # the rerun cleaned the debris
    assert os.path.exists(os.path.join(export, "feature_spec.yaml"))


def test_staging_directories_of_killed_processes_are_removed_and_live_ones_kept(tmp_path):
    """What reruns remove: the working directories (module calibration, hub_export, export
    staging) of a process that no longer runs — not those of one that still does."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        live = run_state.staging_dir(str(tmp_path), "hub_export_")
        os.rename(live, str(tmp_path / ("hub_export_%d-live" % sleeper.pid)))
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        os.makedirs(str(tmp_path / ("hub_export_%d-dead" % dead.pid)))
        removed = run_state.remove_stale_staging_dirs(str(tmp_path), "hub_export_")
        assert removed == [str(tmp_path / ("hub_export_%d-dead" % dead.pid))]
        assert os.listdir(str(tmp_path)) == ["hub_export_%d-live" % sleeper.pid]
        sleeper.send_signal(signal.SIGKILL)
        sleeper.wait()
        assert run_state.remove_stale_staging_dirs(str(tmp_path), "hub_export_") == [
            str(tmp_path / ("hub_export_%d-live" % sleeper.pid))
        ]
    finally:
        sleeper.kill()
        sleeper.wait()


CONVERT_SCRIPT = textwrap.dedent("""
    import os, sys, time
    from twml import records_cli
    ready = sys.argv[1]
    real_replace = os.replace

    def hang(source, target):
        open(ready, "w").close()
        time.sleep(600)

    os.replace = hang  # killed between writing the temporary file and renaming it
    records_cli.main(sys.argv[2:])
""")


def test_rerun_of_a_killed_conversion_removes_its_temporary_file(data, tmp_path):
    records = list(read_records([os.path.join(data["train"], "part-00000.lzo")]))[:300]
    jsonl = str(tmp_path / "records.jsonl")
    names = record_json.FeatureNames(None)
    with open(jsonl, "w") as handle:
        for record in records:
            handle.write(json.dumps(record_json.record_to_json(_core.decode_data_record(record), names)) + "\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = str(out_dir / "converted")
    ready = str(tmp_path / "ready")
    start_and_kill([sys.executable, "-c", CONVERT_SCRIPT, ready, "from-json", jsonl, output], ready)
    assert [name for name in os.listdir(str(out_dir)) if name.startswith(".")]  # the killed writer's temporary

    subprocess.run(
        [sys.executable, "-m", "twml.records_cli", "from-json", jsonl, output],
        env=ENV,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert os.listdir(str(out_dir)) == ["converted"]
    assert len(list(read_records([output]))) == 300


TRACKED_SCRIPT = textwrap.dedent("""
    import sys, time
    from twml.experiment_tracker import ExperimentTracker
    tracker = ExperimentTracker({"learning_rate": 0.1}, name="doomed", save_dir="/tmp/doomed", db_path=sys.argv[1])
    tracker.start()
    tracker.log_metrics({"loss": 0.5}, 10)
    open(sys.argv[2], "w").close()
    time.sleep(600)
""")


def test_sigkilled_run_is_listed_as_killed(tmp_path, capsys):
    db = str(tmp_path / "runs.sqlite")
    ready = str(tmp_path / "ready")
    start_and_kill([sys.executable, "-c", TRACKED_SCRIPT, db, ready], ready)
    alive = experiment_tracker.ExperimentTracker({}, name="alive", save_dir=str(tmp_path), db_path=db)
    alive.start()
    # A run whose pid was reused by another process (this one): not the same process start.
    reused = experiment_tracker.ExperimentTracker({}, name="reused", save_dir=str(tmp_path), db_path=db)
    reused.start()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE runs SET process_start = 'another-boot:1' WHERE id = ?", (reused.run_id,))
    conn.commit()
    conn.close()

    assert runs_cli.main(["--db", db, "--json", "list"]) == 0
    runs = {run["name"]: run for run in json.loads(capsys.readouterr().out)}
    assert runs["doomed"]["status"] == "killed" and runs["reused"]["status"] == "killed"
    assert runs["alive"]["status"] == "running"
    assert runs["doomed"]["end_time"] is not None
    assert runs_cli.main(["--db", db, "--json", "show", str(runs["doomed"]["id"])]) == 0
    assert "ended without recording an end" in json.loads(capsys.readouterr().out)["error"]
    alive.finish()


# ------------------------------------------------------------------------------------------ item 3


def test_trainer_skips_corrupt_records_counts_them_and_stops_beyond_the_ratio(data, tmp_path, caplog):
    """``--skip_corrupt_records``: training goes past a damaged block, the count is logged, and
    ``--max_corrupt_records_ratio`` stops the run before training when exceeded."""
    records = list(read_records([os.path.join(data["train"], "part-00000.lzo")]))
    paths = [str(tmp_path / "intact"), str(tmp_path / "damaged")]
    for path in paths:
        block_files.write_block_file(path, records, records_per_block=100)
    with open(paths[1], "r+b") as damaged:  # 64 bytes of garbage in the middle of the file
        damaged.seek(os.path.getsize(paths[1]) // 2)
        damaged.write(b"\xff" * 64)
    files_list = str(tmp_path / "files.json")
    with open(files_list, "w") as handle:
        json.dump({"files": paths}, handle)
    config = (
        twml.FeatureConfigBuilder(data_spec_path=data["spec"])
        .batch_add_features([(r"ebd\..*", "A")])
        .add_labels([synthetic_data.MAIN_LABEL])
        .build()
    )

    def trainer(*flags):
        params = DataRecordTrainer.add_parser_arguments().parse_args(
            [
                "--save_dir",
                str(tmp_path / ("model%d" % len(flags))),
                "--data_spec",
                data["spec"],
                "--train.files_list",
                files_list,
                "--train.batch_size",
                "100",
                "--disable_experiment_tracking",
                "--eval_name",
                "train",
                *flags,
            ]
        )
        return DataRecordTrainer("corrupt", params, build_graph, feature_config=config)

    with pytest.raises(tf.errors.OpError):  # without the flag the damage stops training
        trainer().train(steps=25)
    caplog.set_level("WARNING")
    trained = trainer("--skip_corrupt_records").train(steps=25)
    # Past the damage in the middle of the second file, to the end of the data (2,000 records, minus
    # the skipped ones, in batches of 100).
    assert int(tf.train.load_variable(trained.latest_checkpoint, "global_step")) in (19, 20)
    logged = [r.getMessage() for r in caplog.records if "corrupt records skipped" in r.getMessage()]
    assert len(logged) == 1 and "in 1 of 2 training files" in logged[0]
    skipped = int(logged[0].split("--skip_corrupt_records: ")[1].split()[0])
    assert 1 <= skipped <= 200
    with pytest.raises(ValueError, match="more than --max_corrupt_records_ratio 0.0001; not training .*damaged"):
        trainer("--skip_corrupt_records", "--max_corrupt_records_ratio", "0.0001").get_train_input_fn()


# ------------------------------------------------------------------------------------------ item 10


def streaming_aucs(labels, predictions):
    with tf.Graph().as_default(), tf.Session() as session:
        labels = tf.constant(labels, tf.float32)
        predictions = tf.constant(predictions, tf.float32)
        roc, roc_update = twml.metrics.roc_auc(labels, predictions)
        pr, pr_update = twml.metrics.pr_auc(labels, predictions)
        session.run(tf.local_variables_initializer())
        session.run([roc_update, pr_update])
        return session.run([roc, pr])


def test_streaming_auc_of_a_single_class_warns(capfd):
    scores = [0.1, 0.4, 0.6, 0.9]
    assert streaming_aucs([0, 1, 0, 1], scores)[0] == pytest.approx(0.75, abs=1e-5)
    assert "single class" not in capfd.readouterr().err
    # The original's values are kept (0.0 / 1.0), but the evaluation says they mean nothing.
    assert streaming_aucs([1, 1, 1, 1], scores) == [0.0, 1.0]
    err = capfd.readouterr().err
    assert "twml.metrics.roc_auc: the evaluation data holds a single class" in err
    assert "twml.metrics.pr_auc: the evaluation data holds a single class" in err


def test_report_metrics_are_exact_and_nan_with_a_reason_for_a_single_class(caplog):
    negatives = np.zeros(50)
    scores = np.linspace(0.0, 0.004, 50)
    metrics = report.summarize(negatives, scores)
    assert np.isnan(metrics["roc_auc"]) and np.isnan(metrics["pr_auc"])
    assert "roc_auc is undefined (NaN): all 50 records are negative" in caplog.text
    assert report.undefined_metrics(negatives)["roc_auc"] == "all 50 records are negative"
    # Exact where the streaming AUC cannot resolve: every score below 1/199 shares one bucket.
    labels = (np.arange(50) >= 25).astype(np.float64)
    assert report.summarize(labels, scores)["roc_auc"] == 1.0
    assert streaming_aucs(labels, scores)[0] == pytest.approx(0.5)


# ------------------------------------------------------------------------------------------ item 11


def records_command(*args):
    return subprocess.run(
        [sys.executable, "-m", "twml.records_cli", *args], env=ENV, capture_output=True, text=True, timeout=120
    )


def test_records_count_of_a_directory_is_an_error_even_when_skipping(data):
    for flags in ([], ["--skip_corrupt"]):
        result = records_command(*flags, "count", data["train"])
        assert result.returncode != 0
        assert "%s: is a directory" % data["train"] in result.stderr


def test_json_export_keeps_the_bits_of_every_nan(tmp_path):
    """cat -> from-json is byte-exact for float tensors holding NaNs with payloads or sign bits."""
    floats = np.array([1.5, np.nan, np.nan, np.nan], np.float32)
    floats.view(np.uint32)[1:] = [0x7FC00042, 0xFFC00000, 0x7FC00000]
    doubles = np.array([np.nan, 2.0])
    doubles.view(np.uint64)[0] = 0xFFF8000000000001
    record = _core.encode_data_record({"continuous": {4: 0.5}, "tensors": {6: floats, 7: doubles}})
    original = str(tmp_path / "original")
    block_files.write_block_file(original, [record])
    cat = records_command("cat", original)
    assert cat.returncode == 0, cat.stderr
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text(cat.stdout)
    assert records_command("from-json", str(jsonl), str(tmp_path / "copy")).returncode == 0
    assert list(read_records([str(tmp_path / "copy")])) == [record]

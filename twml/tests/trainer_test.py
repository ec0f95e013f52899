"""twml.trainers: the build_graph contract, checkpoint names, learn / train_and_evaluate with early
stopping, files lists, roles and hogwild, init_from_dir, export and run tracking (reference §8)."""

import json
import os
import pathlib  # noqa: F401 - used by the killed process's script
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml
from tools.light_ranker import synthetic_data
from twml.trainers import DataRecordTrainer, Trainer, build_files_list, cluster

LABEL = synthetic_data.MAIN_LABEL


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    paths = synthetic_data.write_dataset(
        str(root / "all"), num_files=3, records_per_file=600, seed=3, compression="lzo"
    )
    train_dir, eval_dir = root / "train", root / "eval"
    train_dir.mkdir()
    eval_dir.mkdir()
    for path in paths[:2]:
        os.replace(path, train_dir / os.path.basename(path))
    os.replace(paths[2], eval_dir / os.path.basename(paths[2]))
    return {"train": str(train_dir), "eval": str(eval_dir), "spec": str(root / "all" / "data_spec.json")}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("TWML_EXPERIMENT_DB", str(tmp_path / "experiments.sqlite"))
    monkeypatch.delenv("TF_CONFIG", raising=False)
    yield


def feature_config(spec):
    return (
        twml.FeatureConfigBuilder(data_spec_path=spec)
        .batch_add_features([(r"ebd\..*|timelines\..*|encoded_tweet_features\..*", "A")])
        .add_labels([LABEL])
        .define_weight(synthetic_data.WEIGHT)
        .build()
    )


def params_for(tmp_path, data, *flags):
    parser = DataRecordTrainer.add_parser_arguments()
    return parser.parse_args(
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
            "64",
            "--eval.batch_size",
            "200",
            "--learning_rate",
            "0.1",
            "--optimizer",
            "Adagrad",
            "--eval.delay",
            "0",
            "--eval.period",
            "0",
        ]
        + list(flags)
    )


def build_graph(features, label, mode, params, config=None):
    raw = twml.util.convert_to_sparse(features, 18)
    # asinh tames the generated counts (up to ~1e5) so that plain logistic regression learns steadily.
    sparse = tf.SparseTensor(raw.indices, tf.asinh(raw.values), raw.dense_shape)
    logits = twml.layers.full_sparse(sparse, output_size=1, name="linear")
    output = tf.sigmoid(logits)
    if mode == tf.estimator.ModeKeys.PREDICT:
        return {"output": output}
    loss = tf.losses.sigmoid_cross_entropy(label, logits, weights=features["weights"])
    return {"output": output, "loss": loss}


def metric_fn():
    return twml.metrics.get_binary_class_metric_fn(["roc_auc", "rce", "ctr"])


def make_trainer(tmp_path, data, *flags, **kwargs):
    params = params_for(tmp_path, data, *flags)
    return DataRecordTrainer(
        name="lr",
        params=params,
        build_graph_fn=kwargs.pop("build_graph_fn", build_graph),
        feature_config=feature_config(data["spec"]),
        metric_fn=metric_fn(),
        **kwargs,
    )


def test_checkpoint_names_are_scoped_by_model_name(tmp_path, data):
    trainer = make_trainer(tmp_path, data)
    trainer.train(steps=3)
    names = {name for name, _ in tf.train.list_variables(trainer.latest_checkpoint)}
    assert "lr/model/linear/weight" in names and "lr/model/linear/bias" in names
    assert int(tf.train.load_variable(trainer.latest_checkpoint, "global_step")) == 3
    # The default optimizer's variables live under lr/optim (learning rate, Adagrad accumulators).
    assert "lr/optim/OptimizeLoss/lr/model/linear/weight/Adagrad" in names
    assert all(name.startswith(("lr/model/", "lr/optim/")) for name in names - {"global_step"})


def test_build_graph_must_return_output_and_loss(tmp_path, data):
    trainer = make_trainer(tmp_path, data, build_graph_fn=lambda f, lab, m, p, c: {"loss": tf.constant(1.0)})
    with pytest.raises(ValueError, match="'output'"):
        trainer.train(steps=1)
    trainer = make_trainer(tmp_path, data, build_graph_fn=lambda f, lab, m, p, c: {"output": tf.constant(1.0)})
    with pytest.raises(ValueError, match="'loss'"):
        trainer.train(steps=1)


def test_train_op_from_graph_and_extra_predictions(tmp_path, data):
    def graph(features, label, mode, params, config=None):
        out = build_graph(features, label, mode, params, config)
        if mode == tf.estimator.ModeKeys.TRAIN:
            out["train_op"] = tf.assign_add(tf.train.get_or_create_global_step(), 5)
        out["doubled"] = 2.0 * out["output"]
        return out

    trainer = make_trainer(tmp_path, data, build_graph_fn=graph)
    trainer.train(steps=1)  # the graph's own train_op (adds 5), not the optimizer's (adds 1)
    assert int(tf.train.load_variable(trainer.latest_checkpoint, "global_step")) == 5
    batch = next(
        trainer.predict(input_fn=trainer.get_eval_input_fn(repeat=False, shuffle=False), yield_single_examples=False)
    )
    np.testing.assert_allclose(batch["doubled"], 2.0 * batch["output"], rtol=1e-6)
    assert "loss" not in batch


def test_learn_early_stopping_keeps_best_checkpoint_and_writes_success(tmp_path, data):
    trainer = make_trainer(tmp_path, data)
    save_dir = trainer.learn(
        train_steps=10,
        train_max_steps=200,
        eval_steps=1,
        early_stop_metric="roc_auc",
        early_stop_patience=2,
        early_stop_minimize=False,
    )
    assert os.path.exists(os.path.join(save_dir, "_SUCCESS"))
    best_dir = os.path.join(save_dir, "best_checkpoint")
    assert tf.train.latest_checkpoint(best_dir) is not None
    assert trainer.best_or_latest_checkpoint.startswith(best_dir)
    best_value = float(open(os.path.join(best_dir, "roc_auc")).read())
    assert 0.5 < best_value <= 1.0


def test_train_and_evaluate_reaches_max_steps_and_evaluates(tmp_path, data):
    trainer = make_trainer(
        tmp_path, data, "--train.max_steps", "200", "--save_checkpoints_secs", "1", "--learning_rate", "0.3"
    )
    trainer.train_and_evaluate(train_input_fn=trainer.get_train_input_fn(repeat=True))
    assert int(tf.train.load_variable(trainer.latest_checkpoint, "global_step")) == 200
    assert os.path.exists(os.path.join(trainer.save_dir, "_SUCCESS"))
    metrics = trainer.evaluate()
    assert set(metrics) >= {"roc_auc", "rce", "ctr", "loss", "global_step"}
    assert metrics["roc_auc"] > 0.6


def test_restarted_training_resumes_from_the_last_checkpoint(tmp_path, data):
    make_trainer(tmp_path, data).train(steps=7)
    trainer = make_trainer(tmp_path, data)
    trainer.train(steps=5)
    assert int(tf.train.load_variable(trainer.latest_checkpoint, "global_step")) == 12


KILL_SCRIPT = """
import sys
sys.path[:0] = {path!r}
from twml.tests import trainer_test as t
data = {data!r}
trainer = t.make_trainer(t.pathlib.Path({root!r}), data, "--save_checkpoints_secs", "1")
trainer.train(input_fn=trainer.get_train_input_fn(repeat=True), steps=10**7)
"""


def test_killed_training_restarts_from_its_last_checkpoint(tmp_path, data):
    """kill -9 a training process once it has checkpointed; a new process resumes at that step."""
    script = KILL_SCRIPT.format(path=sys.path, data=data, root=str(tmp_path))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    process = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    save_dir = str(tmp_path / "model")
    deadline = time.time() + 180
    try:
        while time.time() < deadline:
            checkpoint = tf.train.latest_checkpoint(save_dir)
            if checkpoint and int(checkpoint.rsplit("-", 1)[1]) > 0:
                break
            time.sleep(0.5)
        else:
            pytest.fail("no checkpoint after 180 s")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    last = int(tf.train.load_variable(tf.train.latest_checkpoint(save_dir), "global_step"))
    assert last > 0
    trainer = make_trainer(tmp_path, data)
    trainer.train(steps=3)
    assert int(tf.train.load_variable(trainer.latest_checkpoint, "global_step")) == last + 3


def test_files_list_is_saved_and_reused(tmp_path, data):
    files_list = str(tmp_path / "train_files.json")
    first = build_files_list(files_list, data["train"], None, None, "%Y/%m/%d", 2, 1, maybe_save=True)
    saved = json.load(open(files_list))
    assert saved["files"] == first and saved["data_dir"] == data["train"]
    assert len(first) == 2 and all(f.endswith(".lzo") for f in first)
    # Reused when nothing is given; listed again (and not saved over) when the params differ.
    assert build_files_list(files_list, None, None, None, "%Y/%m/%d", 2, 1, maybe_save=True) == first
    assert build_files_list(files_list, data["eval"], None, None, "%Y/%m/%d", 2, 1, maybe_save=True) != first
    with pytest.raises(ValueError, match="dal://"):
        build_files_list(None, "dal://dataset", None, None, "%Y/%m/%d", 2, 1, maybe_save=False)


def test_train_eval_overlap_is_an_error(tmp_path, data):
    with pytest.raises(ValueError, match="allow_train_eval_overlap"):
        make_trainer(tmp_path, dict(data, eval=data["train"]))
    trainer = make_trainer(tmp_path, dict(data, eval=data["train"]), "--allow_train_eval_overlap")
    assert trainer.train_files == trainer.eval_files


def test_check_params(tmp_path, data):
    with pytest.raises(ValueError, match="train_batch_size"):
        Trainer("m", {"train_batch_size": 0, "save_dir": str(tmp_path)}, build_graph)
    trainer = Trainer(
        "m", {"train_batch_size": 8, "save_dir": str(tmp_path), "disable_experiment_tracking": True}, build_graph
    )
    assert trainer.params.eval_batch_size == 8
    with pytest.raises(ValueError, match="distributed"):
        Trainer(
            "m", {"train_batch_size": 8, "save_dir": str(tmp_path), "distributed_training_cleanup": True}, build_graph
        )
    with pytest.raises(ValueError, match="stats_port"):
        make_trainer(tmp_path, data, "--stats_port", "9000")


def test_roles_from_tf_config(monkeypatch):
    cluster_spec = {"chief": ["h:1"], "worker": ["h:2", "h:3"], "ps": ["h:4"], "evaluator": ["h:5"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster_spec, "task": {"type": "worker", "index": 1}}))
    assert not cluster.is_chief() and cluster.is_task_type("worker") and not cluster.is_ps()
    assert cluster.num_workers() == 3 and cluster.worker_index() == 2
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster_spec, "task": {"type": "evaluator"}}))
    assert cluster.is_evaluator() and not cluster.is_chief()
    monkeypatch.delenv("TF_CONFIG")
    assert cluster.is_chief() and cluster.num_workers() == 1 and cluster.worker_index() == 0


def test_hogwild_writes_tf_config(monkeypatch):
    params = twml.util.HParams(num_workers=2, num_threads=5)
    with pytest.raises(ValueError, match="TWML_HOGWILD_PORTS"):
        cluster.setup_hogwild(params)
    monkeypatch.setenv("TWML_HOGWILD_PORTS", "2000,2001,2002")
    monkeypatch.setenv("TWML_HOGWILD_TASK_TYPE", "worker")
    monkeypatch.setenv("TWML_HOGWILD_TASK_ID", "0")
    assert cluster.setup_hogwild(params)
    config = json.loads(os.environ["TF_CONFIG"])
    assert config == {
        "cluster": {"ps": ["localhost:2000"], "chief": ["localhost:2001"], "worker": ["localhost:2002"]},
        "task": {"type": "worker", "index": 0},
    }
    assert params.distributed and params.num_threads == 3
    monkeypatch.setenv("TWML_HOGWILD_PORTS", "2000,2001")
    with pytest.raises(ValueError, match="num_workers \\+ 1"):
        cluster.setup_hogwild(twml.util.HParams(num_workers=2))


def test_init_from_dir_with_init_map(tmp_path, data):
    first = make_trainer(tmp_path / "a", data)
    first.train(steps=20)
    trained = tf.train.load_variable(first.latest_checkpoint, "lr/model/linear/weight")
    init_map = twml.util.get_init_map(first.save_dir, exclude_name_scopes=["global_step", "lr/optim"])
    params = params_for(tmp_path / "b", data)
    second = DataRecordTrainer(
        "lr",
        params,
        build_graph,
        feature_config=feature_config(data["spec"]),
        init_from_dir=first.save_dir,
        init_map={k: k for k in init_map if k.startswith("lr/model/linear/") and "Adagrad" not in k},
    )
    batch = next(
        second.predict(input_fn=second.get_eval_input_fn(repeat=False, shuffle=False), yield_single_examples=False)
    )
    expected = next(
        first.predict(input_fn=first.get_eval_input_fn(repeat=False, shuffle=False), yield_single_examples=False)
    )
    np.testing.assert_allclose(batch["output"], expected["output"], rtol=1e-6)
    assert np.abs(trained).sum() > 0


def test_hub_export_moves_modules_and_backs_up_old_ones(tmp_path, data):
    import tensorflow_hub as hub

    def module_fn():
        inputs = tf.placeholder(tf.float32, [None, 3])
        weight = tf.get_variable("scale", [3], initializer=tf.ones_initializer())
        hub.add_signature(inputs=inputs, outputs=inputs * weight)

    def graph(features, label, mode, params, config=None):
        module = hub.Module(hub.create_module_spec(module_fn), name="scaler", trainable=True)
        hub.register_module_for_export(module, "tf_hub_scaler")
        out = build_graph(features, label, mode, params, config)
        dense = tf.ones([tf.shape(out["output"])[0], 3])
        out["output"] = out["output"] * tf.reduce_sum(module(dense), axis=1, keepdims=True) / 3.0
        return out

    trainer = make_trainer(tmp_path, data, build_graph_fn=graph)
    trainer.train(steps=2)

    def receiver():
        serialized = tf.placeholder(tf.string, [None])
        return tf.estimator.export.ServingInputReceiver(
            trainer.feature_config.get_parse_fn()(serialized)[0], {"serialized": serialized}
        )

    export_dir = str(tmp_path / "hub")
    assert trainer.hub_export("tf_hub", receiver, export_dir=export_dir) == export_dir
    assert os.path.exists(os.path.join(export_dir, "tf_hub_scaler", "tfhub_module.pb"))
    trainer.hub_export("tf_hub", receiver, export_dir=export_dir)
    (backup,) = os.listdir(os.path.join(export_dir, "backups"))
    assert os.path.exists(os.path.join(export_dir, "backups", backup, "tf_hub_scaler", "tfhub_module.pb"))
    with tf.Graph().as_default():
        scaled = hub.Module(os.path.join(export_dir, "tf_hub_scaler"))(tf.constant([[1.0, 2.0, 3.0]]))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            assert session.run(scaled).shape == (1, 3)


def test_overwrite_save_dir_and_warm_start(tmp_path, data):
    first = make_trainer(tmp_path, data)
    first.train(steps=4)
    weights = tf.train.load_variable(first.latest_checkpoint, "lr/model/linear/weight")
    # warm_start_from: a new save_dir starts from the old weights (global step from 0); with a
    # zero learning rate its first step leaves them exactly as they were.
    params = params_for(tmp_path / "warm", data, "--learning_rate", "0")
    warm = DataRecordTrainer(
        "lr",
        params,
        build_graph,
        feature_config=feature_config(data["spec"]),
        warm_start_from=tf.estimator.WarmStartSettings(first.save_dir, "lr/model/.*"),
    )
    warm.train(steps=1)
    assert int(tf.train.load_variable(warm.latest_checkpoint, "global_step")) == 1
    np.testing.assert_array_equal(tf.train.load_variable(warm.latest_checkpoint, "lr/model/linear/weight"), weights)
    # overwrite_save_dir: the old checkpoints are gone, training starts again at step 0.
    again = make_trainer(tmp_path, data, "--overwrite_save_dir")
    assert again.latest_checkpoint is None
    again.train(steps=2)
    assert int(tf.train.load_variable(again.latest_checkpoint, "global_step")) == 2
    assert np.abs(weights).sum() > 0


def test_run_is_tracked(tmp_path, data):
    trainer = make_trainer(tmp_path, data)
    trainer.train(steps=5)
    trainer.evaluate(steps=1)
    trainer.write_state_to_disk(trainer.save_dir)
    db = sqlite3.connect(os.environ["TWML_EXPERIMENT_DB"])
    ((status, save_dir),) = db.execute("SELECT status, save_dir FROM runs").fetchall()
    assert status == "finished" and save_dir == trainer.save_dir
    metric_names = {row[0] for row in db.execute("SELECT name FROM metrics")}
    assert {"roc_auc", "loss"} <= metric_names


def test_tracking_can_be_disabled(tmp_path, data):
    trainer = make_trainer(tmp_path, data, "--disable_experiment_tracking")
    trainer.train(steps=1)
    assert not os.path.exists(os.environ["TWML_EXPERIMENT_DB"])

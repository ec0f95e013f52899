"""Distributed training on 127.0.0.1: a parameter server, a chief and a worker (TF_CONFIG), and
the same cluster launched in hogwild mode (TWML_HOGWILD_*), each a separate process running
DataRecordTrainer.train_and_evaluate on generated block files."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import tensorflow.compat.v1 as tf

from tools.light_ranker import synthetic_data

TRAIN_SCRIPT = textwrap.dedent("""
    import sys
    import tensorflow.compat.v1 as tf
    import twml
    from twml.trainers import DataRecordTrainer
    from tools.light_ranker import synthetic_data

    data_dir, spec, save_dir = sys.argv[1:4]
    extra = sys.argv[4:]

    def build_graph(features, label, mode, params, config=None):
        logits = twml.layers.full_sparse(twml.util.convert_to_sparse(features, 16), output_size=1, name="linear")
        if mode == tf.estimator.ModeKeys.PREDICT:
            return {"output": tf.sigmoid(logits)}
        return {"output": tf.sigmoid(logits), "loss": tf.losses.sigmoid_cross_entropy(label, logits)}

    config = (twml.FeatureConfigBuilder(data_spec_path=spec).batch_add_features([(r"ebd\\..*", "A")])
              .add_labels([synthetic_data.MAIN_LABEL]).build())
    params = DataRecordTrainer.add_parser_arguments().parse_args([
        "--save_dir", save_dir, "--data_spec", spec, "--train.data_dir", data_dir, "--eval_name", "train",
        "--train.batch_size", "32", "--train.max_steps", "60", "--eval.steps", "2", "--eval.delay", "0",
        "--eval.period", "1", "--save_checkpoints_secs", "1", "--disable_experiment_tracking"] + extra)
    trainer = DataRecordTrainer("dist", params, build_graph, feature_config=config)
    trainer.train_and_evaluate(train_input_fn=trainer.get_train_input_fn(repeat=True))
    print("DONE", trainer.is_chief())
""")


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    synthetic_data.write_dataset(str(root / "data"), num_files=2, records_per_file=400, seed=9, compression="lzo")
    return str(root / "data"), str(root / "data" / "data_spec.json")


def launch(data, save_dir, env_by_task, extra=(), servers=()):
    """Runs one process per task; waits for all but ``servers`` (parameter servers that run
    until killed), then kills those."""
    base = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    base.pop("TF_CONFIG", None)
    processes = {}
    for task, env in env_by_task.items():
        processes[task] = subprocess.Popen(
            [sys.executable, "-c", TRAIN_SCRIPT, data[0], data[1], save_dir] + list(extra),
            env=dict(base, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    outputs = {}
    try:
        for task, process in processes.items():
            if task in servers:
                continue
            outputs[task] = process.communicate(timeout=240)[0]
            assert process.returncode == 0, "%s failed:\n%s" % (task, outputs[task][-4000:])
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
    return outputs


def check_trained(save_dir):
    assert os.path.exists(os.path.join(save_dir, "_SUCCESS"))
    step = int(tf.train.load_variable(tf.train.latest_checkpoint(save_dir), "global_step"))
    assert step >= 60
    assert "dist/model/linear/weight" in {name for name, _ in tf.train.list_variables(save_dir)}


def test_ps_chief_worker_cluster(data, tmp_path):
    ps, chief, worker = ("127.0.0.1:%d" % p for p in free_ports(3))
    cluster = {"ps": [ps], "chief": [chief], "worker": [worker]}

    def tf_config(kind):
        return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": 0}})}

    save_dir = str(tmp_path / "model")
    outputs = launch(
        data, save_dir, {"ps": tf_config("ps"), "chief": tf_config("chief"), "worker": tf_config("worker")}
    )
    assert "DONE True" in outputs["chief"] and "DONE False" in outputs["worker"]
    check_trained(save_dir)


def test_hogwild_cluster(data, tmp_path):
    ports = ",".join(str(p) for p in free_ports(3))

    def hogwild(kind):
        return {"TWML_HOGWILD_PORTS": ports, "TWML_HOGWILD_TASK_TYPE": kind, "TWML_HOGWILD_TASK_ID": "0"}

    save_dir = str(tmp_path / "hogwild")
    launch(
        data,
        save_dir,
        {"ps": hogwild("ps"), "chief": hogwild("chief"), "worker": hogwild("worker")},
        extra=["--num_workers", "2"],
        servers=("ps",),
    )
    check_trained(save_dir)

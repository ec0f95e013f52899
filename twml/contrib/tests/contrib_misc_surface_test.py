"""The smaller contrib modules of the original's surface, in real graphs and on real files:
contrib.utils.datasets (overlap resolution, date-ranged file lists), contrib.utils.device,
contrib.build_graphs_fns, and contrib.export.export_fn's train-graph receiver and build-graph wrapper
(the response bytes decoded back and compared with the model's outputs)."""

import datetime
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml
import twml
from twml.batch_prediction import decode_batch_prediction_response
from twml.contrib import build_graphs_fns
from twml.contrib.export import export_fn
from twml.contrib.feature_config import FeatureConfigBuilder
from twml.contrib.utils import datasets, device
from twml_common import data_spec, idl
from twml_common.serialize import serialize

TRAIN = ["f/a", "f/b", "f/c", "f/d", "f/b"]
EVAL = ["f/c", "f/d", "f/e", "f/f"]


@pytest.mark.parametrize("fraction,to_eval", [(0.0, 0), (0.5, 1), (1.0, 2)])
def test_resolve_train_and_eval_files_overlap(fraction, to_eval):
    train, evaluation = datasets.resolve_train_and_eval_files_overlap(TRAIN, EVAL, fraction, seed=4)
    overlap = {"f/c", "f/d"}
    assert train == sorted(train) and evaluation == sorted(evaluation)
    assert not set(train) & set(evaluation)  # each file in exactly one list
    assert set(train) | set(evaluation) == set(TRAIN) | set(EVAL)
    assert len(set(evaluation) & overlap) == to_eval  # int(len(overlap) * fraction) go to eval
    assert {"f/e", "f/f"} <= set(evaluation) and {"f/a", "f/b"} <= set(train)
    assert datasets.resolve_train_and_eval_files_overlap(TRAIN, EVAL, fraction, seed=4) == (train, evaluation)


def test_time_based_files_for_train_and_eval(tmp_path):
    start = datetime.datetime(2021, 1, 31, 22)
    hours = [start + datetime.timedelta(hours=h) for h in range(6)]  # 22:00 Jan 31 .. 03:00 Feb 1
    files = []
    for when in hours:
        directory = tmp_path / when.strftime("%Y/%m/%d/%H")
        directory.mkdir(parents=True)
        (directory / "part-0.lzo").write_bytes(b"")
        (directory / "skip.txt").write_bytes(b"")
        files.append(str(directory / "part-0.lzo"))
    assert datasets.get_time_based_dataset_files is twml.util.list_files_by_datetime
    train, evaluation = datasets.get_time_based_dataset_files_for_train_and_eval(
        str(tmp_path), hours[0], hours[3], hours[2], hours[5], fraction_kept_for_eval=1.0)
    assert train == sorted(files[0:2]) and evaluation == sorted(files[2:6])
    train, evaluation = datasets.get_time_based_dataset_files_for_train_and_eval(
        str(tmp_path), hours[0], hours[3], hours[2], hours[5], fraction_kept_for_eval=0.0)
    assert train == sorted(files[0:4]) and evaluation == sorted(files[4:6])


def test_device_helpers_agree_with_tensorflow():
    devices = device.get_device_map()
    assert devices["/device:CPU:0"] == "CPU"
    gpus = tf.config.list_physical_devices("GPU")
    assert device.get_gpu_count() == len(gpus) == len(device.get_gpu_list())
    assert device.is_gpu_available() == bool(gpus)
    assert all(devices[name] == "GPU" for name in device.get_gpu_list())


def test_get_saved_modules_graph():
    calls = []

    def input_graph_fn(features, params):
        calls.append((features, params))
        return {"output": features["x"] * 2.0}

    build = build_graphs_fns.get_saved_modules_graph(input_graph_fn)
    with tf.Graph().as_default():
        features = {"x": tf.constant([[1.0], [3.0]])}
        predicted = build(features, None, "infer", {"p": 1})
        trained = build(features, None, "train", {"p": 1})
        assert calls == [(features, {"p": 1})] * 2
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            np.testing.assert_array_equal(session.run(predicted["output"]), [[2.0], [6.0]])
            assert session.run(trained["loss"]) == 1
            session.run(trained["train_op"])
            session.run(trained["train_op"])
            assert session.run(tf.train.get_global_step()) == 2


SPEC = [("c.bin", "BINARY"), ("a.cont", "CONTINUOUS"), ("y.label", "BINARY")]
IDS = dict(zip([n for n, _ in SPEC], libtwml.feature_id([n for n, _ in SPEC]).tolist()))


def test_sparse_batch_supervised_receiver_over_a_request(tmp_path):
    path = str(tmp_path / "spec.json")
    data_spec.write_data_spec(data_spec.make_data_spec(SPEC), path)
    config = (FeatureConfigBuilder(path).extract_features_as_hashed_sparse(["c.bin", "a.cont"], "sparse", 12)
              .add_labels(["y.label"]).build())
    records = [idl.data.DataRecord(binaryFeatures={IDS["c.bin"]}),
               idl.data.DataRecord(binaryFeatures={IDS["y.label"]}, continuousFeatures={IDS["a.cont"]: 2.5})]
    request = serialize(idl.prediction_service.BatchPredictionRequest(individualFeaturesList=records))
    with tf.Graph().as_default():
        receiver = export_fn.get_sparse_batch_supervised_input_receiver_fn(config)()
        placeholder = receiver.receiver_tensors["request"]
        assert placeholder.dtype == tf.uint8 and placeholder.shape.as_list() == [None]
        assert receiver.labels.shape.as_list() == [None, 1]
        with tf.Session() as session:
            features, labels = session.run([receiver.features, receiver.labels],
                                           {placeholder: np.frombuffer(request, np.uint8)})
    np.testing.assert_array_equal(labels, [[0.0], [1.0]])  # the records' labels (a train graph's input)
    entries = sorted(zip(features["ids"].tolist(), features["keys"].tolist(), features["values"].tolist()))
    assert entries == [(0, IDS["c.bin"], 1.0), (1, IDS["a.cont"], 2.5)]
    np.testing.assert_array_equal(features["weights"], [[1.0], [1.0]])


def test_update_build_graph_fn_for_train_adds_the_serialized_response():
    def build_graph(features, label, mode, params, config=None):
        return {"output": tf.concat([features["x"], features["x"] * 10.0], axis=1)}

    wrapped = export_fn.update_build_graph_fn_for_train(build_graph)
    with tf.Graph().as_default():
        x = tf.constant([[0.25], [0.5], [0.75]])
        train = wrapped({"x": x}, None, tf.estimator.ModeKeys.TRAIN, {})
        other = wrapped({"x": x}, None, tf.estimator.ModeKeys.EVAL, {})
        assert set(other) == {"output"} and "prediction" in train
        with tf.Session() as session:
            response, output = session.run([train["prediction"], train["output"]])
    rows = decode_batch_prediction_response(bytes(response.reshape(-1)))
    assert len(rows) == 3
    for row, values in zip(rows, output):
        assert sorted(row) == [0, 1]  # keys 0..n-1 without graph_output['keys']
        np.testing.assert_allclose([row[0], row[1]], values, rtol=1e-7)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "-q"]))

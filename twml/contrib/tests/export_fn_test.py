"""twml.contrib.export.export_fn: the train-graph receiver over a BatchPredictionRequest and the
build-graph wrapper (the response bytes decoded back and compared with the model's outputs)."""

import numpy as np
import tensorflow.compat.v1 as tf

import libtwml
import twml  # noqa: F401  (graph mode)
from twml.batch_prediction import decode_batch_prediction_response
from twml.contrib.export import export_fn
from twml.contrib.feature_config import FeatureConfigBuilder
from twml_common import data_spec, idl
from twml_common.serialize import serialize

SPEC = [("c.bin", "BINARY"), ("a.cont", "CONTINUOUS"), ("y.label", "BINARY")]


IDS = dict(zip([n for n, _ in SPEC], libtwml.feature_id([n for n, _ in SPEC]).tolist()))


def test_sparse_batch_supervised_receiver_over_a_request(tmp_path):
    path = str(tmp_path / "spec.json")
    data_spec.write_data_spec(data_spec.make_data_spec(SPEC), path)
    config = (
        FeatureConfigBuilder(path)
        .extract_features_as_hashed_sparse(["c.bin", "a.cont"], "sparse", 12)
        .add_labels(["y.label"])
        .build()
    )
    records = [
        idl.data.DataRecord(binaryFeatures={IDS["c.bin"]}),
        idl.data.DataRecord(binaryFeatures={IDS["y.label"]}, continuousFeatures={IDS["a.cont"]: 2.5}),
    ]
    request = serialize(idl.prediction_service.BatchPredictionRequest(individualFeaturesList=records))
    with tf.Graph().as_default():
        receiver = export_fn.get_sparse_batch_supervised_input_receiver_fn(config)()
        placeholder = receiver.receiver_tensors["request"]
        assert placeholder.dtype == tf.uint8 and placeholder.shape.as_list() == [None]
        assert receiver.labels.shape.as_list() == [None, 1]
        with tf.Session() as session:
            features, labels = session.run(
                [receiver.features, receiver.labels], {placeholder: np.frombuffer(request, np.uint8)}
            )
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

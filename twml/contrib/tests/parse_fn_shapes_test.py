"""Static shapes of every parse function's outputs, as the original sets them and callers rely on
(issue 11 item 5; the contract's twml-surface.md §B): labels ``[batch, len(labels)]``, weights
``[batch, 1]``, ``batch_size`` a scalar, hashed columns rank 1, v2 sparse groups ``[batch, 2**bits]``.
Each parse function is built on a ``[None]`` string placeholder (what batched BlockFormatDatasets give),
its static shapes checked, then run on real records to check that the run-time shapes agree."""

import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml
from libtwml import _core
from tools.light_ranker import synthetic_data
from twml.contrib import parsers as contrib_parsers
from twml.contrib.feature_config import FeatureConfigBuilder as V2Builder

LABELS = synthetic_data.LABELS[:3]
BITS = 12


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("shapes"))
    paths = synthetic_data.write_dataset(directory, num_files=1, records_per_file=20, seed=2)
    return {"spec": os.path.join(directory, "data_spec.json"), "records": _core.read_block_file(paths[0])[:7]}


def v1_config(spec):
    return (
        twml.FeatureConfigBuilder(data_spec_path=spec)
        .batch_add_features([(r"ebd\..*|timelines\..*", "A")])
        .add_labels(LABELS)
        .define_weight(synthetic_data.WEIGHT)
        .build()
    )


def shape(tensor):
    return tensor.get_shape().as_list() if tensor.get_shape().ndims is not None else None


def check_run(features, labels, records):
    with tf.Session() as session:
        session.run(tf.tables_initializer())
        values = session.run((features, labels), {"serialized:0": records})
    return values


@pytest.mark.parametrize("name", ["get_sparse_parse_fn", "get_default_parse_fn", "get_continuous_parse_fn"])
def test_v1_parse_fn_static_shapes(dataset, name):
    config = v1_config(dataset["spec"])
    with tf.Graph().as_default():
        serialized = tf.placeholder(tf.string, [None], name="serialized")
        features, labels = getattr(twml.parsers, name)(config)(serialized)
        assert shape(labels) == [None, len(LABELS)] and labels.dtype == tf.float32
        assert shape(features["weights"]) == [None, 1] and features["weights"].dtype == tf.float32
        assert shape(features["batch_size"]) == []
        for column in ("ids", "keys", "values"):
            assert len(shape(features[column])) == 1, column
        values = check_run(features, labels, dataset["records"])
    batch = len(dataset["records"])
    assert values[1].shape == (batch, len(LABELS)) and values[0]["weights"].shape == (batch, 1)
    assert values[0]["batch_size"] == batch
    assert len(values[0]["ids"]) == len(values[0]["keys"]) == len(values[0]["values"]) > 0
    # the multi-label metric fn reads labels.get_shape()[1]: it builds on these labels as they are
    with tf.Graph().as_default():
        features, labels = getattr(twml.parsers, name)(config)(tf.placeholder(tf.string, [None]))
        ops = twml.metrics.get_multi_binary_class_metric_fn(["ctr"])({"output": labels}, labels, features["weights"])
        assert sorted(ops) == ["ctr_0", "ctr_1", "ctr_2"]


def test_v1_tensor_parse_fn_and_labels_in_features(dataset):
    config = v1_config(dataset["spec"])
    with tf.Graph().as_default():
        serialized = tf.placeholder(tf.string, [None], name="serialized")
        features, labels = twml.parsers.get_tensor_parse_fn(config, {"user.embedding": (tf.float64, [4])})(serialized)
        assert shape(labels) == [None, len(LABELS)]
        assert shape(features["weights"]) == [None, 1]
        assert shape(features["user.embedding"]) == [None, 4]
        values = check_run(features, labels, dataset["records"])
        np.testing.assert_array_equal(values[0]["user.embedding"], np.zeros((len(dataset["records"]), 4)))
        merged = twml.parsers.get_labels_in_features_parse_fn(config)(serialized)
        assert shape(merged["labels"]) == [None, len(LABELS)]


def test_parse_fn_accepts_unknown_rank_input(dataset):
    # feature importances feed the batch through tf.py_func: the input's static shape is unknown
    config = v1_config(dataset["spec"])
    with tf.Graph().as_default():
        serialized = tf.placeholder(tf.string, None, name="serialized")
        features, labels = config.get_parse_fn()(serialized)
        assert shape(labels) == [None, len(LABELS)] and shape(features["weights"]) == [None, 1]
        values = check_run(features, labels, dataset["records"])
    assert values[1].shape == (len(dataset["records"]), len(LABELS))


def test_v2_parse_fns_static_shapes(dataset):
    config = (
        V2Builder(dataset["spec"])
        .extract_features_as_hashed_sparse([r"ebd\..*"], "sparse", BITS)
        .extract_feature_group([r"timelines\..*"], "timelines", "CONTINUOUS", -1.0)
        .add_labels(LABELS)
        .define_weight(synthetic_data.WEIGHT)
        .build()
    )
    n_timelines = (
        len([f for f in config.features if str(f).startswith("timelines.")]) if hasattr(config, "features") else None
    )
    for make in (lambda c: c.get_parse_fn(), contrib_parsers.get_keras_parse_fn):
        with tf.Graph().as_default():
            serialized = tf.placeholder(tf.string, [None], name="serialized")
            features, labels = make(config)(serialized)
            assert shape(labels) == [None, len(LABELS)]
            assert shape(features["weights"]) == [None, 1]
            sparse = features["sparse"]
            assert isinstance(sparse, tf.SparseTensor) and shape(sparse) == [None, 2**BITS]
            group = shape(features["timelines"])
            assert len(group) == 2 and group[0] is None and group[1] is not None
            if n_timelines:
                assert group[1] == n_timelines
            values = check_run(features, labels, dataset["records"])
        assert values[0]["timelines"].shape == (len(dataset["records"]), group[1])
    with tf.Graph().as_default():
        merged = contrib_parsers.get_features_as_tensor_dict(config, tf.placeholder(tf.string, [None]))
        assert shape(merged["labels"]) == [None, len(LABELS)]

"""twml.contrib.readers and twml.contrib.parsers (the v2 FeatureConfig's readers, parse functions
and receivers) on DataRecords and BatchPredictionRequests built here with the Thrift IDL: dense
groups, hashed sparse columns (feature id / mixDiscreteIdAndValue masked to the hash bits, computed
in Python), labels, weights, common features and StringTensors, checked value by value."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml
import twml  # noqa: F401  (graph mode)
from twml.contrib import parsers, readers
from twml.contrib.feature_config import FeatureConfigBuilder
from twml_common import data_spec, idl
from twml_common.serialize import serialize

SPEC = [
    ("a.cont", "CONTINUOUS"),
    ("b.cont", "CONTINUOUS"),
    ("c.bin", "BINARY"),
    ("d.disc", "DISCRETE"),
    ("s.words", "TENSOR"),
    ("y.label", "BINARY"),
    ("w.weight", "CONTINUOUS"),
]
IDS = dict(zip([n for n, _ in SPEC], libtwml.feature_id([n for n, _ in SPEC]).tolist()))
BITS = 10
MASK = (1 << BITS) - 1


def mix_discrete(key, value):
    """mixDiscreteIdAndValue (reference §2.6): key XOR ((17 + value) * 2654435761), signed 64-bit."""
    mixed = (key ^ (((17 + value) * 2654435761) & (2**64 - 1))) & (2**64 - 1)
    return mixed - 2**64 if mixed >= 2**63 else mixed


def record(a=None, b=None, c=False, d=None, label=None, weight=None, words=None):
    continuous = {}
    for name, value in (("a.cont", a), ("b.cont", b), ("w.weight", weight)):
        if value is not None:
            continuous[IDS[name]] = value
    binary = {IDS["c.bin"]} if c else set()
    if label:
        binary.add(IDS["y.label"])
    tensors = None
    if words is not None:
        tensors = {
            IDS["s.words"]: idl.tensor.GeneralTensor(
                stringTensor=idl.tensor.StringTensor(strings=list(words), shape=[len(words)])
            )
        }
    return idl.data.DataRecord(
        binaryFeatures=binary or None,
        continuousFeatures=continuous or None,
        discreteFeatures={IDS["d.disc"]: d} if d is not None else None,
        tensors=tensors,
    )


RECORDS = [
    record(a=1.0, b=2.0, c=True, d=3, label=True, weight=0.5, words=["x", "yy", "z"]),
    record(a=3.0, d=-2, label=False, weight=2.0, words=["p"]),
    record(label=True),
    record(b=-1.0, c=True, words=[]),
]
# a.cont, b.cont with -9 for an absent one
DENSE = np.array([[1.0, 2.0], [3.0, -9.0], [-9.0, -9.0], [-9.0, -1.0]], np.float32)
LABELS = np.array([[1.0], [0.0], [1.0], [0.0]], np.float32)
WEIGHTS = np.array([[0.5], [2.0], [0.0], [0.0]], np.float32)  # a record without the weight feature: 0 (§2.6)


def expected_sparse(rows):
    """(row, column, value) of the hashed sparse output over c.bin (binary) and d.disc (discrete)."""
    entries = []
    for row, rec in enumerate(rows):
        if rec.binaryFeatures and IDS["c.bin"] in rec.binaryFeatures:
            entries.append((row, IDS["c.bin"] & MASK, 1.0))
        if rec.discreteFeatures:
            entries.append((row, mix_discrete(IDS["d.disc"], rec.discreteFeatures[IDS["d.disc"]]) & MASK, 1.0))
    return sorted(entries)


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("spec") / "data_spec.json")
    data_spec.write_data_spec(data_spec.make_data_spec(SPEC), path)
    return (
        FeatureConfigBuilder(path)
        .extract_feature_group(["a.cont", "b.cont"], "dense", "CONTINUOUS", -9.0)
        .extract_features_as_hashed_sparse(["c.bin", "d.disc"], "sparse", BITS)
        .add_labels(["y.label"])
        .define_weight("w.weight")
        .build()
    )


def sparse_entries(value):
    return sorted((int(r), int(c), float(v)) for (r, c), v in zip(value.indices, value.values))


def check_features(features, rows, batch, with_weights=True):
    np.testing.assert_array_equal(features["dense"], DENSE[rows])
    assert sparse_entries(features["sparse"]) == expected_sparse([RECORDS[r] for r in rows])
    np.testing.assert_array_equal(features["sparse"].dense_shape, [batch, 1 << BITS])
    if with_weights:
        np.testing.assert_array_equal(features["weights"], WEIGHTS[rows])


def serialized():
    return [serialize(r) for r in RECORDS]


def test_data_record_reader(config):
    assert readers.SUPPORTED_DENSE_FEATURE_TYPES == ("BINARY", "CONTINUOUS", "DISCRETE", "STRING")
    with tf.Graph().as_default():
        reader = readers.DataRecord(tf.constant(serialized()), config)
        features = reader.get_v2_features()
        assert features["dense"].shape.as_list() == [None, 2]
        with tf.Session() as session:
            values, labels, batch = session.run([features, reader.labels, reader.batch_size])
    assert batch == 4
    check_features(values, [0, 1, 2, 3], 4)
    np.testing.assert_array_equal(labels, LABELS)


def request_bytes(common=None):
    request = idl.prediction_service.BatchPredictionRequest(individualFeaturesList=RECORDS[1:], commonFeatures=common)
    return np.frombuffer(serialize(request), np.uint8)


def test_batch_prediction_request_readers_with_common_features(config):
    common = record(a=7.0, c=True)
    with tf.Graph().as_default():
        bytes_ = tf.placeholder(tf.uint8, [None])
        reader = readers.BatchPredictionRequest(bytes_, config)
        features = reader.get_v2_features()
        assert reader.labels is None
        with tf.Session() as session:
            with_common = session.run(features, {bytes_: request_bytes(common)})
            without = session.run(features, {bytes_: request_bytes()})
    check_features(without, [1, 2, 3], 3, with_weights=False)
    np.testing.assert_array_equal(without["weights"], np.ones((3, 1), np.float32))  # a request has no weights
    # hashed sparse outputs: the common c.bin is in every row (reference §5: common entries first) ...
    commons = [(row, IDS["c.bin"] & MASK, 1.0) for row in range(3)]
    assert sparse_entries(with_common["sparse"]) == sorted(expected_sparse(RECORDS[1:]) + commons)
    # ... while the dense *AsTensor getters ignore a request's commonFeatures, as the original's (README)
    np.testing.assert_array_equal(with_common["dense"], DENSE[[1, 2, 3]])


def test_hashed_batch_prediction_request(config):
    common = record(c=True)
    with tf.Graph().as_default():
        bytes_ = tf.placeholder(tf.uint8, [None])
        reader = readers.HashedBatchPredictionRequest(bytes_, config)
        sparse = reader.get_sparse_features()
        features = reader.get_features(["ids", "keys", "values", "batch_size"])
        assert reader.labels.shape.as_list() == [None, 1]
        with tf.Session() as session:
            got, rest, labels = session.run([sparse, features, reader.labels], {bytes_: request_bytes(common)})
    # the records' labels and weights are read (the train-graph receiver needs them)
    np.testing.assert_array_equal(labels, LABELS[1:])
    np.testing.assert_array_equal(rest["weights"], WEIGHTS[1:])
    # every row starts with the common c.bin, then its own kept entries: the config keeps every feature
    # it extracts (the dense group's continuous ones too, key = feature id, with their value)
    expected = []
    for row, rec in enumerate(RECORDS[1:]):
        expected.append((row, IDS["c.bin"], 1.0))
        for name in ("a.cont", "b.cont"):
            if rec.continuousFeatures and IDS[name] in rec.continuousFeatures:
                expected.append((row, IDS[name], rec.continuousFeatures[IDS[name]]))
        if rec.binaryFeatures and IDS["c.bin"] in rec.binaryFeatures:
            expected.append((row, IDS["c.bin"], 1.0))
        if rec.discreteFeatures:
            expected.append((row, mix_discrete(IDS["d.disc"], rec.discreteFeatures[IDS["d.disc"]]), 1.0))
    entries = sorted(zip(got["ids"].tolist(), got["keys"].tolist(), got["values"].tolist()))
    assert entries == sorted(expected)
    assert rest["batch_size"] == 3


def test_parse_fns_and_receivers(config):
    with tf.Graph().as_default():
        merged = parsers.get_features_as_tensor_dict(config, tf.constant(serialized()))
        keras_features, keras_labels = parsers.get_keras_parse_fn(config)(tf.constant(serialized()))
        with tf.Session() as session:
            merged, keras_features, keras_labels = session.run([merged, keras_features, keras_labels])
    check_features(merged, [0, 1, 2, 3], 4)
    np.testing.assert_array_equal(merged["labels"], LABELS)
    check_features(keras_features, [0, 1, 2, 3], 4)
    np.testing.assert_array_equal(keras_labels, LABELS)

    for make in (
        parsers.get_serving_input_receiver_fn_feature_dict,
        parsers.get_supervised_input_receiver_fn_feature_dict,
    ):
        with tf.Graph().as_default():
            receiver = make(config)()
            placeholder = receiver.receiver_tensors["serialized"]
            assert placeholder.dtype == tf.string and placeholder.shape.as_list() == [None]
            fetch = {"features": receiver.features}
            if hasattr(receiver, "labels"):
                fetch["labels"] = receiver.labels
            with tf.Session() as session:
                got = session.run(fetch, {placeholder: serialized()[1:3]})
        check_features(got["features"], [1, 2], 2)
        if "labels" in got:
            np.testing.assert_array_equal(got["labels"], LABELS[1:3])


WORDS = [[b"x", b"yy", b"z"], [b"p"], [], []]


def test_string_tensors(config):
    with tf.Graph().as_default():
        batch = tf.constant(serialized())
        record_reader = readers.DataRecord(batch, config)
        longest = parsers.parse_string_tensor(record_reader, "s.words", config)
        capped = parsers.parse_string_tensor(record_reader, "s.words", config, default_value="<pad>", max_length=2)
        features, labels = parsers.get_string_tensor_parse_fn(config, ["s.words"], "-", 4)(batch)
        receiver = parsers.get_string_tensor_serving_input_receiver_fn(config, ["s.words"])()
        with tf.Session() as session:
            longest, capped, features, labels = session.run([longest, capped, features, labels])
            served = session.run(receiver.features, {receiver.receiver_tensors["serialized"]: serialized()[:2]})

    def padded(length, pad):
        return np.array([(row + [pad] * length)[:length] for row in WORDS], object)

    np.testing.assert_array_equal(longest, padded(3, b""))
    np.testing.assert_array_equal(capped, padded(2, b"<pad>"))
    np.testing.assert_array_equal(features["s.words"], padded(4, b"-"))
    check_features(features, [0, 1, 2, 3], 4)
    np.testing.assert_array_equal(labels, LABELS)
    np.testing.assert_array_equal(served["s.words"], padded(3, b"")[:2])

"""The writer ops (reference §5.8), decoded through the project's Thrift IDL and libtwml's decoder."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from tensorflow.python.framework import op_def_registry

import libtwml
from twml_common import BatchPredictionResponse, DataRecord, DataType, deserialize

ops = libtwml.ops
RNG = np.random.default_rng(20240612)

RAW_TYPES = {
    np.dtype(np.float32): DataType.FLOAT,
    np.dtype(np.float64): DataType.DOUBLE,
    np.dtype(np.int32): DataType.INT32,
    np.dtype(np.int64): DataType.INT64,
    np.dtype(np.bool_): DataType.BOOL,
}


def unknown_shape(value, dtype=None):
    """A constant whose static shape is unknown, so that the kernel (not the shape function) checks it."""
    return tf.placeholder_with_default(tf.constant(value, dtype), shape=tf.TensorShape(None))


def run(build):
    """Builds a graph with build() and runs what it returns."""
    with tf.Graph().as_default():
        fetches = build()
        with tf.Session() as session:
            return session.run(fetches)


def written_bytes(result):
    assert result.dtype == np.uint8
    assert result.ndim == 2 and result.shape[0] == 1
    return result[0].tobytes()


def response(result):
    return deserialize(BatchPredictionResponse(), written_bytes(result))


def assert_general_tensor(general, expected):
    """A GeneralTensor holds `expected`: strings as StringTensor, the rest as little-endian RawTypedTensor."""
    expected = np.asarray(expected)
    if expected.dtype == object or expected.dtype.kind in "SU":
        assert general.rawTypedTensor is None
        assert general.stringTensor.strings == [s.decode() for s in expected.reshape(-1)]
        assert general.stringTensor.shape == list(expected.shape)
    else:
        assert general.stringTensor is None
        raw = general.rawTypedTensor
        assert raw.dataType == RAW_TYPES[expected.dtype]
        assert raw.content == expected.astype(expected.dtype.newbyteorder("<")).tobytes()
        assert raw.shape == list(expected.shape)


# --- Signatures ----------------------------------------------------------------------------------

TYPES = {
    "BatchPredictionResponseWriter": {tf.float32, tf.float64},
    "BatchPredictionTensorResponseWriter": {tf.string, tf.int32, tf.int64, tf.float32, tf.float64},
    "DataRecordTensorWriter": {tf.string, tf.int32, tf.int64, tf.float32, tf.float64, tf.bool},
}


@pytest.mark.parametrize("name", sorted(TYPES))
def test_registered_signature(name):
    assert ops.OPLIB  # loading the library registers its ops
    op = op_def_registry.get(name)
    assert [arg.name for arg in op.input_arg] == ["keys", "values"]
    assert op.input_arg[0].type == tf.int64.as_datatype_enum
    assert [arg.name for arg in op.output_arg] == ["result"]
    assert op.output_arg[0].type == tf.uint8.as_datatype_enum
    assert [attr.name for attr in op.attr] == ["T"]
    t = op.attr[0]
    assert t.type == ("type" if name == "BatchPredictionResponseWriter" else "list(type)")
    assert set(t.allowed_values.list.type) == {dtype.as_datatype_enum for dtype in TYPES[name]}


# --- BatchPredictionResponseWriter ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prediction_response_rows(dtype):
    keys = np.array([11, -22, 1 << 40], np.int64)
    values = RNG.normal(size=(4, 3)).astype(dtype)
    result = run(lambda: ops.batch_prediction_response_writer(keys, values))
    predictions = response(result).predictions
    assert len(predictions) == 4
    for row, record in zip(values, predictions):
        # float is widened to double exactly.
        assert record.continuousFeatures == {int(k): float(v) for k, v in zip(keys, row)}
        assert record.tensors is None and record.discreteFeatures is None


def test_prediction_response_one_prediction_per_row():
    values = np.array([0.25, -1.5, 3.0], np.float32)
    result = run(lambda: ops.batch_prediction_response_writer([7], values))
    assert [record.continuousFeatures for record in response(result).predictions] == [{7: 0.25}, {7: -1.5}, {7: 3.0}]


def test_prediction_response_empty_batch():
    result = run(lambda: ops.batch_prediction_response_writer([1, 2], np.zeros((0, 2), np.float64)))
    assert response(result).predictions == []


def test_prediction_response_static_shape():
    with tf.Graph().as_default():
        out = ops.batch_prediction_response_writer([1, 2], tf.zeros((5, 2)))
        assert out.shape.as_list() == [1, None]


@pytest.mark.parametrize(
    "keys, values, message",
    [
        ([1, 2], np.zeros((3, 3), np.float32), "2 keys for 3 prediction columns"),
        ([], np.zeros(3, np.float32), "1-D values \\(one prediction per row\\) need a key"),
        ([1], np.zeros((1, 1, 1), np.float32), "values must be \\[batch, K\\] or \\[batch\\]"),
        ([1], np.float32(1), "values must be \\[batch, K\\] or \\[batch\\]"),
        ([[1]], np.zeros((1, 1), np.float32), "keys must be a vector"),
    ],
)
def test_prediction_response_bad_shapes(keys, values, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        run(lambda: ops.batch_prediction_response_writer(unknown_shape(keys, tf.int64), unknown_shape(values)))
    with pytest.raises(ValueError):  # the shape function sees it first when shapes are known
        run(lambda: ops.batch_prediction_response_writer(np.array(keys, np.int64), values))


@pytest.mark.parametrize("dtype", [np.int8, np.int32])
def test_prediction_response_rejects_other_types(dtype):
    with pytest.raises(TypeError, match="float32, float64"):
        run(lambda: ops.batch_prediction_response_writer([1], np.zeros((2, 1), dtype)))


# --- BatchPredictionTensorResponseWriter -------------------------------------------------------


def dense_values(batch):
    return [
        RNG.normal(size=(batch, 3)).astype(np.float32),
        np.arange(batch, dtype=np.int64) - (1 << 40),
        np.array([[b"a%d" % i, b"\xc3\xa9"] for i in range(batch)], dtype=object),
        RNG.normal(size=(batch, 1, 2)),
        np.arange(batch, dtype=np.int32) * -3,
    ]


def test_tensor_response_rows():
    keys = np.array([1, 2, 30, 4, -5], np.int64)
    values = dense_values(3)
    result = run(lambda: ops.batch_prediction_tensor_response_writer(keys, values))
    predictions = response(result).predictions
    assert len(predictions) == 3
    for i, record in enumerate(predictions):
        assert record.continuousFeatures is None
        assert sorted(record.tensors) == sorted(keys.tolist())
        for key, value in zip(keys, values):
            assert_general_tensor(record.tensors[int(key)], value[i])


def test_tensor_response_empty_batch_and_static_shape():
    result = run(lambda: ops.batch_prediction_tensor_response_writer([1], [np.zeros((0, 2), np.float32)]))
    assert response(result).predictions == []
    with tf.Graph().as_default():
        out = ops.batch_prediction_tensor_response_writer([1, 2], [tf.zeros((4, 2)), tf.zeros(4, tf.int64)])
        assert out.shape.as_list() == [1, None]


@pytest.mark.parametrize(
    "keys, values, message",
    [
        ([1, 2], [np.zeros(2, np.float32)] * 3, r"values \(3\) must be a multiple of the number of keys \(2\)"),
        ([1, 2], [np.zeros(2, np.float32)] * 4, "2 dense keys for 4 dense tensors"),
        ([1], [np.zeros(2, np.float32)] * 2, "1 dense keys for 2 dense tensors"),
        ([1, 2], [np.zeros(2, np.float32), np.zeros((3, 1), np.int64)], "dense tensor 1 has 3 rows, expected 2"),
        ([1], [np.float32(2)], "values\\[0\\] must have the batch on dim 0"),
        ([[1]], [np.zeros(2, np.float32)], "keys must be a vector"),
        (
            np.zeros(0, np.int64),
            [np.zeros(2, np.float32)],
            r"values \(1\) must be a multiple of the number of keys \(0\)",
        ),
    ],
)
def test_tensor_response_bad_inputs(keys, values, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        run(
            lambda: ops.batch_prediction_tensor_response_writer(
                unknown_shape(keys, tf.int64), [unknown_shape(v) for v in values]
            )
        )
    with pytest.raises(ValueError):  # the shape function sees it first when shapes are known
        run(lambda: ops.batch_prediction_tensor_response_writer(np.array(keys, np.int64), values))


@pytest.mark.parametrize("dtype", [np.int8, np.bool_])
def test_tensor_response_rejects_other_types(dtype):
    with pytest.raises(TypeError, match="not in list of allowed values"):
        run(lambda: ops.batch_prediction_tensor_response_writer([1], [np.zeros(2, dtype)]))


# --- DataRecordTensorWriter --------------------------------------------------------------------


def record_values():
    return {
        1: RNG.normal(size=(2, 3)).astype(np.float32),
        2: RNG.normal(size=4),
        3: np.array([[1, -2], [3, 1 << 30]], np.int32),
        4: np.array([-(1 << 50), 7], np.int64),
        5: np.array([True, False, True]),
        6: np.array([b"x", b"", b"yz"], dtype=object),
        -7: np.array([[[0.5]]], np.float64),
    }


def test_data_record_tensors():
    values = record_values()
    keys = np.array(list(values), np.int64)
    result = run(lambda: ops.data_record_tensor_writer(keys, list(values.values())))
    data = written_bytes(result)

    record = deserialize(DataRecord(), data)
    assert record.continuousFeatures is None and record.sparseTensors is None
    assert sorted(record.tensors) == sorted(values)
    for key, value in values.items():
        assert_general_tensor(record.tensors[key], value)

    decoded = libtwml._core.decode_data_record(data)["tensors"]
    assert sorted(decoded) == sorted(values)
    for key, value in values.items():
        assert decoded[key].shape == value.shape
        assert decoded[key].dtype == value.dtype
        np.testing.assert_array_equal(decoded[key], value)


@pytest.mark.parametrize("writer", ["data_record_tensor_writer", "batch_prediction_tensor_response_writer"])
def test_list_writers_need_a_value(writer):
    # TF gives a list(type) input attr a minimum length of 1.
    with pytest.raises(ValueError, match="less than minimum 1"):
        run(lambda: getattr(ops, writer)(np.zeros(0, np.int64), []))


@pytest.mark.parametrize(
    "keys, values, message",
    [
        ([1, 2], [np.zeros(2, np.float32)], "2 keys for 1 values: there must be one key per value"),
        ([1], [np.zeros(2, np.float32), np.zeros(1, np.int64)], "1 keys for 2 values"),
        ([[1]], [np.zeros(2, np.float32)], "keys must be a vector"),
    ],
)
def test_data_record_bad_inputs(keys, values, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        run(lambda: ops.data_record_tensor_writer(unknown_shape(keys, tf.int64), values))
    with pytest.raises(ValueError):  # the shape function sees it first when shapes are known
        run(lambda: ops.data_record_tensor_writer(np.array(keys, np.int64), values))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_data_record_rejects_other_types(dtype):
    with pytest.raises(TypeError, match="not in list of allowed values"):
        run(lambda: ops.data_record_tensor_writer([1], [np.zeros(2, dtype)]))

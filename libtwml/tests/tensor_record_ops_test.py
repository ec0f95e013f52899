"""Tensor getters of decoded batches (reference §5.4), from DataRecord and HashedDataRecord."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml
from twml_common import (
    COOSparseTensor,
    DataRecord,
    DoubleTensor,
    FloatTensor,
    GeneralTensor,
    Int64Tensor,
    SparseTensor,
    serialize,
)

ops = libtwml.ops
RAW, STRINGS, LIST, SPARSE = 1, 2, 3, 4


def records():
    raw0 = np.arange(6, dtype=np.float32).reshape(2, 3)
    raw1 = -np.arange(6, dtype=np.float32).reshape(2, 3)
    first = libtwml._core.encode_data_record({"tensors": {RAW: raw0, STRINGS: np.array([b"a", b"bc"], dtype=object)}})
    second = libtwml._core.encode_data_record({"tensors": {RAW: raw1}})
    third = serialize(
        DataRecord(
            tensors={LIST: GeneralTensor(int64Tensor=Int64Tensor(longs=[5, -6]))},
            sparseTensors={
                SPARSE: SparseTensor(
                    cooSparseTensor=COOSparseTensor(
                        denseShape=[4],
                        indices=Int64Tensor(longs=[3]),
                        values=GeneralTensor(doubleTensor=DoubleTensor(doubles=[0.5])),
                    )
                )
            },
        )
    )
    return [first, second, third], raw0, raw1


def handles(data):
    kwargs = dict(keep_features=[], keep_codes=[], label_features=[])
    return {
        "DataRecord": ops.decode_data_record(tf.constant(data), **kwargs),
        "HashedDataRecord": ops.decode_and_hash_data_record(tf.constant(data), **kwargs),
    }


def getter(name, source):
    return getattr(ops, "get_%s_from_%s" % (name, "data_record" if source == "DataRecord" else "hashed_data_record"))


@pytest.mark.parametrize("source", ["DataRecord", "HashedDataRecord"])
def test_raw_tensors_as_bytes_with_shape_type_and_endianness(source):
    data, raw0, raw1 = records()
    with tf.Graph().as_default():
        handle = handles(data[:2])[source]
        output, shape, dtype, endian = tf.Session().run(
            getter("tensors", source)(handle, assert_shape=True, feature_id=RAW)
        )
    assert output.tolist() == [raw0.tobytes(), raw1.tobytes()]
    assert shape.tolist() == [2, 2, 3] and dtype == b"float32" and endian == 0


@pytest.mark.parametrize("source", ["DataRecord", "HashedDataRecord"])
def test_missing_mask_fills_zero_bytes(source):
    data, raw0, _ = records()
    with tf.Graph().as_default():
        handle = handles([data[0], data[2]])[source]
        output, dtype, endian, found = tf.Session().run(
            getter("tensors_with_missing_mask", source)(
                handle, assert_shape=True, feature_id=RAW, default_shape=[2, 3], dtype_size=4
            )
        )
    assert output.tolist() == [raw0.tobytes(), bytes(24)]
    assert found.tolist() == [True, False] and dtype == b"float32" and endian == 0


def test_float_tensors_travel_as_big_endian_doubles():
    record = serialize(DataRecord(tensors={9: GeneralTensor(floatTensor=FloatTensor(floats=[1.5, 2.0], shape=[2]))}))
    with tf.Graph().as_default():
        handle = handles([record, serialize(DataRecord())])["DataRecord"]
        output, dtype, endian, found = tf.Session().run(
            ops.get_tensors_with_missing_mask_from_data_record(
                handle, assert_shape=False, feature_id=9, default_shape=[2], dtype_size=4
            )
        )
    assert np.frombuffer(output[0], ">f8").tolist() == [1.5, 2.0]
    assert dtype == b"float64" and endian == 1 and found.tolist() == [True, False]
    assert output[1] == bytes(16)  # the missing row is as long as two doubles


@pytest.mark.parametrize("source", ["DataRecord", "HashedDataRecord"])
def test_string_tensors_and_list_tensors(source):
    data, _, _ = records()
    with tf.Graph().as_default():
        handle = handles(data)[source]
        ids, strings = tf.Session().run(getter("string_tensors", source)(handle, feature_id=STRINGS))
        one = handles([data[2]])[source]
        output, shape, dtype, endian = tf.Session().run(
            getter("tensors", source)(one, assert_shape=False, feature_id=LIST)
        )
    assert ids.tolist() == [0, 0] and strings.tolist() == [b"a", b"bc"]
    assert np.frombuffer(output[0], ">i8").tolist() == [5, -6]
    assert shape.tolist() == [1, 2] and dtype == b"int64" and endian == 1


@pytest.mark.parametrize("source", ["DataRecord", "HashedDataRecord"])
def test_sparse_tensors(source):
    data, _, _ = records()
    with tf.Graph().as_default():
        handle = handles(data)[source]
        ids, indices, values, dense_shape, values_type, endian = tf.Session().run(
            getter("sparse_tensors", source)(handle, feature_id=SPARSE)
        )
    assert ids.tolist() == [2]
    assert np.frombuffer(indices[0], ">i8").tolist() == [3]
    assert np.frombuffer(values[0], ">f8").tolist() == [0.5]
    assert dense_shape.tolist() == [3, 4] and values_type == b"float64" and endian == 1


def test_missing_tensor_and_mismatched_types_fail_clearly():
    data, _, _ = records()
    with tf.Graph().as_default():
        handle = handles([data[0], data[2]])["DataRecord"]
        with pytest.raises(tf.errors.InvalidArgumentError, match="row 1 has no tensor feature 1"):
            tf.Session().run(ops.get_tensors_from_data_record(handle, assert_shape=False, feature_id=RAW))
        with pytest.raises(tf.errors.InvalidArgumentError, match="holds float32, not strings"):
            tf.Session().run(ops.get_string_tensors_from_data_record(handle, feature_id=RAW))
        other = libtwml._core.encode_data_record({"tensors": {RAW: np.zeros((2, 3), np.float64)}})
        mixed = handles([data[0], other])["DataRecord"]
        with pytest.raises(
            tf.errors.InvalidArgumentError, match="row 1 holds float64 \\(raw\\) but row 0 holds float32"
        ):
            tf.Session().run(ops.get_tensors_from_data_record(mixed, assert_shape=False, feature_id=RAW))
        reshaped = libtwml._core.encode_data_record({"tensors": {RAW: np.zeros((3, 2), np.float32)}})
        different = handles([data[0], reshaped])["DataRecord"]
        with pytest.raises(tf.errors.InvalidArgumentError, match="row 1 differs in shape"):
            tf.Session().run(ops.get_tensors_from_data_record(different, assert_shape=True, feature_id=RAW))

"""Op parity with the original libtwml: the cases a differential test against the original C++
found, each with the original's output as the expected value.

The records with repeated keys are non-canonical Thrift that thriftpy2 cannot write (its sets and
maps are Python sets and dicts), so they are assembled here from the binary protocol's bytes.
"""

import math
import struct

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml
from twml_common import BatchPredictionRequest, BatchPredictionResponse, DataRecord, deserialize, serialize

ops = libtwml.ops

# Thrift binary-protocol type codes.
DOUBLE, I64, STRING, STRUCT, MAP, SET, LIST = 4, 10, 11, 12, 13, 14, 15


def field(type_code: int, field_id: int) -> bytes:
    return struct.pack(">bh", type_code, field_id)


def i64(value: int) -> bytes:
    return struct.pack(">q", value)


def double(value: float) -> bytes:
    return struct.pack(">d", value)


def string(value: bytes) -> bytes:
    return struct.pack(">i", len(value)) + value


def set_header(element_type: int, count: int) -> bytes:
    return struct.pack(">bi", element_type, count)


def map_header(key_type: int, value_type: int, count: int) -> bytes:
    return struct.pack(">bbi", key_type, value_type, count)


def binary_field(ids) -> bytes:
    return field(SET, 1) + set_header(I64, len(ids)) + b"".join(i64(i) for i in ids)


def continuous_field(pairs) -> bytes:
    return field(MAP, 2) + map_header(I64, DOUBLE, len(pairs)) + b"".join(i64(k) + double(v) for k, v in pairs)


def discrete_field(pairs) -> bytes:
    return field(MAP, 3) + map_header(I64, I64, len(pairs)) + b"".join(i64(k) + i64(v) for k, v in pairs)


def string_field(pairs) -> bytes:
    return field(MAP, 4) + map_header(I64, STRING, len(pairs)) + b"".join(i64(k) + string(v) for k, v in pairs)


def sparse_binary_field(id_, names) -> bytes:
    return (
        field(MAP, 5)
        + map_header(I64, SET, 1)
        + i64(id_)
        + set_header(STRING, len(names))
        + b"".join(string(n) for n in names)
    )


def sparse_continuous_field(id_, pairs) -> bytes:
    return (
        field(MAP, 6)
        + map_header(I64, MAP, 1)
        + i64(id_)
        + map_header(STRING, DOUBLE, len(pairs))
        + b"".join(string(n) + double(v) for n, v in pairs)
    )


STOP = b"\x00"
B5, B6, D7, S8, SB9, SC10 = 5, 6, 7, 8, 9, 10
KEEP = [B5, B6, D7, S8, SB9, SC10]

# The record {binary: [5, 5, 6], continuous: {5: 1.0, 5: 2.0}}, with a repeat in every
# other set and map too, and the binary field repeated on the wire.
REPEATS = (
    binary_field([B5, B5, B6])
    + continuous_field([(B5, 1.0), (B5, 2.0)])
    + discrete_field([(D7, 1), (D7, 3)])
    + string_field([(S8, b"a"), (S8, b"b")])
    + sparse_binary_field(SB9, [b"x", b"x", b"y"])
    + sparse_continuous_field(SC10, [(b"n", 1.0), (b"m", 4.0), (b"n", 2.0)])
    + binary_field([B6, B5])
    + STOP
)


def run(fetches):
    with tf.Session() as session:
        return session.run(fetches)


def rows(*columns):
    return list(zip(*(np.asarray(c).tolist() for c in columns)))


# --- 1. repeated keys in one record -------------------------------------------------------------


def test_repeated_keys_keep_each_key_once_in_every_per_type_getter():
    with tf.Graph().as_default():
        handle = ops.decode_data_record(tf.constant([REPEATS]), keep_features=KEEP, keep_codes=KEEP, label_features=[])
        out = run(
            {
                "binary": ops.get_binary_features(handle),
                "continuous": ops.get_continuous_features(handle),
                "discrete": ops.get_discrete_features(handle),
                "string": ops.get_string_features(handle),
                "sparse_binary": ops.get_sparse_binary_features(handle),
                "sparse_continuous": ops.get_sparse_continuous_features(handle),
            }
        )
    # Sets deduplicated, maps last-value-wins (each key in the place of its first appearance).
    assert rows(*out["binary"]) == [(0, B5, 1.0), (0, B6, 1.0)]
    assert rows(*out["continuous"]) == [(0, B5, 2.0)]
    assert rows(*out["discrete"]) == [(0, D7, 3)]
    assert rows(*out["string"]) == [(0, S8, b"b", 1.0)]
    assert rows(*out["sparse_binary"]) == [(0, SB9, b"x", 1.0), (0, SB9, b"y", 1.0)]
    assert rows(*out["sparse_continuous"]) == [(0, SC10, 2.0, b"n"), (0, SC10, 4.0, b"m")]


def expected_hashed(decode_mode):
    name_key = (
        (lambda name: libtwml.feature_id(name)[0])
        if decode_mode == 0
        else (lambda name: libtwml.mix_string_id_and_value(SC10, name))
    )
    return [
        (B5, B5, 1.0),
        (B6, B6, 1.0),
        (B5, B5, 2.0),
        (D7, libtwml.mix_discrete_id_and_value(D7, 3), 1.0),
        (S8, libtwml.mix_string_id_and_value(S8, b"b"), 1.0),
        (SB9, libtwml.mix_string_id_and_value(SB9, b"x"), 1.0),
        (SB9, libtwml.mix_string_id_and_value(SB9, b"y"), 1.0),
        (SC10, name_key(b"n"), 2.0),
        (SC10, name_key(b"m"), 4.0),
    ]


@pytest.mark.parametrize("decode_mode", [0, 1])
def test_repeated_keys_in_the_hashed_decoder(decode_mode):
    with tf.Graph().as_default():
        handle = ops.decode_and_hash_data_record(
            tf.constant([REPEATS, REPEATS]),
            keep_features=KEEP,
            keep_codes=KEEP,
            label_features=[],
            decode_mode=decode_mode,
        )
        ids, ukeys, keys, values = run(
            [
                ops.get_ids_from_hashed_data_record(handle),
                ops.get_u_keys_from_hashed_data_record(handle),
                ops.get_keys_from_hashed_data_record(handle),
                ops.get_values_from_hashed_data_record(handle),
            ]
        )
    # Continuous id 5 and binary id 5 are different keys (different types).
    expected = expected_hashed(decode_mode)
    assert rows(ukeys, keys, values) == expected + expected
    assert ids.tolist() == [0] * len(expected) + [1] * len(expected)


@pytest.mark.parametrize("v2", [False, True])
def test_repeated_keys_in_get_hashed_features_as_sparse_tensor(v2):
    lists = dict(
        binary_keep_features=[B5, B6],
        continuous_keep_features=[B5],
        discrete_keep_features=[D7],
        string_keep_features=[S8],
        sparse_binary_keep_features=[SB9],
        sparse_continuous_keep_features=[SC10],
    )
    with tf.Graph().as_default():
        handle = ops.decode_data_record(tf.constant([REPEATS]), keep_features=KEEP, keep_codes=KEEP, label_features=[])
        if v2:
            getter = ops.get_hashed_features_as_sparse_tensor_v2(
                handle, keep_features=KEEP, keep_codes=KEEP, decode_mode=1, **lists
            )
        else:
            getter = ops.get_hashed_features_as_sparse_tensor(handle, **lists)
        ids, keys, values = run(getter)
    assert rows(keys, values) == [(key, value) for _, key, value in expected_hashed(1)]


def test_repeated_map_key_sets_a_label_and_weight_to_its_last_value():
    record = continuous_field([(11, 0.25), (12, 3.0), (11, 0.75), (12, 5.0)]) + STOP
    with tf.Graph().as_default():
        for decode in (ops.decode_data_record, ops.decode_and_hash_data_record):
            handle = decode(
                tf.constant([record]), keep_features=[], keep_codes=[], label_features=[11], weight_features=[12]
            )
            getters = (
                (ops.get_labels_from_data_record, ops.get_weights_from_data_record)
                if decode is ops.decode_data_record
                else (ops.get_labels_from_hashed_data_record, ops.get_weights_from_hashed_data_record)
            )
            labels, weights = run([getters[0](handle, default_label=-1.0), getters[1](handle)])
            assert labels.tolist() == [[0.75]] and weights.tolist() == [[5.0]]


# --- 2. a repeated id in the feature_ids of the Get*GroupAsTensor ops ---------------------------


def test_group_as_tensor_fills_every_column_of_a_repeated_id():
    record = serialize(DataRecord(continuousFeatures={5: 1.5, 6: 2.5}, binaryFeatures=[5]))
    with tf.Graph().as_default():
        handle = ops.decode_data_record(tf.constant([record]), keep_features=[], keep_codes=[], label_features=[])
        continuous, binary = run(
            [
                ops.get_continuous_group_as_tensor(handle, feature_ids=[5, 6, 5], default_value=-1.0),
                ops.get_binary_group_as_tensor(handle, feature_ids=[5, 5, 6], default_value=0.0),
            ]
        )
    np.testing.assert_array_equal(continuous, [[1.5, 2.5, 1.5]])
    np.testing.assert_array_equal(binary, [[1.0, 1.0, 0.0]])


# --- 4. writers with repeated keys ---------------------------------------------------------------


def written(build):
    with tf.Graph().as_default():
        result = run(build())
    return result[0].tobytes()


def test_prediction_writer_keeps_the_last_value_of_a_repeated_key():
    repeated = written(lambda: ops.batch_prediction_response_writer([7, 7], np.array([[1.0, 2.0]], np.float32)))
    assert repeated == written(lambda: ops.batch_prediction_response_writer([7], np.array([[2.0]], np.float32)))


def test_tensor_writers_keep_the_first_value_of_a_repeated_key():
    one, two = np.array([1.0], np.float32), np.array([2.0], np.float32)
    assert written(lambda: ops.data_record_tensor_writer([7, 7], [one, two])) == written(
        lambda: ops.data_record_tensor_writer([7], [one])
    )
    assert written(lambda: ops.batch_prediction_tensor_response_writer([7, 7], [one[None], two[None]])) == written(
        lambda: ops.batch_prediction_tensor_response_writer([7], [one[None]])
    )


# --- 5. BatchPredictionResponseWriter with 1-D values ---------------------------------------------


def test_prediction_writer_writes_1d_values_under_the_first_key():
    result = written(lambda: ops.batch_prediction_response_writer([7, 8], np.array([0.5, 0.25, 1.0], np.float32)))
    predictions = deserialize(BatchPredictionResponse(), result).predictions
    assert [p.continuousFeatures for p in predictions] == [{7: 0.5}, {7: 0.25}, {7: 1.0}]


# --- 6. commonFeatures and the AsTensor getters ----------------------------------------------------


def test_as_tensor_getters_ignore_a_requests_common_features():
    common = DataRecord(
        binaryFeatures=[1],
        continuousFeatures={2: 5.0},
        discreteFeatures={3: 9},
        stringFeatures={4: "c"},
        sparseBinaryFeatures={5: ["s"]},
        sparseContinuousFeatures={6: {"t": 1.0}},
    )
    request = BatchPredictionRequest(
        individualFeaturesList=[DataRecord(), DataRecord(continuousFeatures={2: 7.0})], commonFeatures=common
    )
    data = np.frombuffer(serialize(request), np.uint8)
    with tf.Graph().as_default():
        handle = ops.decode_batch_prediction_request(tf.constant(data), keep_features=[5, 6], keep_codes=[0, 0])
        out = run(
            {
                "binary": ops.get_binary_as_tensor(handle, feature_id=1, default_value=-1.0),
                "continuous": ops.get_continuous_as_tensor(handle, feature_id=2, default_value=-1.0),
                "discrete": ops.get_discrete_as_tensor(handle, feature_id=3, default_value=-1),
                "string": ops.get_string_as_tensor(handle, feature_id=4, default_value="none"),
                "group": ops.get_binary_group_as_tensor(handle, feature_ids=[1], default_value=-1.0),
                "sparse_binary": ops.get_sparse_binary_as_tensor(handle, feature_id=5),
                "sparse_continuous": ops.get_sparse_continuous_as_tensor(handle, feature_id=6),
                # The per-type getters do read them, as in the original.
                "per_type": ops.get_binary_features(handle),
            }
        )
    assert out["binary"].tolist() == [-1.0, -1.0]
    assert out["continuous"].tolist() == [-1.0, 7.0]
    assert out["discrete"].tolist() == [-1, -1]
    assert out["string"].tolist() == [b"none", b"none"]
    assert out["group"].tolist() == [[-1.0], [-1.0]]
    assert all(len(column) == 0 for column in out["sparse_binary"])
    assert all(len(column) == 0 for column in out["sparse_continuous"])
    assert rows(*out["per_type"]) == []  # binary feature 1 is not kept
    with tf.Graph().as_default():
        handle = ops.decode_batch_prediction_request(tf.constant(data), keep_features=[1], keep_codes=[0])
        assert rows(*run(ops.get_binary_features(handle))) == [(0, 1, 1.0), (1, 1, 1.0)]


# --- 9. an empty serialized record ------------------------------------------------------------------


def test_empty_bytes_decode_as_an_empty_record():
    with tf.Graph().as_default():
        plain = ops.decode_data_record(tf.constant([b""]), keep_features=[1], keep_codes=[0], label_features=[2])
        hashed = ops.decode_and_hash_data_record(
            tf.constant([b""]), keep_features=[1], keep_codes=[0], label_features=[2]
        )
        out = run(
            [
                ops.get_batch_size_from_data_record(plain),
                ops.get_labels_from_data_record(plain, default_label=0.5),
                ops.get_batch_size_from_hashed_data_record(hashed),
                ops.get_labels_from_hashed_data_record(hashed, default_label=0.5),
                ops.get_keys_from_hashed_data_record(hashed),
            ]
        )
    assert out[0] == 1 and out[1].tolist() == [[0.5]]
    assert out[2] == 1 and out[3].tolist() == [[0.5]]
    assert out[4].dtype == np.int64 and out[4].size == 0


# --- 10. sparse-continuous value names in decode mode 0 ----------------------------------------------


def hashed_keys(record: bytes):
    with tf.Graph().as_default():
        handle = ops.decode_and_hash_data_record(
            tf.constant([record]), keep_features=[SC10], keep_codes=[0], label_features=[], decode_mode=0
        )
        return run([ops.get_keys_from_hashed_data_record(handle), ops.get_values_from_hashed_data_record(handle)])


def test_an_overlong_utf8_name_is_hashed_as_the_original():
    # C0 80 is an overlong encoding of U+0000; the original's converter decodes it to U+0000.
    keys, values = hashed_keys(sparse_continuous_field(SC10, [(b"\xc0\x80", 1.0)]) + STOP)
    assert keys.tolist() == [libtwml.feature_id(b"\x00")[0]]
    assert values.tolist() == [1.0]
    # FeatureId of a name a user writes still rejects it.
    with pytest.raises(libtwml.Error, match="overlong"):
        libtwml.feature_id(b"\xc0\x80")


def test_a_nan_value_under_an_invalid_name_is_an_error_not_dropped():
    with pytest.raises(tf.errors.InvalidArgumentError, match="sparseContinuousFeatures name: invalid UTF-8"):
        hashed_keys(sparse_continuous_field(SC10, [(b"\xff", math.nan)]) + STOP)
    # Under a valid name a NaN value is skipped, as every NaN value.
    keys, _ = hashed_keys(sparse_continuous_field(SC10, [(b"ok", math.nan), (b"x", 2.0)]) + STOP)
    assert keys.tolist() == [libtwml.feature_id("x")[0]]

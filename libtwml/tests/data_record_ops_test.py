"""DataRecord decode ops and their getters, against the reference rules of §2.6 and §5.1-5.3.

Records are written with thriftpy2 from the project's IDL; thriftpy2 writes maps and sets in
Python iteration order, so the ops' wire-order output can be compared exactly.
"""

import math

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml
from twml_common import BatchPredictionRequest, DataRecord, serialize

ops = libtwml.ops
NAN = float("nan")

# Feature ids: small numbers keep the expectations readable; two labels and a weight.
B1, B2, C1, C2, D1, S1, SB1, SC1, BLOB1 = 101, 102, 201, 202, 301, 401, 501, 601, 701
LABEL_B, LABEL_C, WEIGHT = 901, 902, 903
KEEP = [B1, C1, C2, D1, S1, SB1, SC1, BLOB1]
CODES = [10, 20, 21, 30, 40, 50, 60, 70]
CODE = dict(zip(KEEP, CODES))


def record_a():
    return DataRecord(
        binaryFeatures=[B1, B2, LABEL_B],
        continuousFeatures={C1: 0.5, C2: NAN, LABEL_C: 0.25, WEIGHT: 3.0},
        discreteFeatures={D1: 7},
        stringFeatures={S1: "abc"},
        sparseBinaryFeatures={SB1: ["x", "y"], 999: ["dropped"]},
        sparseContinuousFeatures={SC1: {"n1": 1.5, "n2": NAN}},
        blobFeatures={BLOB1: b"\x00\x01", 998: b"dropped"},
    )


def record_b():
    return DataRecord(continuousFeatures={C1: -2.0, LABEL_C: NAN}, binaryFeatures=[B1])


def run(fetches):
    with tf.Session() as session:
        return session.run(fetches)


def decode(records, **kwargs):
    kwargs.setdefault("keep_features", KEEP)
    kwargs.setdefault("keep_codes", CODES)
    kwargs.setdefault("label_features", [LABEL_B, LABEL_C])
    kwargs.setdefault("weight_features", [WEIGHT])
    data = [r if isinstance(r, bytes) else serialize(r) for r in records]
    return ops.decode_data_record(tf.constant(data), **kwargs)


def triplets(ids, keys, values):
    return list(zip(ids.tolist(), keys.tolist(), np.asarray(values).tolist()))


def test_getters_follow_the_keep_map_and_wire_order():
    with tf.Graph().as_default():
        handle = decode([record_a(), record_b()])
        out = run(
            {
                "binary": ops.get_binary_features(handle),
                "continuous": ops.get_continuous_features(handle),
                "discrete": ops.get_discrete_features(handle),
                "string": ops.get_string_features(handle),
                "sparse_binary": ops.get_sparse_binary_features(handle),
                "sparse_continuous": ops.get_sparse_continuous_features(handle),
                "batch_size": ops.get_batch_size_from_data_record(handle),
                "labels": ops.get_labels_from_data_record(handle, default_label=-1.0),
                "weights": ops.get_weights_from_data_record(handle),
            }
        )
    assert triplets(*out["binary"]) == [(0, B1, 1.0), (1, B1, 1.0)]
    # NaN continuous values are dropped; labels and weights are not kept features.
    assert triplets(*out["continuous"]) == [(0, C1, 0.5), (1, C1, -2.0)]
    assert triplets(*out["discrete"]) == [(0, D1, 7)]
    ids, keys, names, values = out["string"]
    assert (ids.tolist(), keys.tolist(), names.tolist(), values.tolist()) == ([0], [S1], [b"abc"], [1.0])
    ids, keys, names, values = out["sparse_binary"]
    assert list(zip(ids, keys, names, values)) == [(0, SB1, b"x", 1.0), (0, SB1, b"y", 1.0)]
    ids, keys, values, names = out["sparse_continuous"]
    assert list(zip(ids, keys, values, names)) == [(0, SC1, 1.5, b"n1")]
    assert out["batch_size"] == 2
    # Record a: binary label present (1), continuous label 0.25; record b: label NaN -> default.
    np.testing.assert_array_equal(out["labels"], [[1.0, 0.25], [-1.0, -1.0]])
    np.testing.assert_array_equal(out["weights"], [[3.0], [0.0]])


def test_dense_getters_are_not_keep_filtered():
    with tf.Graph().as_default():
        handle = decode([record_a(), record_b()], keep_features=[], keep_codes=[])
        out = run(
            [
                ops.get_binary_as_tensor(handle, feature_id=B2, default_value=-1.0),
                ops.get_continuous_as_tensor(handle, feature_id=C1, default_value=9.0),
                ops.get_discrete_as_tensor(handle, feature_id=D1, default_value=-5),
                ops.get_string_as_tensor(handle, feature_id=S1, default_value="none"),
                ops.get_continuous_group_as_tensor(handle, feature_ids=[C1, WEIGHT, 12345], default_value=0.0),
                ops.get_binary_group_as_tensor(handle, feature_ids=[B1, B2], default_value=0.0),
            ]
        )
    assert out[0].tolist() == [1.0, -1.0]
    assert out[1].tolist() == [0.5, -2.0]
    assert out[2].tolist() == [7, -5]
    assert out[3].tolist() == [b"abc", b"none"]
    np.testing.assert_array_equal(out[4], [[0.5, 3.0, 0.0], [-2.0, 0.0, 0.0]])
    np.testing.assert_array_equal(out[5], [[1.0, 1.0], [1.0, 0.0]])


def test_sparse_as_tensor_getters():
    with tf.Graph().as_default():
        handle = decode([record_a()])
        (ids, keys, names), (cids, ckeys, cnames, cvalues) = run(
            [
                ops.get_sparse_binary_as_tensor(handle, feature_id=SB1),
                ops.get_sparse_continuous_as_tensor(handle, feature_id=SC1),
            ]
        )
    assert (ids.tolist(), keys.tolist(), names.tolist()) == ([0, 0], [SB1, SB1], [b"x", b"y"])
    assert (cids.tolist(), ckeys.tolist(), cnames.tolist(), cvalues.tolist()) == ([0], [SC1], [b"n1"], [1.5])


def hashed_expectation(record, keep, decode_mode):
    """(ukey, key, value, code, type) entries of a record by the §2.6 hashed rules, in wire order."""
    entries = []
    for id_ in record.binaryFeatures or []:
        if id_ in keep:
            entries.append((id_, id_, 1.0, keep[id_], 1))
    for id_, value in (record.continuousFeatures or {}).items():
        if id_ in keep and not math.isnan(value):
            entries.append((id_, id_, value, keep[id_], 2))
    for id_, value in (record.discreteFeatures or {}).items():
        if id_ in keep:
            entries.append((id_, libtwml.mix_discrete_id_and_value(id_, value), 1.0, keep[id_], 3))
    for id_, value in (record.stringFeatures or {}).items():
        if id_ in keep:
            entries.append((id_, libtwml.mix_string_id_and_value(id_, value), 1.0, keep[id_], 4))
    for id_, names in (record.sparseBinaryFeatures or {}).items():
        for name in names if id_ in keep else []:
            entries.append((id_, libtwml.mix_string_id_and_value(id_, name), 1.0, keep[id_], 5))
    for id_, named in (record.sparseContinuousFeatures or {}).items():
        for name, value in named.items() if id_ in keep else []:
            if not math.isnan(value):
                key = libtwml.feature_id(name)[0] if decode_mode == 0 else libtwml.mix_string_id_and_value(id_, name)
                entries.append((id_, int(key), value, keep[id_], 6))
    return entries


def hashed_columns(handle):
    return {
        "ids": ops.get_ids_from_hashed_data_record(handle),
        "ukeys": ops.get_u_keys_from_hashed_data_record(handle),
        "keys": ops.get_keys_from_hashed_data_record(handle),
        "values": ops.get_values_from_hashed_data_record(handle),
        "codes": ops.get_codes_from_hashed_data_record(handle),
        "types": ops.get_types_from_hashed_data_record(handle),
        "batch_size": ops.get_batch_size_from_hashed_data_record(handle),
        "total_size": ops.get_total_size_from_hashed_data_record(handle),
    }


def rows_of(out):
    rows = {}
    for i, row in enumerate(out["ids"].tolist()):
        entry = (out["ukeys"][i], out["keys"][i], float(out["values"][i]), out["codes"][i], out["types"][i])
        rows.setdefault(row, []).append(tuple(int(v) if j != 2 else v for j, v in enumerate(entry)))
    return rows


@pytest.mark.parametrize("decode_mode", [0, 1])
def test_decode_and_hash_matches_the_reference_rules(decode_mode):
    records = [record_a(), record_b()]
    with tf.Graph().as_default():
        handle = ops.decode_and_hash_data_record(
            tf.constant([serialize(r) for r in records]),
            keep_features=KEEP,
            keep_codes=CODES,
            label_features=[LABEL_B, LABEL_C, B1],
            weight_features=[WEIGHT],
            decode_mode=decode_mode,
        )
        out = run(
            dict(
                hashed_columns(handle),
                labels=ops.get_labels_from_hashed_data_record(handle, default_label=0.5),
                weights=ops.get_weights_from_hashed_data_record(handle),
            )
        )
    expected = [hashed_expectation(r, CODE, decode_mode) for r in records]
    assert rows_of(out) == {0: expected[0], 1: expected[1]}
    assert out["types"].dtype == np.int8
    assert out["batch_size"] == 2 and out["total_size"] == len(expected[0]) + len(expected[1])
    # B1 is kept, so it is never a label: the third label column stays missing (default 0.5).
    np.testing.assert_array_equal(out["labels"], [[1.0, 0.25, 0.5], [0.5, 0.5, 0.5]])
    np.testing.assert_array_equal(out["weights"], [[3.0], [0.0]])


def test_uint8_input_is_one_record():
    with tf.Graph().as_default():
        data = np.frombuffer(serialize(record_b()), dtype=np.uint8)
        handle = ops.decode_and_hash_data_record(
            tf.constant(data), keep_features=[C1], keep_codes=[0], label_features=[]
        )
        out = run(hashed_columns(handle))
    assert rows_of(out) == {0: [(C1, C1, -2.0, 0, 2)]}


def test_batch_prediction_request_prepends_common_features():
    common = DataRecord(binaryFeatures=[B1], discreteFeatures={D1: 3})
    request = BatchPredictionRequest(individualFeaturesList=[record_b(), DataRecord()], commonFeatures=common)
    data = tf.constant(np.frombuffer(serialize(request), dtype=np.uint8))
    with tf.Graph().as_default():
        data = tf.constant(np.frombuffer(serialize(request), dtype=np.uint8))
        hashed = run(
            hashed_columns(ops.decode_and_hash_batch_prediction_request(data, keep_features=KEEP, keep_codes=CODES))
        )
        plain = ops.decode_batch_prediction_request(data, keep_features=KEEP, keep_codes=CODES)
        binary, continuous = run([ops.get_binary_features(plain), ops.get_continuous_features(plain)])
    common_entries = hashed_expectation(common, CODE, 0)
    assert rows_of(hashed) == {0: common_entries + hashed_expectation(record_b(), CODE, 0), 1: common_entries}
    assert hashed["total_size"] == 2 * len(common_entries) + 2
    assert triplets(*binary) == [(0, B1, 1.0), (0, B1, 1.0), (1, B1, 1.0)]
    assert triplets(*continuous) == [(0, C1, -2.0)]


def test_batch_prediction_request_v2_reads_labels_per_record():
    request = BatchPredictionRequest(individualFeaturesList=[record_a(), record_b()])
    with tf.Graph().as_default():
        handle = ops.decode_and_hash_batch_prediction_request_v2(
            tf.constant([serialize(request)]),
            keep_features=KEEP,
            keep_codes=CODES,
            label_features=[LABEL_C],
            weight_features=[WEIGHT],
        )
        labels, weights, batch = run(
            [
                ops.get_labels_from_hashed_data_record(handle, default_label=-1.0),
                ops.get_weights_from_hashed_data_record(handle),
                ops.get_batch_size_from_hashed_data_record(handle),
            ]
        )
    assert batch == 2
    np.testing.assert_array_equal(labels, [[0.25], [-1.0]])
    np.testing.assert_array_equal(weights, [[3.0], [0.0]])


def test_hashed_features_as_sparse_tensor():
    record = record_a()
    with tf.Graph().as_default():
        handle = decode([record])
        lists = dict(
            binary_keep_features=[B1],
            continuous_keep_features=[C1],
            discrete_keep_features=[D1],
            string_keep_features=[S1],
            sparse_binary_keep_features=[SB1],
            sparse_continuous_keep_features=[SC1],
        )
        v1, v2_mode0, v2_own_keep = run(
            [
                ops.get_hashed_features_as_sparse_tensor(handle, **lists),
                ops.get_hashed_features_as_sparse_tensor_v2(handle, keep_features=KEEP, keep_codes=CODES, **lists),
                ops.get_hashed_features_as_sparse_tensor_v2(handle, keep_features=[B1], keep_codes=[0], **lists),
            ]
        )
    expected = [(0, key, value) for _, key, value, _, _ in hashed_expectation(record, CODE, 1)]
    assert triplets(*v1) == expected
    expected_mode0 = [(0, key, value) for _, key, value, _, _ in hashed_expectation(record, CODE, 0)]
    assert triplets(*v2_mode0) == expected_mode0
    assert triplets(*v2_own_keep) == [(0, B1, 1.0)]


def serialized_with(fields):
    """A DataRecord's bytes with raw extra bytes spliced before the STOP."""
    return serialize(DataRecord(binaryFeatures=[B1]))[:-1] + fields + b"\x00"


@pytest.mark.parametrize(
    "data, message",
    [
        (
            serialized_with(b"\x08\x00\x0a\x00\x00\x00\x01"),
            r"record 0: DataRecord: unknown field id 10 \(i32\) at byte 16",
        ),
        (
            b"\x0d\x00\x01\x0a\x0a\x00\x00\x00\x00\x00",
            r"record 0: field binaryFeatures \(id 1\): expected set, found map at byte 0",
        ),
        (
            b"\x0e\x00\x01\x0b\x00\x00\x00\x00\x00",
            r"binaryFeatures: expected elements of type i64, found string at byte 3",
        ),
        (
            b"\x0e\x00\x01\x0a\x7f\xff\xff\xff" + b"\x00" * 32,
            r"binaryFeatures: 2147483647 elements cannot fit in the 32 bytes left at byte 3",
        ),
        (serialize(record_a())[:40], r"record 0: .*truncated data"),
        (
            b"\x0d\x00\x04\x0a\x0b\x00\x00\x00\x01" + b"\x00" * 8 + b"\xff\xff\xff\xf0",
            r"negative string length -16 at byte 17",
        ),
    ],
)
def test_malformed_records_fail_with_field_and_offset(data, message):
    with tf.Graph().as_default():
        handle = decode([data])
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            run(ops.get_binary_features(handle))


def test_errors_name_the_record_in_the_batch():
    with tf.Graph().as_default():
        handle = decode([record_a(), b"\x03\x00\x0b\x05"], keep_features=[], keep_codes=[])
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"record 1: DataRecord: unknown field id 11 \(byte\) at byte 0"
        ):
            run(ops.get_batch_size_from_data_record(handle))


def test_invalid_utf8_sparse_continuous_name_fails_in_decode_mode_0():
    record = DataRecord(sparseContinuousFeatures={SC1: {b"bad\xff": 1.0}})
    with tf.Graph().as_default():
        handle = ops.decode_and_hash_data_record(
            tf.constant([serialize(record)]), keep_features=[SC1], keep_codes=[0], label_features=[], decode_mode=0
        )
        with pytest.raises(tf.errors.InvalidArgumentError, match="sparseContinuousFeatures name: invalid UTF-8"):
            run(ops.get_keys_from_hashed_data_record(handle))


def test_mismatched_keep_codes_are_rejected():
    with tf.Graph().as_default():
        handle = decode([record_a()], keep_features=[1, 2], keep_codes=[0])
        with pytest.raises(tf.errors.InvalidArgumentError, match="keep_features has 2 ids but keep_codes has 1"):
            run(ops.get_batch_size_from_data_record(handle))


def test_bpr_with_unknown_field_and_empty_string_input():
    with tf.Graph().as_default():
        handle = ops.decode_batch_prediction_request(
            tf.constant(np.frombuffer(b"\x0c\x00\x05\x00\x00", dtype=np.uint8)), keep_features=[], keep_codes=[]
        )
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"BatchPredictionRequest: unknown field id 5 \(struct\) at byte 0"
        ):
            run(ops.get_batch_size_from_data_record(handle))
        empty = ops.decode_batch_prediction_request_v2(
            tf.constant([], dtype=tf.string), keep_features=[], keep_codes=[], label_features=[]
        )
        with pytest.raises(tf.errors.InvalidArgumentError, match="got an empty string tensor"):
            run(ops.get_batch_size_from_data_record(empty))

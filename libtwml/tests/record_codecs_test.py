"""The pybind11 record codecs: byte-identical to thriftpy2 from the project's IDL, and strict."""

import numpy as np
import pytest

import libtwml
from libtwml import _core
from twml_common import (
    BatchPredictionRequest,
    BatchPredictionResponse,
    DataRecord,
    DataType,
    GeneralTensor,
    RawTypedTensor,
    StringTensor,
    serialize,
)

RECORD = {
    "binary": [1, -2, 2**63 - 1],
    "continuous": {3: 0.5, 4: -1e300},
    "discrete": {5: -(2**63)},
    "strings": {6: b"caf\xc3\xa9"},
    "sparse_binary": {7: [b"a", b"b"]},
    "sparse_continuous": {8: {b"x": 1.0, b"y": -2.5}},
    "blobs": {9: b"\x00\xff"},
}


def thrift_record():
    return DataRecord(
        binaryFeatures=RECORD["binary"],
        continuousFeatures=RECORD["continuous"],
        discreteFeatures=RECORD["discrete"],
        stringFeatures={6: "café"},
        sparseBinaryFeatures={7: ["a", "b"]},
        sparseContinuousFeatures={8: {"x": 1.0, "y": -2.5}},
        blobFeatures=RECORD["blobs"],
    )


def test_encoding_is_byte_identical_to_thriftpy2():
    assert _core.encode_data_record(RECORD) == serialize(thrift_record())


def test_decoding_returns_every_feature_in_wire_order():
    assert _core.decode_data_record(serialize(thrift_record())) == RECORD


def test_str_values_encode_as_utf8():
    assert _core.encode_data_record({"strings": {6: "café"}}) == _core.encode_data_record(
        {"strings": {6: RECORD["strings"][6]}}
    )


def test_tensors_round_trip_and_match_the_raw_typed_encoding():
    tensors = {
        1: np.arange(6, dtype=np.float32).reshape(2, 3),
        2: np.array([1, -2], dtype=np.int64),
        3: np.array([True, False]),
        4: np.array([b"a", b"bc"], dtype=object),
    }
    data = _core.encode_data_record({"tensors": tensors})
    decoded = _core.decode_data_record(data)["tensors"]
    for key, value in tensors.items():
        np.testing.assert_array_equal(decoded[key], value)
        assert decoded[key].shape == value.shape
    expected = DataRecord(
        tensors={
            1: GeneralTensor(
                rawTypedTensor=RawTypedTensor(dataType=DataType.FLOAT, content=tensors[1].tobytes(), shape=[2, 3])
            ),
            2: GeneralTensor(
                rawTypedTensor=RawTypedTensor(dataType=DataType.INT64, content=tensors[2].tobytes(), shape=[2])
            ),
            3: GeneralTensor(rawTypedTensor=RawTypedTensor(dataType=DataType.BOOL, content=b"\x01\x00", shape=[2])),
            4: GeneralTensor(stringTensor=StringTensor(strings=["a", "bc"], shape=[2])),
        }
    )
    assert data == serialize(expected)


def test_hashed_decoding():
    out = _core.decode_hashed_data_record(
        serialize(thrift_record()), keep_features=[1, 5, 8], keep_codes=[0, 1, 2], label_features=[3], decode_mode=0
    )
    assert out["ids"].tolist() == [1, 5, 8, 8]
    assert out["keys"].tolist() == [
        1,
        libtwml.mix_discrete_id_and_value(5, -(2**63)),
        libtwml.feature_id("x")[0],
        libtwml.feature_id("y")[0],
    ]
    assert out["values"].tolist() == [1.0, 1.0, 1.0, -2.5]
    assert out["codes"].tolist() == [0, 1, 2, 2] and out["types"].tolist() == [1, 3, 6, 6]
    assert out["labels"].tolist() == [0.5]


def test_batch_prediction_request():
    request = BatchPredictionRequest(
        individualFeaturesList=[thrift_record(), DataRecord()], commonFeatures=DataRecord(binaryFeatures=[42])
    )
    out = _core.decode_batch_prediction_request(serialize(request))
    assert out == {"records": [RECORD, {}], "common": {"binary": [42]}}


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x0e\x00\x01\x0a\x7f\xff\xff\xff" + b"\x00" * 40, "binaryFeatures: 2147483647 elements cannot fit"),
        (b"\x0b\x00\x0c\x00\x00\x00\x00\x00", r"DataRecord: unknown field id 12 \(string\) at byte 0"),
        (b"\x0e\x00\x01", "truncated data"),
        (
            b"\x0d\x00\x08\x0a\x0c\x00\x00\x00\x01" + b"\x00" * 8 + b"\x0c\x00\x08\x00\x00",
            "GeneralTensor: BinaryTensor is not supported",
        ),
    ],
)
def test_malformed_input_is_a_clear_error(data, message):
    with pytest.raises(libtwml.Error, match=message):
        _core.decode_data_record(data)


def test_unknown_record_key_and_bad_value_types():
    with pytest.raises(KeyError, match="unknown DataRecord field 'binaryFeatures'"):
        _core.encode_data_record({"binaryFeatures": [1]})
    with pytest.raises(TypeError, match="strings: expected bytes or str, got int"):
        _core.encode_data_record({"strings": {1: 5}})


def test_batch_prediction_response_decodes_in_the_core_within_the_bytes():
    response = BatchPredictionResponse(
        predictions=[DataRecord(continuousFeatures={7: 0.25}), DataRecord(continuousFeatures={7: 0.5, 8: 1.0})]
    )
    rows = libtwml.decode_batch_prediction_response(serialize(response))
    assert [row["continuous"] for row in rows] == [{7: 0.25}, {7: 0.5, 8: 1.0}]
    # 13 bytes declaring a list of 2^31 - 1 records: refused before anything is allocated.
    with pytest.raises(libtwml.Error, match="predictions: 2147483647 elements cannot fit in the 5 bytes left"):
        libtwml.decode_batch_prediction_response(b"\x0f\x00\x01\x0c\x7f\xff\xff\xff" + bytes(5))
    with pytest.raises(libtwml.Error, match="BatchPredictionResponse: unknown field id 2"):
        libtwml.decode_batch_prediction_response(b"\x0c\x00\x02\x00\x00")


def test_a_string_raw_tensor_whose_shape_contradicts_its_content_is_rejected_with_its_offset():
    def record(content, shape):
        raw = RawTypedTensor(dataType=DataType.STRING, content=content, shape=shape)
        return serialize(DataRecord(tensors={1: GeneralTensor(rawTypedTensor=raw)}))

    with pytest.raises(libtwml.Error, match="STRING tensor's shape holds elements but its content has 0 bytes at"):
        _core.decode_data_record(record(b"", [3]))
    with pytest.raises(libtwml.Error, match="shape holds no elements but its content has 3 bytes"):
        _core.decode_data_record(record(b"abc", [0, 2]))
    assert _core.decode_data_record(record(b"abc", [1]))["tensors"][1] == b"abc"
    assert _core.decode_data_record(record(b"", [0]))["tensors"][1].shape == (0,)


def test_batch_prediction_request_encodes_in_the_core_as_thriftpy2_does():
    records = [DataRecord(binaryFeatures=[1]), DataRecord(continuousFeatures={2: 0.5})]
    common = DataRecord(discreteFeatures={3: 4})
    for with_common in (False, True):
        request = BatchPredictionRequest(individualFeaturesList=records, commonFeatures=common if with_common else None)
        encoded = libtwml.encode_batch_prediction_request(
            [serialize(r) for r in records], serialize(common) if with_common else None
        )
        assert encoded == serialize(request)
    assert libtwml.encode_batch_prediction_request([]) == serialize(BatchPredictionRequest(individualFeaturesList=[]))


def test_prediction_blocks_keep_the_chosen_features_and_add_the_predictions():
    inputs = [
        _core.encode_data_record({"binary": [1, 2], "continuous": {3: 0.5, 7: 9.0}, "strings": {4: "s"}}),
        _core.encode_data_record({"discrete": {5: 6}}),
    ]
    predictions = np.array([[0.25, 0.125], [1.5, -2.0]], np.float32)
    block = _core.encode_prediction_block(inputs, predictions, [7, 8], [2, 3, 7], "com.twitter.ml.api.DataRecord")
    expected = [
        {"binary": [2], "continuous": {3: 0.5, 7: 0.25, 8: 0.125}},  # the prediction replaces 7 in its place
        {"continuous": {7: 1.5, 8: -2.0}},
    ]
    assert block == _core.encode_block("com.twitter.ml.api.DataRecord", [_core.encode_data_record(r) for r in expected])
    only = _core.encode_prediction_block([], predictions, [7, 8], [], "c")
    assert only == _core.encode_block(
        "c",
        [_core.encode_data_record(r) for r in [{"continuous": {7: 0.25, 8: 0.125}}, {"continuous": {7: 1.5, 8: -2.0}}]],
    )
    with pytest.raises(ValueError, match=r"predictions must be a \[batch, 2\] matrix"):
        _core.encode_prediction_block([], np.zeros((2, 3), np.float32), [7, 8], [], "c")
    with pytest.raises(ValueError, match="1 records for 2 rows of predictions"):
        _core.encode_prediction_block(inputs[:1], predictions, [7, 8], [2], "c")


def test_bin_search_is_the_discretizers_bisection():
    # Interior boundaries land below or above by the bisection's path (1 -> 1, 3 -> 2), as the ops'.
    xs = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    assert _core.bin_search(xs, [1.0, 3.0, -1.0, 9.0, float("nan"), 2.5]).tolist() == [1, 2, 0, 4, 0, 2]
    with pytest.raises(ValueError, match="non-empty vector"):
        _core.bin_search(np.zeros(0), [1.0])


def test_data_spec_decodes_in_the_core_skipping_unknown_fields():
    data = bytes.fromhex("0f00010c000000010a000100000000000000050b00020000000161080003000000020d00090a0a000000000000")
    assert libtwml.decode_data_spec(data) == [(5, b"a", 2)]
    with pytest.raises(libtwml.Error, match="nested more than 64 deep"):
        libtwml.decode_data_spec(b"\x0c\x00\x09" * 70 + b"\x00" * 71)

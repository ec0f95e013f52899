"""The IDL of thrift/: field ids and types on the wire, namespaces, round-trips of every struct."""

import math

import pytest

import twml_common
from com.twitter.ml.api.tensor.ttypes import DataType, GeneralTensor, RawTypedTensor
from com.twitter.ml.api.ttypes import DataRecord, FeatureType
from com.twitter.ml.prediction_service.ttypes import BatchPredictionRequest
from twml_common import deserialize, serialize


def test_small_data_record_bytes_match_the_wire_format_by_hand():
    record = DataRecord(binaryFeatures={5}, continuousFeatures={1: 0.5}, stringFeatures={2: "ab"})
    expected = bytes.fromhex(
        # field 1 binaryFeatures: SET(0x0e) id 1, elements I64(0x0a) x1, value 5
        "0e0001"
        "0a00000001"
        "0000000000000005"
        # field 2 continuousFeatures: MAP(0x0d) id 2, I64 -> DOUBLE(0x04) x1, 1 -> 0.5
        "0d0002"
        "0a0400000001"
        "0000000000000001"
        "3fe0000000000000"
        # field 4 stringFeatures: MAP id 4, I64 -> STRING(0x0b) x1, 2 -> "ab"
        "0d0004"
        "0a0b00000001"
        "0000000000000002"
        "00000002"
        "6162"
        # STOP
        "00"
    )
    assert serialize(record) == expected


def test_namespaces_share_classes_with_twml_common():
    assert twml_common.DataRecord is DataRecord
    assert twml_common.BatchPredictionRequest is BatchPredictionRequest
    assert BatchPredictionRequest.thrift_spec[1][2][1] is DataRecord
    assert DataRecord.thrift_spec[8][2][1][1] is GeneralTensor


def test_enum_values():
    assert (FeatureType.BINARY, FeatureType.SPARSE_CONTINUOUS, FeatureType.SPARSE_TENSOR) == (1, 6, 10)
    assert (DataType.FLOAT, DataType.STRING, DataType.BYTE, DataType.BOOL, DataType.RESERVED_3) == (0, 5, 6, 7, 10)


# Field id -> (Thrift type code, name) of every struct, as reference §2.2-2.5 lists them.
WIRE_FIELDS = {
    "DataRecord": {
        1: (14, "binaryFeatures"),
        2: (13, "continuousFeatures"),
        3: (13, "discreteFeatures"),
        4: (13, "stringFeatures"),
        5: (13, "sparseBinaryFeatures"),
        6: (13, "sparseContinuousFeatures"),
        7: (13, "blobFeatures"),
        8: (13, "tensors"),
        9: (13, "sparseTensors"),
    },
    "TensorRecord": {1: (13, "tensors"), 2: (13, "sparseTensors")},
    "FeatureMetaInfo": {1: (10, "featureId"), 2: (11, "fullFeatureName"), 3: (8, "featureType")},
    "FeatureMetaInfoList": {1: (15, "contents")},
    "StringTensor": {1: (15, "strings"), 2: (15, "shape")},
    "FloatTensor": {1: (15, "floats"), 2: (15, "shape")},
    "RawTypedTensor": {1: (8, "dataType"), 2: (11, "content"), 3: (15, "shape")},
    "GeneralTensor": {
        1: (12, "rawTypedTensor"),
        2: (12, "stringTensor"),
        3: (12, "int32Tensor"),
        4: (12, "int64Tensor"),
        5: (12, "floatTensor"),
        6: (12, "doubleTensor"),
        7: (12, "boolTensor"),
        8: (12, "binaryTensor"),
    },
    "COOSparseTensor": {1: (15, "denseShape"), 2: (12, "indices"), 3: (12, "values")},
    "SparseTensor": {1: (12, "cooSparseTensor")},
    "BatchPredictionRequest": {1: (15, "individualFeaturesList"), 2: (12, "commonFeatures")},
    "BatchPredictionResponse": {1: (15, "predictions")},
    "PredictionTrainingExample": {
        1: (12, "features"),
        2: (12, "featuresForPairwiseLearning"),
        3: (12, "compactFeatures"),
        4: (11, "compressedDataRecord"),
    },
}


@pytest.mark.parametrize("struct_name", sorted(WIRE_FIELDS))
def test_field_ids_and_types(struct_name):
    spec = getattr(twml_common, struct_name).thrift_spec
    # thriftpy2 marks `binary` fields with a pseudo type code; on the wire they are STRING.
    wire = {field_id: (STRING if entry[0] == BINARY else entry[0], entry[1]) for field_id, entry in spec.items()}
    assert wire == WIRE_FIELDS[struct_name]


def tensor_examples():
    t = twml_common
    return [
        GeneralTensor(rawTypedTensor=RawTypedTensor(dataType=DataType.FLOAT, content=b"\x00\x00\x80?", shape=[1])),
        GeneralTensor(stringTensor=t.StringTensor(strings=["a", "bc"], shape=[2])),
        GeneralTensor(int32Tensor=t.Int32Tensor(ints=[1, -2], shape=[2])),
        GeneralTensor(int64Tensor=t.Int64Tensor(longs=[2**40], shape=[1])),
        GeneralTensor(floatTensor=t.FloatTensor(floats=[0.25], shape=[1, 1])),
        GeneralTensor(doubleTensor=t.DoubleTensor(doubles=[1.5, -2.5])),
        GeneralTensor(boolTensor=t.BoolTensor(booleans=[True, False])),
        GeneralTensor(binaryTensor=t.BinaryTensor(binaries=[b"\x00\xff"])),
    ]


def full_data_record():
    t = twml_common
    coo = t.COOSparseTensor(
        denseShape=[2, 3],
        indices=t.Int64Tensor(longs=[0, 1, 1, 2]),
        values=GeneralTensor(doubleTensor=t.DoubleTensor(doubles=[1.0, 2.0])),
    )
    return DataRecord(
        binaryFeatures={-1, 2**63 - 1},
        continuousFeatures={1: 0.5, -(2**63): -1e300},
        discreteFeatures={3: -7},
        stringFeatures={4: "café"},
        sparseBinaryFeatures={5: {"x", "y"}},
        sparseContinuousFeatures={6: {"a": 1.0, "b": math.inf}},
        blobFeatures={7: b"\x00\x01\xfe"},
        tensors={8 + i: tensor for i, tensor in enumerate(tensor_examples())},
        sparseTensors={20: t.SparseTensor(cooSparseTensor=coo)},
    )


def every_struct():
    t = twml_common
    record = full_data_record()
    compact = t.CompactDataRecord(
        binaryFeatures={1},
        continuousFeatures={2: 3},
        discreteFeatures={3: 4},
        stringFeatures={4: "s"},
        sparseBinaryFeatures={5: {"a"}},
        sparseBinaryFeaturesWith16bSparseKey={6: {-2}},
        sparseBinaryFeaturesWith32bSparseKey={7: {2**31 - 1}},
        sparseBinaryFeaturesWith64bSparseKey={8: {2**62}},
        sparseContinuousFeatures={9: {"b": 1}},
        sparseContinuousFeaturesWith16bSparseKey={10: {1: 2}},
        sparseContinuousFeaturesWith32bSparseKey={11: {3: 4}},
        sparseContinuousFeaturesWith64bSparseKey={12: {5: 6}},
        blobFeatures={13: b"b"},
        tensors=record.tensors,
        sparseTensors=record.sparseTensors,
    )
    return [
        record,
        compact,
        t.TensorRecord(tensors=record.tensors, sparseTensors=record.sparseTensors),
        t.FeatureMetaInfo(featureId=-5, fullFeatureName="a.b", featureType=FeatureType.SPARSE_BINARY),
        t.FeatureMetaInfoList(contents=[t.FeatureMetaInfo(featureId=1, fullFeatureName="x", featureType=2)]),
        t.PredictionRequest(features=record),
        t.PredictionResponse(prediction=DataRecord(continuousFeatures={1: 0.25})),
        BatchPredictionRequest(
            individualFeaturesList=[record, DataRecord()], commonFeatures=DataRecord(binaryFeatures={9})
        ),
        t.BatchPredictionResponse(predictions=[DataRecord(continuousFeatures={1: 0.5})]),
        t.DataRecordPair(first=record, second=DataRecord()),
        t.PredictionTrainingExample(
            features=record,
            featuresForPairwiseLearning=t.DataRecordPair(first=record),
            compactFeatures=compact,
            compressedDataRecord=b"\x1f\x8b",
        ),
        t.PredictionServiceException(description="boom"),
    ] + tensor_examples()


STRUCT, MAP, SET, LIST, BINARY, STRING = 12, 13, 14, 15, 18, 11


def split_type(spec):
    """(type code, element spec) of a thriftpy2 type spec: `10`, `(12, Class)` or `(13, (10, 4))`."""
    return spec if isinstance(spec, tuple) else (spec, None)


def field_specs(struct_class):
    """(type code, name, element spec) of each field; primitive fields have no element spec."""
    for entry in struct_class.thrift_spec.values():
        yield entry[0], entry[1], entry[2] if len(entry) == 4 else None


def normalized(value, ttype, sub, seen_structs):
    """A comparable form of a Thrift value. Thriftpy2 decodes a set as a list, so sets compare sorted."""
    if value is None:
        return None
    if ttype == STRUCT:
        seen_structs.add(sub.__name__)
        return (
            sub.__name__,
            {
                name: normalized(getattr(value, name), field_type, field_sub, seen_structs)
                for field_type, name, field_sub in field_specs(sub)
            },
        )
    if ttype in (LIST, SET):
        items = [normalized(item, *split_type(sub), seen_structs) for item in value]
        return sorted(items, key=repr) if ttype == SET else items
    if ttype == MAP:
        key_spec, value_spec = sub
        return {
            normalized(k, *split_type(key_spec), seen_structs): normalized(v, *split_type(value_spec), seen_structs)
            for k, v in value.items()
        }
    return value


STRUCTS_SEEN = set()


@pytest.mark.parametrize("struct", every_struct(), ids=lambda s: type(s).__name__)
def test_round_trip(struct):
    data = serialize(struct)
    decoded = deserialize(type(struct)(), data)
    assert normalized(decoded, STRUCT, type(decoded), set()) == normalized(struct, STRUCT, type(struct), STRUCTS_SEEN)
    assert serialize(decoded) == data


def test_every_struct_is_round_tripped():
    for struct in every_struct():
        normalized(struct, STRUCT, type(struct), STRUCTS_SEEN)
    defined = {name for name, value in vars(twml_common).items() if hasattr(value, "thrift_spec")}
    assert defined - STRUCTS_SEEN == set()

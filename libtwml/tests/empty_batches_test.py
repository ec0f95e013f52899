"""Every getter of every decoder on batches without entries: no rows, rows that are all empty, and
rows whose features are all unknown to the keep map.

A served model gets such requests (a BatchPredictionRequest whose rows hold no kept feature is
legal) and must answer them; each getter's outputs must have the dtypes its op declares. The
getters are found from the op registry, so a new one is covered without editing this file.
"""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from tensorflow.python.framework import op_def_registry

import libtwml
from twml_common import BatchPredictionRequest, DataRecord, serialize

ops = libtwml.ops
KEPT, UNKNOWN = 11, 99

# Values for the getters' attrs, by attr name.
ATTRS = {
    "feature_id": KEPT,
    "feature_ids": [KEPT, UNKNOWN, KEPT],
    "default_label": -1.0,
    "keep_features": [KEPT],
    "keep_codes": [0],
    "decode_mode": 0,
    "assert_shape": False,
    "default_shape": [2],
    "dtype_size": 4,
}
for kind in ("binary", "continuous", "discrete", "string", "sparse_binary", "sparse_continuous"):
    ATTRS[kind + "_keep_features"] = [KEPT]
DEFAULT_VALUES = {"float": -1.0, "int": -1, "string": "none"}


def all_getter_defs(handle_input):
    """The OpDefs of every op of libtwml_tf.so that reads a `handle_input` handle."""
    # The op library's module holds a raw wrapper for each of its ops, under the op's name.
    op_defs = [op_def_registry.get(name) for name in dir(libtwml.OPLIB) if name[:1].isupper()]
    return [op for op in op_defs if op is not None and op.input_arg and op.input_arg[0].name == handle_input]


def snake(name):
    out = []
    for i, char in enumerate(name):
        if char.isupper() and i and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(char.lower())
    return "".join(out)


def call_getter(op_def, handle):
    kwargs = {}
    for attr in op_def.attr:
        if attr.name == "default_value":
            kwargs[attr.name] = DEFAULT_VALUES[attr.type]
        elif attr.name in ATTRS:
            kwargs[attr.name] = ATTRS[attr.name]
    outputs = getattr(ops, snake(op_def.name))(handle, **kwargs)
    return outputs if isinstance(outputs, (list, tuple)) else [outputs]


# Getters whose feature every row must have (as in the original): an error naming the row.
NEEDS_THE_FEATURE = {"GetTensorsFromDataRecord", "GetTensorsFromHashedDataRecord"}


def check_every_getter(handle, handle_input, batch_size):
    op_defs = all_getter_defs(handle_input)
    assert len(op_defs) >= 10, [op.name for op in op_defs]
    if batch_size > 0:
        strict = [op_def for op_def in op_defs if op_def.name in NEEDS_THE_FEATURE]
        op_defs = [op_def for op_def in op_defs if op_def.name not in NEEDS_THE_FEATURE]
        with tf.Session() as session:
            for op_def in strict:
                with pytest.raises(tf.errors.InvalidArgumentError, match="row 0 has no tensor feature 11"):
                    session.run(call_getter(op_def, handle))
    fetches = {op_def.name: call_getter(op_def, handle) for op_def in op_defs}
    with tf.Session() as session:
        results = session.run(fetches)
    for op_def in op_defs:
        for arg, value in zip(op_def.output_arg, results[op_def.name]):
            declared = tf.as_dtype(arg.type).as_numpy_dtype
            got = np.asarray(value).dtype
            if declared is object:
                assert got.kind in "SO", (op_def.name, arg.name, got)
            else:
                assert got == declared, "%s output %s: %s, declared %s" % (op_def.name, arg.name, got, declared)
    return results


RECORD_BATCHES = {
    "no rows": [],
    "empty rows": [b"", serialize(DataRecord()), b""],
    "only unknown features": [
        serialize(DataRecord(binaryFeatures=[UNKNOWN], sparseBinaryFeatures={UNKNOWN: ["x"]})),
        serialize(DataRecord(continuousFeatures={UNKNOWN: 1.0})),
    ],
}


@pytest.mark.parametrize("hashed", [False, True], ids=["DataRecord", "hashed"])
@pytest.mark.parametrize("case", sorted(RECORD_BATCHES))
def test_record_decoders(hashed, case):
    records = RECORD_BATCHES[case]
    with tf.Graph().as_default():
        data = tf.constant(records, tf.string, shape=[len(records)])
        decode = ops.decode_and_hash_data_record if hashed else ops.decode_data_record
        handle = decode(data, keep_features=[KEPT], keep_codes=[0], label_features=[KEPT + 1])
        results = check_every_getter(
            handle, "hashed_data_record_handle" if hashed else "data_record_handle", len(records)
        )
    if hashed:
        assert results["GetBatchSizeFromHashedDataRecord"][0] == len(records)
        assert results["GetTotalSizeFromHashedDataRecord"][0] == 0
        assert results["GetLabelsFromHashedDataRecord"][0].shape == (len(records), 1)
    else:
        assert results["GetBatchSizeFromDataRecord"][0] == len(records)
        assert results["GetBinaryGroupAsTensor"][0].shape == (len(records), 3)


REQUESTS = {
    "no rows": BatchPredictionRequest(individualFeaturesList=[]),
    "empty rows": BatchPredictionRequest(individualFeaturesList=[DataRecord(), DataRecord()]),
    "only unknown features": BatchPredictionRequest(
        individualFeaturesList=[DataRecord(binaryFeatures=[UNKNOWN])],
        commonFeatures=DataRecord(continuousFeatures={UNKNOWN: 2.0}),
    ),
}


@pytest.mark.parametrize("hashed", [False, True], ids=["DataRecord", "hashed"])
@pytest.mark.parametrize("v2", [False, True], ids=["v1", "v2"])
@pytest.mark.parametrize("case", sorted(REQUESTS))
def test_batch_prediction_request_decoders(hashed, v2, case):
    request = REQUESTS[case]
    rows = len(request.individualFeaturesList)
    with tf.Graph().as_default():
        data = tf.constant(np.frombuffer(serialize(request), np.uint8))
        name = "decode_%sbatch_prediction_request%s" % ("and_hash_" if hashed else "", "_v2" if v2 else "")
        kwargs = dict(keep_features=[KEPT], keep_codes=[0])
        if v2:
            kwargs["label_features"] = [KEPT + 1]
        handle = getattr(ops, name)(data, **kwargs)
        results = check_every_getter(handle, "hashed_data_record_handle" if hashed else "data_record_handle", rows)
    if hashed:
        keys = results["GetKeysFromHashedDataRecord"][0]
        assert keys.dtype == np.int64 and keys.size == 0
        assert results["GetBatchSizeFromHashedDataRecord"][0] == rows

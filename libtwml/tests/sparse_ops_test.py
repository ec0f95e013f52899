"""The sparse helper ops (reference §5.9) and GetSubstrings (§5.10) against plain Python."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from tensorflow.python.framework import op_def_registry

import libtwml

ops = libtwml.ops
RNG = np.random.default_rng(20240607)
ERRORS = (ValueError, tf.errors.InvalidArgumentError)  # graph-construction or run-time


def run(build, *args, **kwargs):
    """Builds a graph with `build(*args, **kwargs)` and runs what it returns."""
    with tf.Graph().as_default():
        fetches = build(*args, **kwargs)
        with tf.Session() as session:
            return session.run(fetches)


def placeholder(dtype):
    """A placeholder of unknown shape, so that only the kernel can reject a bad input."""
    return tf.placeholder(dtype, shape=None)


def run_fed(dtypes_values, build):
    """Runs build(*placeholders) with each placeholder fed its value."""
    with tf.Graph().as_default():
        holders = [placeholder(dtype) for dtype, _ in dtypes_values]
        fetches = build(*holders)
        with tf.Session() as session:
            return session.run(fetches, {h: v for h, (_, v) in zip(holders, dtypes_values)})


def op_def(name):
    assert ops.OPLIB  # loading the library registers its ops
    return op_def_registry.get(name)


# --- Signatures ------------------------------------------------------------------------------

SIGNATURES = {
    "Hashmap": (["keys", "hash_keys", "hash_values"], ["values", "mask"], []),
    "FeatureMask": (["keep"], ["mask"], ["T", "list_keep"]),
    "FeatureExtractor": (
        ["mask_in", "ids_in", "keys_in", "values_in", "codes_in", "types_in"],
        ["ids_out", "keys_out", "values_out", "codes_out", "types_out"],
        ["T"],
    ),
    "FixedLengthTensor": (
        ["segment_ids", "values", "pad_value"],
        ["segmented_output"],
        ["IndexType", "ValueType", "max_length"],
    ),
    "FixedLengthTensorV2": (
        ["segment_ids", "values", "pad_value", "batch_size"],
        ["segmented_output"],
        ["IndexType", "ValueType", "max_length"],
    ),
    "PartitionSparseTensorMod": (["indices", "values"], ["result"], ["T", "num_partitions", "output_types"]),
    "CompressSampleIds": (["input"], ["output"], ["T"]),
    "DecompressSampleIds": (["input"], ["output"], ["T"]),
    "GetSubstrings": (["values"], ["substrings"], ["ValueType", "min_n", "max_n", "unit"]),
}


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_registered_signature(name):
    inputs, outputs, attrs = SIGNATURES[name]
    op = op_def(name)
    assert [arg.name for arg in op.input_arg] == inputs
    assert [arg.name for arg in op.output_arg] == outputs
    assert sorted(attr.name for attr in op.attr) == sorted(attrs)


def test_attr_types_and_defaults():
    def attr(op_name, name):
        return next(a for a in op_def(op_name).attr if a.name == name)

    feature_extractor_t = attr("FeatureExtractor", "T")
    assert feature_extractor_t.default_value.type == tf.float32.as_datatype_enum
    assert set(feature_extractor_t.allowed_values.list.type) == {
        tf.float32.as_datatype_enum,
        tf.float64.as_datatype_enum,
    }
    assert attr("GetSubstrings", "ValueType").default_value.type == tf.string.as_datatype_enum
    assert attr("PartitionSparseTensorMod", "num_partitions").minimum == 1
    assert set(attr("FixedLengthTensor", "ValueType").allowed_values.list.type) == {
        tf.int64.as_datatype_enum,
        tf.int32.as_datatype_enum,
        tf.string.as_datatype_enum,
    }
    assert list(attr("CompressSampleIds", "T").allowed_values.list.type) == [tf.int32.as_datatype_enum]


# --- Hashmap ---------------------------------------------------------------------------------


def test_hashmap_matches_a_dict_on_random_input():
    hash_keys = RNG.integers(-50, 50, size=40)  # with repeats: the last value wins
    hash_values = RNG.integers(-(2**62), 2**62, size=40)
    keys = RNG.integers(-60, 60, size=(5, 7))
    table = dict(zip(hash_keys.tolist(), hash_values.tolist()))
    values, mask = run(lambda: ops.hashmap(keys, hash_keys, hash_values))
    assert values.dtype == np.int64 and mask.dtype == np.int8 and values.shape == (5, 7)
    np.testing.assert_array_equal(values, np.vectorize(lambda k: table.get(k, k))(keys))
    np.testing.assert_array_equal(mask, np.vectorize(lambda k: int(k in table))(keys))


def test_hashmap_keeps_the_first_calls_table():
    with tf.Graph().as_default():
        hash_keys, hash_values = placeholder(tf.int64), placeholder(tf.int64)
        values, mask = ops.hashmap(tf.constant([1, 2, 3], tf.int64), hash_keys, hash_values)
        with tf.Session() as session:
            first = session.run([values, mask], {hash_keys: [1, 2], hash_values: [10, 20]})
            second = session.run([values, mask], {hash_keys: [3], hash_values: [30]})
    for result in (first, second):
        assert result[0].tolist() == [10, 20, 3] and result[1].tolist() == [1, 1, 0]


def test_hashmap_shape_inference_and_empty_input():
    with tf.Graph().as_default():
        values, mask = ops.hashmap(tf.zeros([2, 0], tf.int64), tf.zeros([0], tf.int64), tf.zeros([0], tf.int64))
        assert values.shape.as_list() == [2, 0] and mask.shape.as_list() == [2, 0]


def test_hashmap_rejects_mismatched_tables():
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="hash_keys has 2 elements but hash_values has 1; they must match"
    ):
        run(lambda: ops.hashmap([1], tf.constant([1, 2], tf.int64), tf.constant([1], tf.int64)))


# --- FeatureMask, FeatureExtractor -----------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.int64, np.int8])
def test_feature_mask_matches_isin(dtype):
    keep = RNG.integers(-20, 20, size=(4, 6)).astype(dtype)
    list_keep = [-3, 0, 5, 7, 1000]
    mask = run(lambda: ops.feature_mask(keep, list_keep=list_keep))
    assert mask.dtype == np.bool_ and mask.shape == (4, 6)
    np.testing.assert_array_equal(mask, np.isin(keep.astype(np.int64), list_keep))


def test_feature_mask_empty_list_and_empty_input():
    assert run(lambda: ops.feature_mask(tf.constant([1, 2], tf.int64), list_keep=[])).tolist() == [False, False]
    assert run(lambda: ops.feature_mask(tf.zeros([0], tf.int8), list_keep=[1])).shape == (0,)


@pytest.mark.parametrize("dtype", [None, tf.float32, tf.float64])
def test_feature_extractor_matches_boolean_mask(dtype):
    n = 50
    mask = RNG.random(n) < 0.4
    ids = RNG.integers(0, 8, size=n)
    keys = RNG.integers(-(2**62), 2**62, size=n)
    values = RNG.standard_normal(n).astype(np.float32 if dtype in (None, tf.float32) else np.float64)
    codes = RNG.integers(0, 100, size=n)
    types = RNG.integers(-5, 5, size=n).astype(np.int8)
    outputs = run(lambda: ops.feature_extractor(mask, ids, keys, values, codes, types))
    for got, expected in zip(outputs, (ids, keys, values, codes, types)):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected[mask])


def test_feature_extractor_empty_and_all_false():
    outputs = run(
        lambda: ops.feature_extractor(
            [False, False],
            tf.constant([1, 2], tf.int64),
            tf.constant([3, 4], tf.int64),
            [0.5, 1.5],
            tf.constant([5, 6], tf.int64),
            tf.constant([1, 2], tf.int8),
        )
    )
    assert all(output.shape == (0,) for output in outputs)


def test_feature_extractor_rejects_mismatched_lengths():
    feeds = [
        (tf.bool, [True, False]),
        (tf.int64, [1, 2]),
        (tf.int64, [1, 2]),
        (tf.float32, [1.0, 2.0, 3.0]),
        (tf.int64, [1, 2]),
        (tf.int8, [1, 2]),
    ]
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match="values_in has 3 elements but mask_in has 2; all inputs must have the same length",
    ):
        run_fed(feeds, ops.feature_extractor)
    feeds[3] = (tf.float32, [[1.0, 2.0]])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"values_in must be a vector, got shape \[1,2\]"):
        run_fed(feeds, ops.feature_extractor)
    with pytest.raises(ValueError, match="Dimension 0 in both shapes must be equal"):  # caught statically when known
        with tf.Graph().as_default():
            ops.feature_extractor([True], [1], [1], [1.0, 2.0], [1], tf.constant([1], tf.int8))


# --- FixedLengthTensor -----------------------------------------------------------------------


def fixed_length_reference(ids, values, pad, max_length, batch_size=None):
    ids = list(ids)
    if batch_size is None:
        batch_size = ids[-1] + 1 if ids else 0
    runs = {}
    for i in ids:
        runs[i] = runs.get(i, 0) + 1
    length = max_length if max_length >= 0 else max(runs.values(), default=0)
    out = [[pad] * length for _ in range(batch_size)]
    column = {}
    for i, value in zip(ids, values):
        c = column.get(i, 0)
        if c < length:
            out[i][c] = value
        column[i] = c + 1
    return out, (batch_size, length)


def random_segments(n, max_gap=2):
    return np.cumsum(RNG.integers(0, max_gap + 1, size=n)) if n else np.zeros([0], np.int64)


@pytest.mark.parametrize("index_type", [tf.int32, tf.int64])
@pytest.mark.parametrize("value_type", [tf.int32, tf.int64, tf.string])
@pytest.mark.parametrize("v2", [False, True])
def test_fixed_length_tensor_matches_reference(index_type, value_type, v2):
    for trial in range(6):
        n = int(RNG.integers(0, 30)) if trial else 0
        ids = random_segments(n)
        max_length = int(RNG.integers(-1, 5))
        raw = RNG.integers(-1000, 1000, size=n)
        values = [str(v).encode() for v in raw] if value_type == tf.string else raw.tolist()
        pad = b"<pad>" if value_type == tf.string else -7
        batch_size = (int(ids[-1]) + 1 if n else 0) + int(RNG.integers(0, 3)) if v2 else None
        expected, shape = fixed_length_reference(ids.tolist(), values, pad, max_length, batch_size)

        def build(ids, values, n, pad, max_length, batch_size):
            args = [
                tf.constant(ids, index_type),
                tf.constant(values, value_type, shape=[n]),
                tf.constant(pad, value_type),
            ]
            if v2:
                return ops.fixed_length_tensor_v2(*args, tf.constant(batch_size, tf.int64), max_length=max_length)
            return ops.fixed_length_tensor(*args, max_length=max_length)

        got = run(build, ids, values, n, pad, max_length, batch_size)
        assert got.shape == shape
        assert got.tolist() == expected


def test_fixed_length_tensor_worked_example():
    # Rows 0 and 2 have values, row 1 is padding; row 0 is truncated to max_length.
    got = run(
        lambda: ops.fixed_length_tensor(
            tf.constant([0, 0, 0, 2], tf.int64),
            tf.constant([1, 2, 3, 4], tf.int64),
            tf.constant(0, tf.int64),
            max_length=2,
        )
    )
    assert got.tolist() == [[1, 2], [0, 0], [4, 0]]
    got = run(lambda: ops.fixed_length_tensor([0, 1, 1, 1], ["a", "b", "c", "d"], "", max_length=-1))
    assert got.tolist() == [[b"a", b"", b""], [b"b", b"c", b"d"]]


def test_fixed_length_tensor_static_shapes():
    with tf.Graph().as_default():
        v1 = ops.fixed_length_tensor([0, 1], [1, 2], 0, max_length=3)
        v2 = ops.fixed_length_tensor_v2([0, 1], [1, 2], 0, tf.constant(4, tf.int64), max_length=3)
        longest = ops.fixed_length_tensor_v2([0, 1], [1, 2], 0, placeholder(tf.int64), max_length=-1)
        assert v1.shape.as_list() == [None, 3]
        assert v2.shape.as_list() == [4, 3]
        assert longest.shape.as_list() == [None, None]


@pytest.mark.parametrize(
    "ids, values, pad, message",
    [
        (
            [0, 2, 1],
            [1, 2, 3],
            0,
            r"segment_ids\[2\] = 1 is less than segment_ids\[1\] = 2; "
            "segment ids must be non-negative and non-decreasing",
        ),
        ([-1, 0], [1, 2], 0, r"segment_ids\[0\] = -1 is negative"),
        ([0, 1], [1, 2, 3], 0, "segment_ids has 2 elements but values has 3; they must match"),
        ([0], [1], [0, 0], r"pad_value must be a scalar, got shape \[2\]"),
        ([[0]], [1], 0, r"segment_ids must be a vector, got shape \[1,1\]"),
        (
            [70000],
            [1],
            0,
            r"batch size \(last segment id \+ 1\) = 70001 exceeds the input's 1 elements "
            "by more than 65536",
        ),
    ],
)
def test_fixed_length_tensor_rejects_bad_input(ids, values, pad, message):
    feeds = [(tf.int64, ids), (tf.int64, values), (tf.int64, pad)]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        run_fed(feeds, lambda i, v, p: ops.fixed_length_tensor(i, v, p, max_length=2))


def test_fixed_length_tensor_v2_rejects_a_small_batch_size():
    feeds = [(tf.int32, [0, 3]), (tf.int32, [1, 2]), (tf.int32, 0), (tf.int64, 3)]
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"batch_size = 3 but the last segment id is 3; "
        r"batch_size must be at least the last segment id \+ 1",
    ):
        run_fed(feeds, lambda i, v, p, b: ops.fixed_length_tensor_v2(i, v, p, b, max_length=2))
    feeds[3] = (tf.int64, -1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch_size = -1 must be non-negative"):
        run_fed(feeds, lambda i, v, p, b: ops.fixed_length_tensor_v2(i, v, p, b, max_length=2))
    feeds[3] = (tf.int64, [4])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"batch_size must be a scalar, got shape \[1\]"):
        run_fed(feeds, lambda i, v, p, b: ops.fixed_length_tensor_v2(i, v, p, b, max_length=2))


# --- PartitionSparseTensorMod ----------------------------------------------------------------


def partition(indices, values, num_partitions, dtype=tf.float32):
    return ops.partition_sparse_tensor_mod(
        indices, values, num_partitions=num_partitions, output_types=[tf.int64, dtype] * num_partitions
    )


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("num_partitions", [1, 2, 5])
def test_partition_matches_reference(dtype, num_partitions):
    n = 60
    indices = np.stack([np.sort(RNG.integers(0, 10, size=n)), RNG.integers(0, 2**40, size=n)], axis=1)
    indices[:5, 1] = [0, 1, num_partitions, 2**63 - 1, 7]  # boundaries
    values = RNG.standard_normal(n).astype(dtype.as_numpy_dtype)
    outputs = run(lambda: partition(indices, values, num_partitions, dtype))
    assert len(outputs) == 2 * num_partitions
    for p in range(num_partitions):
        selected = indices[:, 1] % num_partitions == p  # boolean selection keeps the order
        expected = np.stack([indices[selected, 0], indices[selected, 1] // num_partitions], axis=1).reshape(-1, 2)
        np.testing.assert_array_equal(outputs[2 * p], expected)
        assert outputs[2 * p + 1].dtype == dtype.as_numpy_dtype
        np.testing.assert_array_equal(outputs[2 * p + 1], values[selected])


def test_partition_worked_example_and_shapes():
    indices = np.array([[0, 5], [0, 3], [1, 4], [1, 0], [2, 7], [2, 6]])
    values = [0.5, 0.3, 1.4, 1.0, 2.7, 2.6]
    with tf.Graph().as_default():
        outputs = partition(indices, values, 3)
        assert [o.shape.as_list() for o in outputs] == [[None, 2], [None]] * 3
    outputs = run(lambda: partition(indices, values, 3))
    assert outputs[0].tolist() == [[0, 1], [1, 0], [2, 2]]
    np.testing.assert_allclose(outputs[1], [0.3, 1.0, 2.6])
    assert outputs[2].tolist() == [[1, 1], [2, 2]]
    assert outputs[4].tolist() == [[0, 1]]
    empty = run(lambda: partition(tf.zeros([0, 2], tf.int64), tf.zeros([0]), 2))
    assert [o.shape for o in empty] == [(0, 2), (0,), (0, 2), (0,)]


def test_partition_rejects_bad_input():
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"indices\[1, 1\] = -4 is a negative key; PartitionSparseTensorMod needs non-negative keys",
    ):
        run(lambda: partition(tf.constant([[0, 1], [0, -4]], tf.int64), [1.0, 2.0], 2))
    feeds = [(tf.int64, [[0, 1, 2]]), (tf.float32, [1.0])]
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"indices must be a \[n, 2\] matrix of \(id, key\), got shape \[1,3\]"
    ):
        run_fed(feeds, lambda i, v: partition(i, v, 2))
    feeds = [(tf.int64, [[0, 1]]), (tf.float32, [1.0, 2.0])]
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="indices has 1 rows but values has 2 elements; they must match"
    ):
        run_fed(feeds, lambda i, v: partition(i, v, 2))
    with pytest.raises(ERRORS, match=r"output_types\[1\] is double but must be float"):
        run(
            lambda: ops.partition_sparse_tensor_mod(
                [[0, 1]], [1.0], num_partitions=1, output_types=[tf.int64, tf.float64]
            )
        )
    with pytest.raises(ERRORS, match="output_types has 2 types but must have 2 \\* num_partitions = 4"):
        run(
            lambda: ops.partition_sparse_tensor_mod(
                [[0, 1]], [1.0], num_partitions=2, output_types=[tf.int64, tf.float32]
            )
        )
    with pytest.raises(ERRORS, match="num_partitions"):
        run(lambda: ops.partition_sparse_tensor_mod([[0, 1]], [1.0], num_partitions=0, output_types=[]))


# --- CompressSampleIds, DecompressSampleIds --------------------------------------------------


def test_compress_and_decompress_match_numpy():
    for n in [0, 1, 5, 100]:
        ids = random_segments(n, max_gap=3).astype(np.int32)
        counts = run(ops.compress_sample_ids, ids)
        assert counts.dtype == np.int32
        np.testing.assert_array_equal(counts, np.bincount(ids, minlength=0) if n else [])
        back = run(ops.decompress_sample_ids, counts)
        np.testing.assert_array_equal(back, ids)
    counts = RNG.integers(0, 4, size=20).astype(np.int32)
    np.testing.assert_array_equal(run(lambda: ops.decompress_sample_ids(counts)), np.repeat(np.arange(20), counts))


def test_compress_worked_example():
    assert run(lambda: ops.compress_sample_ids([0, 0, 1, 3, 3, 3])).tolist() == [2, 1, 0, 3]
    assert run(lambda: ops.decompress_sample_ids([2, 1, 0, 3])).tolist() == [0, 0, 1, 3, 3, 3]


@pytest.mark.parametrize(
    "op, values, message",
    [
        (
            "compress_sample_ids",
            [-1, 0],
            r"input\[0\] = -1 is negative; sample ids must be non-negative and non-decreasing",
        ),
        ("compress_sample_ids", [0, 3, 2], r"input\[2\] = 2 is less than input\[1\] = 3"),
        (
            "compress_sample_ids",
            [2**31 - 1],
            r"output length \(last sample id \+ 1\) = 2147483648 exceeds the input's 1 elements "
            "by more than 65536",
        ),
        ("compress_sample_ids", [[0]], r"input must be a vector, got shape \[1,1\]"),
        ("decompress_sample_ids", [1, -2], r"input\[1\] = -2 is negative; counts must be non-negative"),
        (
            "decompress_sample_ids",
            [2**31 - 1, 1],
            r"the counts up to input\[1\] add up to 2147483648 sample ids, more than the int32 maximum",
        ),
    ],
)
def test_sample_ids_reject_bad_input(op, values, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        run_fed([(tf.int32, values)], getattr(ops, op))


# --- GetSubstrings ---------------------------------------------------------------------------


def substrings_reference(word: bytes, min_n: int, max_n: int, unit: str = "byte") -> bytes:
    bracketed = b"<" + word + b">"
    starts = [i for i, byte in enumerate(bracketed) if unit == "byte" or byte & 0xC0 != 0x80]
    bounds = starts + [len(bracketed)]
    grams = {word, bracketed}
    for k, start in enumerate(starts):
        for n in range(min_n, max_n + 1):
            if k + n < len(bounds):
                grams.add(bracketed[start : bounds[k + n]])
    return b";".join(sorted(grams))


def test_get_substrings_matches_reference_on_random_words():
    alphabet = ["a", "b", "z", "é", "€", "😀", ";"]
    words = ["".join(RNG.choice(alphabet, size=int(RNG.integers(0, 9)))).encode() for _ in range(60)]
    words = np.array(words, dtype=object).reshape(6, 10)
    for min_n, max_n in [(1, 1), (1, 3), (2, 4), (3, 6), (5, 20)]:
        for unit in ["byte", "character"]:
            got = run(ops.get_substrings, words, min_n=min_n, max_n=max_n, unit=unit)
            assert got.shape == (6, 10)
            expected = [[substrings_reference(w, min_n, max_n, unit) for w in row] for row in words]
            assert got.tolist() == expected


def test_get_substrings_worked_examples():
    got = run(lambda: ops.get_substrings(["where", "né", ""], min_n=3, max_n=3, unit="character"))
    assert got.tolist() == [b"<wh;<where>;ere;her;re>;whe;where", "<né;<né>;né;né>".encode(), b";<>"]
    # The original counts bytes: "né" is 6E C3 A9, and its 3-byte n-grams split é.
    got = run(lambda: ops.get_substrings(["né"], min_n=3, max_n=3))
    assert got.tolist() == [b"<n\xc3;<n\xc3\xa9>;n\xc3\xa9;\xc3\xa9>"]
    with tf.Graph().as_default():
        assert ops.get_substrings(tf.zeros([2, 3], tf.string), min_n=1, max_n=2).shape.as_list() == [2, 3]


def test_get_substrings_rejects_bad_attrs_and_huge_output():
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="min_n = 0 and max_n = 3 must satisfy 1 <= min_n <= max_n"
    ):
        run(lambda: ops.get_substrings(["a"], min_n=0, max_n=3))
    with pytest.raises(tf.errors.InvalidArgumentError, match="min_n = 4 and max_n = 3 must satisfy"):
        run(lambda: ops.get_substrings(["a"], min_n=4, max_n=3))
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match="word #1 of values: the substrings of a 3000-byte word of 1..100000 bytes take more than 4194304 bytes",
    ):
        run(lambda: ops.get_substrings(["ok", "x" * 3000], min_n=1, max_n=100000))

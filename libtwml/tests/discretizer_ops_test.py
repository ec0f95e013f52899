"""The discretizer and calibration ops (reference §5.5-5.7) against the reference values and numpy."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from tensorflow.python.framework import op_def_registry

import libtwml

ops = libtwml.ops
RNG = np.random.default_rng(20240611)
ERRORS = (ValueError, tf.errors.InvalidArgumentError)  # graph-construction or run-time

FEATURE_IDS = [100, 200]
PERCENTILE_BIN_VALS = [-1e30, 1, 2, 3, 0, 10, 20, 30]
REF_IDS = [100, 100, 100, 200, 300, -5]
REF_VALS = [0.5, 1.0, 9, -1, 7, 2]


def unknown_shape(value, dtype):
    """A constant whose static shape is unknown, so that the kernel (not the shape function) checks it."""
    return tf.placeholder_with_default(tf.constant(value, dtype), shape=tf.TensorShape(None))


def run(build):
    """Builds a graph with build() and runs what it returns."""
    with tf.Graph().as_default():
        fetches = build()
        with tf.Session() as session:
            return session.run(fetches)


def run_fed(dtypes_values, build):
    """Runs build(*placeholders) with placeholders of unknown shape, so the kernel sees bad input."""
    with tf.Graph().as_default():
        holders = [tf.placeholder(dtype, shape=None) for dtype, _ in dtypes_values]
        fetches = build(*holders)
        with tf.Session() as session:
            return session.run(fetches, {h: v for h, (_, v) in zip(holders, dtypes_values)})


# --- numpy models of the ops -------------------------------------------------------------------


def np_bin_search(xs, val):
    """The original's bisection (reference §5.5), element by element."""
    n = len(xs)
    if not val > xs[0]:
        return 0
    if val >= xs[n - 1]:
        return n - 1
    left, right = 0, n - 1
    while right - left > 1:
        middle = (left + right) // 2
        if xs[middle] <= val <= xs[middle + 1]:
            return middle
        if val > xs[middle]:
            left = middle
        else:
            right = middle
    return left


def np_hash(ids, buckets, output_bits, hash64):
    multiplier, width = (14695981039346656039, 64) if hash64 else (2654435761, 32)
    mod = 1 << 64
    out = []
    for i, b in zip(ids, buckets):
        x = (int(i) % mod) * multiplier % mod
        x = (x + int(b)) % mod * multiplier % mod
        out.append((x >> (width - output_bits)) & ((1 << output_bits) - 1))
    return np.array(out, np.int64)


# --- Signatures ----------------------------------------------------------------------------------

PERCENTILE_INPUTS = ["keys", "vals", "bin_ids", "bin_vals", "feature_offsets"]
SIGNATURES = {
    "MDL": (PERCENTILE_INPUTS, ["new_keys", "new_vals"], ["T"]),
    "PercentileDiscretizer": (PERCENTILE_INPUTS, ["new_keys", "new_vals"], ["T"]),
    "PercentileDiscretizerBinIndices": (PERCENTILE_INPUTS, ["new_keys", "new_vals"], ["T"]),
    "PercentileDiscretizerV2": (
        ["input_ids", "input_vals", "bin_ids", "bin_vals", "feature_offsets", "start_compute", "end_compute"],
        ["new_keys", "new_vals"],
        ["T", "output_bits", "feature_ids", "feature_indices", "cost_per_unit"],
    ),
    "HashingDiscretizer": (
        ["input_ids", "input_vals", "bin_vals"],
        ["new_keys", "new_vals"],
        ["T", "feature_ids", "n_bin", "output_bits", "cost_per_unit", "options"],
    ),
    "IsotonicCalibration": (["input", "xs", "ys"], ["output"], ["T"]),
}


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_registered_signature(name):
    assert ops.OPLIB  # loading the library registers its ops
    inputs, outputs, attrs = SIGNATURES[name]
    op = op_def_registry.get(name)
    assert [arg.name for arg in op.input_arg] == inputs
    assert [arg.name for arg in op.output_arg] == outputs
    assert sorted(attr.name for attr in op.attr) == sorted(attrs)
    t = next(attr for attr in op.attr if attr.name == "T")
    assert set(t.allowed_values.list.type) == {tf.float32.as_datatype_enum, tf.float64.as_datatype_enum}


# --- PercentileDiscretizerV2 -------------------------------------------------------------------


def v2(ids, vals, bin_vals, bin_ids, offsets, dtype=tf.float64, start=0, end=-1, output_bits=22, **attrs):
    attrs.setdefault("feature_ids", tf.make_tensor_proto(np.array(FEATURE_IDS, np.int64)))
    attrs.setdefault("feature_indices", tf.make_tensor_proto(np.arange(len(FEATURE_IDS), dtype=np.int64)))
    return ops.percentile_discretizer_v2(
        unknown_shape(ids, tf.int64),
        unknown_shape(vals, dtype),
        unknown_shape(bin_ids, tf.int64),
        unknown_shape(bin_vals, dtype),
        unknown_shape(offsets, tf.int64),
        unknown_shape(start, tf.int64),
        unknown_shape(end, tf.int64),
        output_bits=output_bits,
        cost_per_unit=attrs.pop("cost_per_unit", 10),
        **attrs,
    )


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_percentile_discretizer_v2_reference(dtype):
    keys, vals = run(lambda: v2(REF_IDS, REF_VALS, PERCENTILE_BIN_VALS, list(range(1, 9)), [0, 4], dtype))
    assert keys.tolist() == [1, 2, 4, 5, 308, 131]
    assert vals.tolist() == [1, 1, 1, 1, 7, 2]
    assert vals.dtype == dtype.as_numpy_dtype


def test_percentile_discretizer_v2_compute_range_and_wide_output_bits():
    keys, vals = run(lambda: v2(REF_IDS, REF_VALS, PERCENTILE_BIN_VALS, list(range(1, 9)), [0, 4], start=1, end=5))
    # Elements 0 and 5 are outside [1, 5): copied through.
    assert keys.tolist() == [100, 2, 4, 5, 308, -5]
    assert vals.tolist() == [0.5, 1, 1, 1, 7, 2]
    keys, _ = run(lambda: v2(REF_IDS, REF_VALS, PERCENTILE_BIN_VALS, list(range(1, 9)), [0, 4], output_bits=40))
    assert keys[4] == 300 + 8 and keys[5] == (2**64 - 5) % (2**40 - 8) + 8


def test_percentile_discretizer_v2_random_against_numpy():
    n_features, n_bins_each = 7, 9
    bin_vals = np.sort(RNG.normal(size=(n_features, n_bins_each)), axis=1)
    bin_vals[:, 3] = bin_vals[:, 4]  # a repeated boundary
    bin_ids = RNG.permutation(n_features * n_bins_each).astype(np.int64) + 1
    offsets = np.arange(n_features, dtype=np.int64) * n_bins_each
    feature_ids = RNG.choice(10**9, n_features, replace=False).astype(np.int64)
    indices = RNG.permutation(n_features).astype(np.int64)
    size = 5000
    ids = np.where(RNG.random(size) < 0.7, RNG.choice(feature_ids, size), RNG.integers(-(2**62), 2**62, size))
    vals = RNG.normal(size=size) * 1.5
    vals[:50] = bin_vals[indices[0], 2]  # exact hits on an interior boundary of feature_ids[0]
    ids[:50] = feature_ids[0]
    keys, new_vals = run(
        lambda: v2(
            ids,
            vals,
            bin_vals.ravel(),
            bin_ids,
            offsets,
            output_bits=30,
            feature_ids=tf.make_tensor_proto(feature_ids),
            feature_indices=tf.make_tensor_proto(indices),
            cost_per_unit=1,
        )
    )
    index_of = dict(zip(feature_ids.tolist(), indices.tolist()))
    total = n_features * n_bins_each
    for i in range(size):
        j = index_of.get(int(ids[i]))
        if j is None:
            assert keys[i] == (int(ids[i]) % 2**64) % (2**30 - total) + total
            assert new_vals[i] == vals[i]
        else:
            assert keys[i] == bin_ids[j * n_bins_each + np_bin_search(bin_vals[j], vals[i])]
            assert new_vals[i] == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(output_bits=0), "output_bits = 0 must be in [1, 63]"),
        (dict(output_bits=64), "output_bits = 64 must be in [1, 63]"),
        (dict(output_bits=3), "must exceed the 8 bins"),
        (dict(offsets=[0, 8]), "feature_offsets[1] = 8 is out of range [0, 8)"),
        (dict(offsets=[4, 0]), "offsets must be strictly increasing"),
        (
            dict(offsets=[0], bin_vals=list(range(8))),
            "feature_indices holds index 1 but feature_offsets has only 1 features",
        ),
        (dict(bin_vals=[-1e30, 1, 3, 2, 0, 10, 20, 30]), "bin_vals[3] = 2"),
        (dict(bin_ids=[1, 2, 3]), "bin_ids has 3 elements but bin_vals has 8"),
        (dict(start=2, end=1), "[start_compute, end_compute) = [2, 1) must lie within the 6 input elements"),
        (dict(end=7), "must lie within the 6 input elements"),
        (dict(vals=[1.0]), "input_ids has shape [6] but input_vals has shape [1]"),
        (dict(feature_indices=tf.make_tensor_proto(np.array([0], np.int64))), "feature_indices has 1"),
    ],
)
def test_percentile_discretizer_v2_bad_inputs(kwargs, message):
    args = dict(ids=REF_IDS, vals=REF_VALS, bin_vals=PERCENTILE_BIN_VALS, bin_ids=list(range(1, 9)), offsets=[0, 4])
    args.update(kwargs)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        run(lambda: v2(**args))
    assert message in str(info.value)


# --- HashingDiscretizer ------------------------------------------------------------------------

HASHING_BIN_VALS = [1, 2, 3, 0, 10, 20]


def hashing(ids, vals, bin_vals, options, dtype=tf.float64, output_bits=22, n_bin=3, feature_ids=None):
    feature_ids = FEATURE_IDS if feature_ids is None else feature_ids
    return ops.hashing_discretizer(
        unknown_shape(ids, tf.int64),
        unknown_shape(vals, dtype),
        unknown_shape(bin_vals, dtype),
        feature_ids=tf.make_tensor_proto(np.array(feature_ids, np.int64)),
        n_bin=n_bin,
        output_bits=output_bits,
        cost_per_unit=10,
        options=options,
    )


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize(
    "options, expected",
    [
        (0, [4033013, 4033013, 3421072, 3871722, 300, 4194299]),
        (1, [4033013, 4033013, 3421072, 3871722, 300, 4194299]),
        (2, [4033013, 2430931, 3421072, 3871722, 300, 4194299]),
        (4, [2201140, 2201140, 3836970, 207977, 300, 4194299]),
    ],
)
def test_hashing_discretizer_reference(dtype, options, expected):
    keys, vals = run(lambda: hashing(REF_IDS, REF_VALS, HASHING_BIN_VALS, options, dtype))
    assert keys.tolist() == expected
    assert vals.tolist() == [1, 1, 1, 1, 7, 2]


def test_hash_reference_values():
    assert np_hash([12345, 12345, -7], [0, 3, 2], 22, False).tolist()[:2] == [1060204, 448263]
    assert np_hash([-7], [2], 20, False).tolist() == [250357]
    assert np_hash([12345, 12345], [0, 3], 22, True).tolist() == [359362, 1995191]


@pytest.mark.parametrize("options", [0, 1, 2, 4, 5, 6])
def test_hashing_discretizer_random_against_numpy(options):
    n_features, n_bin, output_bits = 5, 6, 20 if options < 4 else 45
    bin_vals = np.sort(RNG.integers(-20, 20, size=(n_features, n_bin)), axis=1).astype(np.float32)
    feature_ids = RNG.choice(2**40, n_features, replace=False).astype(np.int64) - 2**39
    size = 3000
    ids = np.where(RNG.random(size) < 0.6, RNG.choice(feature_ids, size), RNG.integers(-(2**62), 2**62, size))
    vals = RNG.integers(-25, 25, size).astype(np.float32)  # integers: many exact boundary hits
    keys, new_vals = run(
        lambda: hashing(ids, vals, bin_vals.ravel(), options, tf.float32, output_bits, n_bin, feature_ids.tolist())
    )
    position = {int(f): j for j, f in enumerate(feature_ids)}
    side = "right" if options & 3 == 2 else "left"
    calibrated = np.array([int(i) in position for i in ids])
    rows = [position[int(i)] for i in ids[calibrated]]
    buckets = [np.searchsorted(bin_vals[j], v, side=side) for j, v in zip(rows, vals[calibrated])]
    np.testing.assert_array_equal(keys[calibrated], np_hash(ids[calibrated], buckets, output_bits, options >= 4))
    np.testing.assert_array_equal(new_vals[calibrated], 1)
    np.testing.assert_array_equal(keys[~calibrated], ids[~calibrated] & ((1 << output_bits) - 1))
    np.testing.assert_array_equal(new_vals[~calibrated], vals[~calibrated])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(output_bits=33), "exceeds the 32 bits of the 32-bit hash"),
        (dict(options=4, output_bits=64), "output_bits = 64 must be in [1, 63]"),
        (dict(bin_vals=[1, 2, 3, 0, 10]), "bin_vals has 5 elements but must have n_bin"),
        (dict(bin_vals=[1, 2, 3, 0, 20, 10]), "bin_vals[5] = 10"),
        (dict(vals=[1.0, 2.0]), "input_ids has shape [6] but input_vals has shape [2]"),
    ],
)
def test_hashing_discretizer_bad_inputs(kwargs, message):
    args = dict(ids=REF_IDS, vals=REF_VALS, bin_vals=HASHING_BIN_VALS, options=0)
    args.update(kwargs)
    with pytest.raises(ERRORS) as info:
        run(lambda: hashing(**args))
    assert message in str(info.value)


@pytest.mark.parametrize("reserved, same_as", [(3, 0), (7, 4), (8, 0), (12, 0), (16, 0)])
def test_hashing_discretizer_reserved_options_fall_back_as_the_original(reserved, same_as, capfd):
    # Graphs the original saved may hold them: each field falls back to its default, warned.
    keys, _ = run(lambda: hashing(REF_IDS, REF_VALS, HASHING_BIN_VALS, reserved))
    expected, _ = run(lambda: hashing(REF_IDS, REF_VALS, HASHING_BIN_VALS, same_as))
    assert keys.tolist() == expected.tolist()
    assert "options = %d holds reserved values" % reserved in capfd.readouterr().err


def test_repeated_calibration_ids_use_their_last_position_as_the_original(capfd):
    # Feature 100 listed twice: its second (last) boundaries [0, 10, 20] apply; 200 is not calibrated.
    keys, vals = run(lambda: hashing(REF_IDS, REF_VALS, HASHING_BIN_VALS, 0, feature_ids=[100, 100]))
    expected_keys, expected_vals = run(
        lambda: hashing(REF_IDS, REF_VALS, HASHING_BIN_VALS, 0, feature_ids=[12345, 100])
    )
    assert keys.tolist() == expected_keys.tolist() and vals.tolist() == expected_vals.tolist()
    assert "HashingDiscretizer" in capfd.readouterr().err
    args = dict(ids=REF_IDS, vals=REF_VALS, bin_vals=PERCENTILE_BIN_VALS, bin_ids=list(range(1, 9)), offsets=[0, 4])
    repeated = run(lambda: v2(**args, feature_ids=tf.make_tensor_proto(np.array([100, 100], np.int64))))
    moved = run(lambda: v2(**args, feature_ids=tf.make_tensor_proto(np.array([12345, 100], np.int64))))
    assert [r.tolist() for r in repeated] == [m.tolist() for m in moved]
    assert "feature_ids repeats 1 ids; as in the original, each repeated id uses its last position" in (
        capfd.readouterr().err
    )


def test_static_shape_mismatch_fails_at_graph_construction():
    with tf.Graph().as_default(), pytest.raises(ValueError, match="Dimension 0 in both shapes must be equal"):
        ops.hashing_discretizer(
            tf.constant([1, 2], tf.int64),
            tf.constant([1.0]),
            tf.constant([1.0]),
            feature_ids=tf.make_tensor_proto(np.array([1], np.int64)),
            n_bin=1,
            output_bits=8,
            cost_per_unit=1,
            options=0,
        )


def test_hashing_discretizer_n_bin_attr_minimum():
    with pytest.raises(ERRORS):
        run(lambda: hashing(REF_IDS, REF_VALS, [], 0, n_bin=0))


# --- MDL / PercentileDiscretizer / PercentileDiscretizerBinIndices ----------------------------

PERCENTILE_OPS = {
    "mdl": False,
    "percentile_discretizer": False,
    "percentile_discretizer_bin_indices": True,
}


@pytest.mark.parametrize("name", sorted(PERCENTILE_OPS))
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_percentile_discretizer_reference(name, dtype):
    keys, vals = run(
        lambda: getattr(ops, name)(
            tf.constant([0, 0, 0, 1, -1, 1], tf.int64),
            tf.constant([0.5, 1.0, 9, -1, 7, 25], dtype),
            tf.constant(list(range(1, 9)), tf.int64),
            tf.constant(PERCENTILE_BIN_VALS, dtype),
            tf.constant([0, 4], tf.int64),
        )
    )
    if PERCENTILE_OPS[name]:
        assert keys.tolist() == [0, 1, 3, 0, -1, 2]
    else:
        assert keys.tolist() == [1, 2, 4, 5, -1, 7]  # -1: written (the original left it unset)
    assert vals.tolist() == [1, 1, 1, 1, 7, 1]


@pytest.mark.parametrize("name", sorted(PERCENTILE_OPS))
def test_percentile_discretizer_random_against_numpy(name):
    n_features = 4
    sizes = RNG.integers(1, 12, n_features)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    bin_vals = np.concatenate([np.sort(RNG.integers(-10, 10, s)) for s in sizes]).astype(np.float64)
    bin_ids = RNG.integers(0, 10**6, len(bin_vals)).astype(np.int64)
    keys = RNG.integers(-1, n_features, (40, 25)).astype(np.int64)
    vals = RNG.integers(-12, 12, keys.shape).astype(np.float64)
    new_keys, new_vals = run(lambda: getattr(ops, name)(keys, vals, bin_ids, bin_vals, offsets))
    assert new_keys.shape == keys.shape
    ends = list(offsets[1:]) + [len(bin_vals)]
    for key, val, new_key, new_val in zip(keys.ravel(), vals.ravel(), new_keys.ravel(), new_vals.ravel()):
        if key == -1:
            assert (new_key, new_val) == (-1, val)
            continue
        local = np_bin_search(bin_vals[offsets[key] : ends[key]], val)
        assert new_key == (local if PERCENTILE_OPS[name] else bin_ids[offsets[key] + local])
        assert new_val == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(keys=[0, 2]), "keys[1] = 2 is not a feature index in [0, 2)"),
        (dict(keys=[0, -2]), "keys[1] = -2 is not a feature index"),
        (dict(vals=[1.0]), "keys has shape [2] but vals has shape [1]"),
        (dict(offsets=[0, 0]), "offsets must be strictly increasing"),
        (dict(offsets=[-1, 2]), "feature_offsets[0] = -1 is out of range"),
        (dict(bin_vals=[0.0, 2.0, 3.0, 1.0]), "bin_vals[3] = 1"),
        (dict(bin_ids=[1, 2]), "bin_ids has 2 elements but bin_vals has 4"),
        (dict(bin_ids=[[1, 2], [3, 4]]), "bin_ids must be a vector"),
    ],
)
def test_percentile_discretizer_bad_inputs(kwargs, message):
    args = dict(keys=[0, 1], vals=[0.5, 0.5], bin_ids=[1, 2, 3, 4], bin_vals=[0.0, 1.0, 2.0, 3.0], offsets=[0, 2])
    args.update(kwargs)
    feeds = [
        (tf.int64, args["keys"]),
        (tf.float64, args["vals"]),
        (tf.int64, args["bin_ids"]),
        (tf.float64, args["bin_vals"]),
        (tf.int64, args["offsets"]),
    ]
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        run_fed(feeds, ops.mdl)
    assert message in str(info.value)


# --- IsotonicCalibration -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_isotonic_calibration_reference(dtype):
    output = run(
        lambda: ops.isotonic_calibration(
            tf.constant([[0.05], [0.3], [0.7], [0.95]], dtype),
            tf.constant([[0.1, 0.5, 0.9]], dtype),
            tf.constant([[0, 0.4, 1]], dtype),
        )
    )
    np.testing.assert_allclose(output.ravel(), [0, 0.2, 0.7, 1], atol=1e-6)
    assert output.dtype == dtype.as_numpy_dtype


def test_isotonic_calibration_random_against_numpy():
    num_labels, num_bins = 3, 8
    xs = np.sort(RNG.normal(size=(num_labels, num_bins)), axis=1)
    ys = np.sort(RNG.random((num_labels, num_bins)), axis=1)
    inputs = RNG.normal(size=(200, num_labels)) * 2
    output = run(lambda: ops.isotonic_calibration(inputs, xs, ys))
    # Strictly increasing xs: the bisection agrees with np.interp, which also clamps at both ends.
    expected = np.stack([np.interp(inputs[:, j], xs[j], ys[j]) for j in range(num_labels)], axis=1)
    np.testing.assert_allclose(output, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_isotonic_calibration_is_bit_identical_to_the_original_interpolation(dtype):
    # The original interpolates as ratio * (y_right - y_left) + y_left, ratio = (x - x_left) /
    # (x_right - x_left), in the input's precision; the algebraically equal
    # ratio * y_right + (1 - ratio) * y_left differs from it by 1-2 ulp on many of these inputs.
    num_bins = 16
    xs = np.sort(RNG.random(num_bins)).astype(dtype)
    ys = np.sort(RNG.random(num_bins)).astype(dtype)
    inputs = (xs[0] + RNG.random(500) * (xs[-1] - xs[0])).astype(dtype)
    output = run(lambda: ops.isotonic_calibration(inputs[:, None], xs[None, :], ys[None, :]))[:, 0]
    left = np.clip(np.searchsorted(xs, inputs, side="right") - 1, 0, num_bins - 2)
    x_left, x_right, y_left, y_right = xs[left], xs[left + 1], ys[left], ys[left + 1]
    ratio = (inputs - x_left) / (x_right - x_left)
    expected = ratio * (y_right - y_left) + y_left
    assert expected.dtype == dtype
    np.testing.assert_array_equal(output, expected)
    other_form = ratio * y_right + (dtype(1) - ratio) * y_left
    assert np.any(other_form != expected)  # the inputs do tell the two forms apart


@pytest.mark.parametrize(
    "input_, xs, ys, message",
    [
        ([[0.5]], [[0.1, 0.5]], [[0.0, 1.0, 2.0]], "xs has shape [1,2] but ys has shape [1,3]"),
        ([[0.5, 0.5]], [[0.1, 0.5]], [[0.0, 1.0]], "xs has 1 rows but input has 2 columns"),
        ([0.5], [[0.1, 0.5]], [[0.0, 1.0]], "input must be a [batch, num_labels] matrix"),
        ([[0.5]], [[0.5, 0.1]], [[0.0, 1.0]], "xs[1] = 0.1"),
        ([[0.5]], np.zeros((1, 0)), np.zeros((1, 0)), "no bins"),
    ],
)
def test_isotonic_calibration_bad_inputs(input_, xs, ys, message):
    feeds = [(tf.float64, input_), (tf.float64, xs), (tf.float64, ys)]
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        run_fed(feeds, ops.isotonic_calibration)
    assert message in str(info.value)

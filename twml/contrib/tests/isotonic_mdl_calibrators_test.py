"""twml.contrib.calibrators: IsotonicCalibrator (weighted PAV, bins, Isotonic layer, hub module),
MDLCalibrator and HashedPercentileDiscretizerCalibrator with their layers (reference §6, §7.3)."""

import itertools
import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tensorflow_hub as hub

import twml
from twml.contrib.calibrators import (
    HashedPercentileDiscretizerCalibrator,
    IsotonicCalibrator,
    MDLCalibrator,
    isotonic_regression,
)
from twml.contrib.calibrators.common_calibrators import build_isotonic_graph_from_inputs
from twml.contrib.layers.hashed_percentile_discretizer import (
    HashedPercentileDiscretizer,
    integer_multiplicative_hashing,
    integer_multiplicative_hashing_uniform,
)

RNG = np.random.default_rng(7081)


# --- IsotonicCalibrator --------------------------------------------------------------------------


def minmax_isotonic(y, w):
    """The weighted isotonic regression by its min-max closed form:
    f_i = max_{s <= i} min_{t >= i} (weighted mean of y[s..t]); O(n^3), independent of PAV."""
    n = len(y)
    cum_w = np.concatenate([[0.0], np.cumsum(w)])
    cum_wy = np.concatenate([[0.0], np.cumsum(w * y)])
    return np.array(
        [
            max(min((cum_wy[t + 1] - cum_wy[s]) / (cum_w[t + 1] - cum_w[s]) for t in range(i, n)) for s in range(i + 1))
            for i in range(n)
        ]
    )


def brute_force_isotonic(y, w):
    """Best weighted squared error over every partition into contiguous blocks valued at their
    weighted means that is monotone (2^(n-1) partitions); the optimum is one of them."""
    n = len(y)
    best, best_cost = None, np.inf
    for cuts in itertools.product([False, True], repeat=n - 1):
        bounds = [0] + [i + 1 for i, cut in enumerate(cuts) if cut] + [n]
        means = [np.dot(w[a:b], y[a:b]) / w[a:b].sum() for a, b in zip(bounds[:-1], bounds[1:])]
        if any(m2 < m1 for m1, m2 in zip(means[:-1], means[1:])):
            continue
        f = np.repeat(means, np.diff(bounds))
        cost = np.dot(w, (y - f) ** 2)
        if cost < best_cost - 1e-12:
            best, best_cost = f, cost
    return best


def test_isotonic_regression_against_references():
    for _ in range(60):
        n = int(RNG.integers(1, 9))
        y = RNG.integers(0, 4, n).astype(np.float64) if RNG.random() < 0.5 else RNG.normal(size=n)
        w = RNG.uniform(0.1, 3.0, n)
        np.testing.assert_allclose(isotonic_regression(y, w), brute_force_isotonic(y, w), rtol=1e-12, atol=1e-12)
    for _ in range(30):
        n = int(RNG.integers(20, 60))
        y = (RNG.random(n) < np.linspace(0.2, 0.8, n)).astype(np.float64)  # noisy binary labels
        w = RNG.uniform(0.1, 3.0, n)
        fitted = isotonic_regression(y, w)
        np.testing.assert_allclose(fitted, minmax_isotonic(y, w), rtol=1e-12, atol=1e-12)
        assert np.all(np.diff(fitted) >= 0)
        # the fit preserves the weighted mean
        np.testing.assert_allclose(np.dot(w, fitted), np.dot(w, y))
    # unweighted default and decreasing
    np.testing.assert_allclose(isotonic_regression([3.0, 1.0, 2.0]), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(isotonic_regression([1.0, 3.0, 2.0, 0.0], increasing=False), [2.0, 2.0, 2.0, 0.0])
    np.testing.assert_allclose(isotonic_regression([1.0, 0.0, 5.0], [0.0, 2.0, 1.0]), [0.0, 0.0, 5.0])
    with pytest.raises(ValueError, match="non-negative"):
        isotonic_regression([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="same length"):
        isotonic_regression([1.0, 2.0], [1.0])


def numpy_isotonic_calibration(predictions, targets, weights, n_bin, similar_bins=False):
    """§7.3 per column, with the min-max isotonic regression: (xs, ys, boundaries)."""
    order = np.argsort(predictions, kind="stable")
    p, t, w = predictions[order], targets[order], weights[order]
    fitted = minmax_isotonic(t, w)
    n = len(p)
    step = n // n_bin
    if similar_bins:
        starts = [int(np.floor(x)) for x in np.linspace(0, n - step, n_bin)]
    else:
        starts = list(range(0, step * n_bin, step))
    bounds = starts + [n]
    xs = [np.average(p[a:b], weights=w[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    ys = [np.average(fitted[a:b], weights=w[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    return np.array(xs), np.array(ys), np.array(bounds)


def isotonic_data(n, d):
    predictions = RNG.random((n, d)).astype(np.float32)
    targets = (RNG.random((n, d)) < predictions**2).astype(np.float32)  # miscalibrated on purpose
    weights = RNG.uniform(0.2, 2.0, n).astype(np.float32)
    return predictions, targets, weights


@pytest.mark.parametrize("similar_bins", [False, True])
def test_isotonic_calibrator_against_numpy(similar_bins):
    n, d, n_bin = 103, 2, 7
    predictions, targets, weights = isotonic_data(n, d)
    calibrator = IsotonicCalibrator(n_bin, similar_bins=similar_bins)
    for a, b in ((0, 40), (40, 41), (41, n)):  # batches, one of a single row
        calibrator.accumulate(predictions[a:b], targets[a:b], weights[a:b])
    assert not calibrator.is_calibrated
    calibrator.calibrate()
    assert calibrator.is_calibrated and calibrator.name == "isotonic_calibrator"
    assert calibrator.xs_input.shape == calibrator.ys_input.shape == (d, n_bin)
    assert calibrator.xs_input.dtype == calibrator.ys_input.dtype == np.float32
    for column in range(d):
        column_predictions = predictions[:, column].astype(np.float64)
        xs, ys, bounds = numpy_isotonic_calibration(
            column_predictions, targets[:, column], weights.astype(np.float64), n_bin, similar_bins
        )
        np.testing.assert_array_equal(calibrator.bin_boundaries[column], bounds)
        np.testing.assert_allclose(calibrator.xs_input[column], xs, rtol=1e-6)
        np.testing.assert_allclose(calibrator.ys_input[column], ys, rtol=1e-6, atol=1e-7)
        assert np.all(np.diff(calibrator.ys_input[column]) >= 0)
    expected_bounds = np.floor(np.linspace(0, n - 14, n_bin)) if similar_bins else np.arange(0, 14 * n_bin, 14)
    np.testing.assert_array_equal(calibrator.bin_boundaries[0], np.append(expected_bounds, n))
    assert calibrator.get_layer_args() == {"n_unit": d, "n_bin": n_bin}


def test_isotonic_calibrator_defaults_and_accumulate_feature():
    calibrator = IsotonicCalibrator(2)
    # 1-D predictions are one column; default weights 1
    calibrator.accumulate(np.array([0.9, 0.1, 0.5, 0.3]), np.array([1.0, 0.0, 0.0, 1.0]))
    calibrator.accumulate_feature(
        {"predictions": np.array([[0.7]]), "labels": np.array([[0.0]]), "weights": np.array([[3.0]])}
    )
    calibrator.calibrate()
    # sorted: p 0.1 0.3 0.5 0.7 0.9, t 0 1 0 0 1, w 1 1 1 3 1 -> pooled [1,0,0] at w (1,1,3) = 0.2
    # fitted 0, .2, .2, .2, 1; step 2 -> bins [0,2) and [2,5)
    np.testing.assert_allclose(calibrator.xs_input, [[0.2, (0.5 + 2.1 + 0.9) / 5]], rtol=1e-6)
    np.testing.assert_allclose(calibrator.ys_input, [[0.1, (0.2 + 0.6 + 1.0) / 5]], rtol=1e-6)


def test_build_isotonic_graph_from_inputs_hub_module_and_isotonic_fn(tmp_path):
    calibrator = IsotonicCalibrator(2)
    calibrator.accumulate(np.array([0.9, 0.1, 0.5, 0.3]), np.array([1.0, 0.0, 0.0, 1.0]))
    calibrator.accumulate_feature(
        {"predictions": np.array([[0.7]]), "labels": np.array([[0.0]]), "weights": np.array([[3.0]])}
    )
    calibrator.calibrate()  # points (0.2, 0.1) and (0.7, 0.36), as in the test above
    calibrator.save(str(tmp_path / "isotonic"))
    params = type("Params", (), {"save_dir": str(tmp_path / "isotonic")})()
    inputs = np.array([[0.2], [0.45], [0.7]], np.float32)
    labels = np.array([[0.0], [1.0], [0.0]], np.float32)
    with tf.Graph().as_default():
        features = {"weights": tf.ones([3, 1])}
        train = build_isotonic_graph_from_inputs(
            tf.constant(inputs), features, tf.constant(labels), tf.estimator.ModeKeys.TRAIN, params
        )  # the saved hub module
        doubled = build_isotonic_graph_from_inputs(
            tf.constant(inputs),
            features,
            None,
            tf.estimator.ModeKeys.PREDICT,
            params,
            isotonic_fn=lambda x: 4.0 * x - 1.0,
        )
        assert "loss" not in doubled and "train_op" not in doubled
        with tf.Session() as session:
            session.run([tf.global_variables_initializer(), tf.tables_initializer()])
            output, loss = session.run([train["output"], train["loss"]])
            session.run(train["train_op"])
            assert session.run(tf.train.get_global_step()) == 1
            clipped = session.run(doubled["output"])
    expected = np.array([[0.1], [0.1 + 0.5 * 0.26], [0.36]])
    np.testing.assert_allclose(output, expected, rtol=1e-5)
    np.testing.assert_allclose(
        loss, np.mean(-(labels * np.log(expected) + (1 - labels) * np.log(1 - expected))), rtol=1e-4
    )
    np.testing.assert_allclose(clipped, [[0.0], [0.8], [1.0]], rtol=1e-6)  # clip(4x - 1, 0, 1)


def test_isotonic_calibrator_errors(tmp_path):
    with pytest.raises(RuntimeError, match="accumulate"):
        IsotonicCalibrator(3).calibrate()
    with pytest.raises(RuntimeError, match="calibrate"):
        IsotonicCalibrator(3).to_layer()
    with pytest.raises(RuntimeError, match="calibrate"):
        IsotonicCalibrator(3).save(str(tmp_path / "x"))
    with pytest.raises(ValueError, match="n_bin"):
        IsotonicCalibrator(0)
    small = IsotonicCalibrator(5)
    small.accumulate(np.zeros((4, 1)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="at least n_bin = 5 samples"):
        small.calibrate()
    calibrator = IsotonicCalibrator(2)
    with pytest.raises(ValueError, match=r"shape \[n, d\]"):
        calibrator.accumulate(np.zeros((4, 2)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="weights"):
        calibrator.accumulate(np.zeros((4, 2)), np.zeros((4, 2)), np.ones(3))
    calibrator.accumulate(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="3 columns, earlier batches had 2"):
        calibrator.accumulate(np.zeros((4, 3)), np.zeros((4, 3)))


def numpy_interpolate(values, xs, ys):
    """§5.7: linear interpolation through (xs, ys), clamped at both ends (xs strictly increasing)."""
    return np.interp(values, xs, ys, left=ys[0], right=ys[-1])


def test_isotonic_layer_and_hub_round_trip(tmp_path):
    n, d, n_bin = 400, 3, 10
    predictions, targets, weights = isotonic_data(n, d)
    calibrator = IsotonicCalibrator(n_bin)
    calibrator.accumulate(predictions, targets, weights)
    calibrator.calibrate()
    layer = calibrator.to_layer()
    assert isinstance(layer, twml.layers.Isotonic)
    inputs = np.concatenate([RNG.random((20, d)), [[-1.0] * d, [2.0] * d]]).astype(np.float32)
    expected = np.stack(
        [numpy_interpolate(inputs[:, j], calibrator.xs_input[j], calibrator.ys_input[j]) for j in range(d)], axis=1
    )
    path = str(tmp_path / "isotonic")
    calibrator.save(path)
    with tf.Graph().as_default():  # a fresh graph: only the saved module
        module = hub.Module(path)
        assert module.get_signature_names() == ["isotonic_calibrator"]
        hub_output = module(tf.constant(inputs), signature="isotonic_calibrator")
        # the multi-phase use: clip(isotonic(mlp_output), 0, 1)
        clipped = tf.clip_by_value(hub_output, 0.0, 1.0)
        layer_output = layer(tf.constant(inputs))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            hub_value, clipped_value, layer_value = session.run([hub_output, clipped, layer_output])
    assert hub_value.dtype == np.float32 and hub_value.shape == (22, d)
    np.testing.assert_allclose(layer_value, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(hub_value, layer_value)
    np.testing.assert_array_equal(clipped_value, np.clip(layer_value, 0, 1))
    np.testing.assert_array_equal(layer_value[-2], calibrator.ys_input[:, 0])
    np.testing.assert_array_equal(layer_value[-1], calibrator.ys_input[:, -1])

    named = str(tmp_path / "named")
    calibrator.save(named, name="iso")
    with tf.Graph().as_default():
        assert hub.Module(named).get_signature_names() == ["iso"]


def test_isotonic_write_summary(tmp_path):
    calibrator = IsotonicCalibrator(3)
    calibrator.accumulate(*isotonic_data(30, 1))
    calibrator.calibrate()
    writer = tf.summary.FileWriter(str(tmp_path))
    calibrator.write_summary(writer)
    writer.close()
    events = [f for f in os.listdir(tmp_path) if f.startswith("events")]
    tags = set()
    for event in tf.train.summary_iterator(os.path.join(str(tmp_path), events[0])):
        tags.update(v.tag for v in event.summary.value)
    assert tags == {"isotonic_calibrator/xs/0", "isotonic_calibrator/ys/0"}


# --- MDLCalibrator and HashedPercentileDiscretizerCalibrator -------------------------------------


def numpy_percentiles(values, weights, n_bin):
    """§7.2's weighted percentile boundaries, computed independently with numpy."""
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    if len(values) < n_bin + 1:
        return np.concatenate([[-np.inf], values, np.full(n_bin - len(values), np.inf)]).astype(np.float32)
    cw = np.cumsum(weights.astype(np.float64))
    cw -= cw[0]
    cw = (cw / cw[-1]).astype(np.float32)
    idx = np.clip(np.searchsorted(cw, np.linspace(0, 1, n_bin + 1, dtype=np.float32), side="right") - 1, 0, None)
    idx[0], idx[-1] = 0, len(values) - 1
    return values[idx]


def np_hash32(feature_ids, bins, output_bits):
    """§5.6's 32-bit hash of (feature id, bin) with Python integers."""
    mod = 1 << 64
    keys = []
    for fid, b in zip(feature_ids, bins):
        x = ((int(fid) % mod) * 2654435761 + int(b)) % mod * 2654435761 % mod
        keys.append((x >> (32 - output_bits)) & ((1 << output_bits) - 1))
    return np.array(keys, np.int64)


def local_bin(boundaries, value):
    """§5.5's bin search for a value not on an interior boundary: index of the last boundary <= value,
    in [0, len - 1] (values below the first boundary go to 0)."""
    return int(np.clip(np.searchsorted(boundaries, value, side="right") - 1, 0, len(boundaries) - 1))


FEATURE_IDS = [7, -3, 1 << 40, 12]


def calibrated(cls, sizes, n_bin, out_bits):
    calibrator = cls(n_bin, out_bits)
    keys = np.concatenate([np.full(size, fid, np.int64) for fid, size in zip(FEATURE_IDS, sizes)])
    vals = RNG.normal(size=keys.size).astype(np.float32)
    weights = RNG.uniform(0.1, 3.0, keys.size).astype(np.float32)
    order = RNG.permutation(keys.size)
    keys, vals, weights = keys[order], vals[order], weights[order]
    for a, b in ((0, keys.size // 2), (keys.size // 2, keys.size)):
        calibrator.accumulate(keys[a:b], vals[a:b], weights[a:b])
    calibrator.calibrate()
    for fid in FEATURE_IDS:
        mask = keys == fid
        expected = numpy_percentiles(vals[mask], weights[mask], n_bin)
        np.testing.assert_array_equal(calibrator.bin_vals[calibrator.hash_map[fid]], expected)
    return calibrator


def sparse_input(n_rows=60):
    """Rows of one (id, value): 80% calibrated ids, values rounded to 0.1 (off the boundaries)."""
    ids = np.where(RNG.random(n_rows) < 0.8, RNG.choice(FEATURE_IDS, n_rows), RNG.integers(-(2**40), 2**40, n_rows))
    vals = (np.round(RNG.normal(size=n_rows) * 20) / 10).astype(np.float32)
    return np.stack([np.arange(n_rows), ids], axis=1).astype(np.int64), vals


def run_sparse(make_outputs):
    """Builds make_outputs() in a fresh graph and evaluates it after initialising variables, then tables."""
    with tf.Graph().as_default():
        outputs = make_outputs()
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            session.run(tf.tables_initializer())
            return session.run(outputs)


def test_hash_fn_matches_hashing_discretizer_reference():
    ids = np.array([12345, 12345, -7], np.int64)
    with tf.Graph().as_default(), tf.Session() as session:
        # output_size as the original layer passes it: the int64 tensor 2**out_bits
        keys22 = session.run(
            integer_multiplicative_hashing_uniform(
                tf.constant(ids[:2]), tf.constant([0, 3], tf.int64), tf.constant(1 << 22, tf.int64)
            )
        )
        keys20 = session.run(
            integer_multiplicative_hashing_uniform(tf.constant(ids[2:]), tf.constant([2], tf.int64), 1 << 20)
        )
        low = session.run(
            integer_multiplicative_hashing(
                tf.constant(ids), tf.constant([0, 3, 2], tf.int64), tf.constant(1 << 10, tf.int64)
            )
        )
    np.testing.assert_array_equal(keys22, [1060204, 448263])  # §5.6 h32 reference values
    np.testing.assert_array_equal(keys20, [250357])
    mask = (1 << 64) - 1
    expected_low = [((int(i) * 2654435761 + b) * 2654435761 & mask) % 1024 for i, b in zip(ids, [0, 3, 2])]
    np.testing.assert_array_equal(low, expected_low)
    with pytest.raises(ValueError, match="power of two"):
        integer_multiplicative_hashing_uniform(tf.constant(ids), tf.constant(ids), 1 << 33)
    with pytest.raises(ValueError, match="power of two"):
        integer_multiplicative_hashing(tf.constant(ids), tf.constant(ids), 1000)


def test_hashed_percentile_discretizer_calls_hash_fn_with_output_size_tensor():
    calls = []

    def hash_fn(feature_ids, bin_indices, output_size):  # written for the original layer
        calls.append(output_size)
        return output_size - 1 - bin_indices

    with tf.Graph().as_default():
        layer = HashedPercentileDiscretizer(1, 2, 6, [0.0, 1.0, 2.0], [7], [0], [0, 1, 2], [0], hash_fn=hash_fn)
        inputs = tf.SparseTensor([[0, 7], [1, 9]], [1.5, 3.0], [2, 1 << 40])
        out = layer(inputs)
        assert len(calls) == 1 and calls[0].dtype == tf.int64 and calls[0].shape.ndims == 0
        with tf.Session() as session:
            session.run(tf.tables_initializer())
            size, got = session.run([calls[0], out])
    assert size == 64
    assert got.dense_shape.tolist() == [2, 64]
    np.testing.assert_array_equal(got.indices[:, 0], [0, 1])
    assert 63 - 2 <= got.indices[0, 1] <= 63  # the calibrated feature: size - 1 - bin
    assert got.indices[1, 1] == 9  # the uncalibrated one keeps limit_bits(id)
    np.testing.assert_allclose(got.values, [1.0, 3.0])
    with pytest.raises(ValueError, match="out_bits"):
        HashedPercentileDiscretizer(1, 2, 33, [0.0, 1.0, 2.0], [7], [0], [0, 1, 2], [0])


@pytest.mark.parametrize("out_bits", [22, 4])  # 4 bits: fewer keys than bins is fine when hashing
def test_hashed_percentile_calibrator_layer_and_hub(tmp_path, out_bits):
    n_bin = 6
    calibrator = calibrated(HashedPercentileDiscretizerCalibrator, [300, 80, 4, 1], n_bin, out_bits)
    assert calibrator.name == "hashed_percentile_discretizer_calibrator"
    layer = calibrator.to_layer()
    assert isinstance(layer, HashedPercentileDiscretizer) and layer.n_feature == 4
    indices, vals = sparse_input()
    ids = indices[:, 1]
    known = np.isin(ids, FEATURE_IDS)
    bins = [local_bin(calibrator.bin_vals[calibrator.hash_map[int(i)]], v) for i, v in zip(ids[known], vals[known])]
    expected_keys = ids & ((1 << out_bits) - 1)
    expected_keys[known] = np_hash32(ids[known], bins, out_bits)
    expected_vals = np.where(known, 1.0, vals)

    path = str(tmp_path / "hashed")
    calibrator.save(path, name=calibrator.name)

    def outputs():
        sparse = tf.SparseTensor(indices, vals, [len(vals), 1 << 41])
        module = hub.Module(path)
        assert module.get_signature_names() == [calibrator.name]
        return module(sparse, signature=calibrator.name), layer(sparse)

    hub_value, layer_value = run_sparse(outputs)
    for value in (hub_value, layer_value):
        np.testing.assert_array_equal(value.indices[:, 0], np.arange(len(vals)))
        np.testing.assert_array_equal(value.indices[:, 1], expected_keys)
        np.testing.assert_array_equal(value.values, expected_vals)
        np.testing.assert_array_equal(value.dense_shape, [len(vals), 1 << out_bits])
    with open(os.path.join(path, calibrator.name + "_bin.json")) as file:
        content = json.load(file)
    assert content["feature_ids"] == sorted(calibrator.hash_map, key=calibrator.hash_map.get)
    np.testing.assert_array_equal(np.array(content["bin_boundaries"], np.float32), calibrator.bin_vals)


def test_hashed_percentile_layer_without_features():
    calibrator = HashedPercentileDiscretizerCalibrator(3, 10, allow_empty_calibration=True)
    calibrator.calibrate()
    indices, vals = sparse_input(10)
    value = run_sparse(lambda: calibrator.to_layer()(tf.SparseTensor(indices, vals, [10, 1 << 41])))
    np.testing.assert_array_equal(value.indices[:, 1], indices[:, 1] & 1023)
    np.testing.assert_array_equal(value.values, vals)
    with pytest.raises(RuntimeError, match="calibrate"):
        HashedPercentileDiscretizerCalibrator(3, 10).to_layer()


def test_mdl_calibrator_layer_hub_and_checkpoint(tmp_path):
    n_bin, out_bits = 5, 12
    calibrator = calibrated(MDLCalibrator, [200, 50, 3, 1], n_bin, out_bits)
    assert calibrator.name == "mdl_calibrator"
    assert calibrator.get_layer_args() == {"n_feature": 4, "n_bin": n_bin, "out_bits": out_bits}
    layer = calibrator.to_layer()
    assert isinstance(layer, twml.layers.MDL)
    indices, vals = sparse_input()
    ids = indices[:, 1]
    known = np.isin(ids, FEATURE_IDS)
    total = 4 * (n_bin + 1)
    expected_keys = ids % ((1 << out_bits) - total) + total  # Python % is floormod
    for position in np.flatnonzero(known):
        index = calibrator.hash_map[int(ids[position])]
        expected_keys[position] = calibrator.bin_ids[index, local_bin(calibrator.bin_vals[index], vals[position])]
    expected_vals = np.where(known, 1.0, vals)

    path = str(tmp_path / "mdl")
    calibrator.save(path, name="mdl")

    def outputs():
        sparse = tf.SparseTensor(indices, vals, [len(vals), 1 << 41])
        module = hub.Module(path)
        assert module.get_signature_names() == ["mdl"]
        return module(sparse, signature="mdl"), layer(sparse)

    hub_value, layer_value = run_sparse(outputs)
    for value in (hub_value, layer_value):
        np.testing.assert_array_equal(value.indices[:, 0], np.arange(len(vals)))
        np.testing.assert_array_equal(value.indices[:, 1], expected_keys)
        np.testing.assert_array_equal(value.values, expected_vals)
        np.testing.assert_array_equal(value.dense_shape, [len(vals), 1 << out_bits])

    with open(os.path.join(path, "mdl.json.tf")) as file:
        assert json.load(file) == {
            "layer_args": {"n_feature": 4, "n_bin": n_bin, "out_bits": out_bits},
            "saved_layer_scope": "mdl/",
        }
    checkpoint = tf.train.latest_checkpoint(path)
    assert checkpoint is not None
    saved = dict(tf.train.list_variables(checkpoint))
    assert saved == {
        "mdl/bin_ids": [total],
        "mdl/bin_values": [total],
        "mdl/feature_offsets": [4],
        "mdl/hash_keys": [4],
        "mdl/hash_values": [4],
    }
    np.testing.assert_array_equal(tf.train.load_variable(checkpoint, "mdl/bin_values"), calibrator.bin_vals.ravel())
    hash_keys = tf.train.load_variable(checkpoint, "mdl/hash_keys")
    hash_values = tf.train.load_variable(checkpoint, "mdl/hash_values")
    assert dict(zip(hash_keys.tolist(), hash_values.tolist())) == calibrator.hash_map
    assert any(name.startswith("events") for name in os.listdir(path))


def test_mdl_calibrator_errors(tmp_path):
    assert MDLCalibrator(3, 10, calibrator_name="m").name == "m"
    with pytest.raises(RuntimeError, match="no feature"):
        MDLCalibrator(3, 10).calibrate()
    with pytest.raises(RuntimeError, match="calibrate"):
        MDLCalibrator(3, 10).to_layer()
    unsaved = MDLCalibrator(3, 10)
    unsaved.accumulate([1], [1.0])
    with pytest.raises(RuntimeError, match="calibrate"):
        unsaved.save(str(tmp_path / "x"))
    small = calibrated(MDLCalibrator, [20, 20, 20, 20], n_bin=3, out_bits=4)
    with pytest.raises(ValueError, match="must exceed"):
        small.to_layer()

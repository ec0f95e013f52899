"""twml.contrib.calibrators: weighted percentiles (reference §7.2), the HashingDiscretizer and
PercentileDiscretizer calibrators' layers, and their saved TF-Hub modules (§7.1-7.3)."""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tensorflow_hub as hub

import libtwml
from twml.contrib.calibrators import HashingDiscretizerCalibrator, PercentileDiscretizerCalibrator
from twml.contrib.layers import HashingDiscretizer

RNG = np.random.default_rng(20240612)


def numpy_percentiles(values, weights, n_bin):
    """§7.2's weighted percentile boundaries, computed independently with numpy."""
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    if len(values) < n_bin + 1:
        return np.concatenate([[-np.inf], values, np.full(n_bin - len(values), np.inf)]).astype(np.float32)
    cw = np.cumsum(weights.astype(np.float64))
    cw -= cw[0]
    cw = (cw / cw[-1]).astype(np.float32)
    percentiles = np.linspace(0, 1, n_bin + 1, dtype=np.float32)
    idx = np.clip(np.searchsorted(cw, percentiles, side="right") - 1, 0, len(values) - 1)
    idx[0], idx[-1] = 0, len(values) - 1
    return values[idx].astype(np.float32)


def np_hash32(ids, buckets, output_bits):
    mod = 1 << 64
    out = []
    for i, b in zip(ids, buckets):
        x = (int(i) % mod) * 2654435761 % mod
        x = (x + int(b)) % mod * 2654435761 % mod
        out.append((x >> (32 - output_bits)) & ((1 << output_bits) - 1))
    return np.array(out, np.int64)


def random_batches(feature_ids, sizes, n_batches=3):
    """Batches of (keys, vals, weights); feature sizes[j] values in all for feature_ids[j]."""
    per_feature = [
        (np.full(size, fid, np.int64), RNG.normal(size=size).astype(np.float32), RNG.uniform(0.1, 3, size))
        for fid, size in zip(feature_ids, sizes)
    ]
    keys, vals, weights = (np.concatenate(parts) for parts in zip(*per_feature))
    order = RNG.permutation(len(keys))
    keys, vals, weights = keys[order], vals[order], weights[order].astype(np.float32)
    bounds = np.linspace(0, len(keys), n_batches + 1).astype(int)
    return [(keys[a:b], vals[a:b], weights[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def calibrated(cls, feature_ids, sizes, n_bin, out_bits=22, **kwargs):
    calibrator = cls(n_bin, out_bits, **kwargs)
    batches = random_batches(feature_ids, sizes)
    for keys, vals, weights in batches:
        calibrator.accumulate(keys, vals, weights)
    calibrator.calibrate()
    return calibrator, batches


@pytest.mark.parametrize("cls", [PercentileDiscretizerCalibrator, HashingDiscretizerCalibrator])
def test_weighted_percentiles_against_numpy(cls):
    feature_ids = [7, -3, 1 << 40, 12]
    sizes = [500, 57, 3, 1]  # the last two have fewer values than the 11 boundaries
    n_bin = 10
    calibrator, batches = calibrated(cls, feature_ids, sizes, n_bin)
    assert calibrator.is_calibrated
    # indices in order of first appearance, ascending within a batch
    expected_order = []
    for keys, _, _ in batches:
        expected_order += [int(k) for k in np.unique(keys) if int(k) not in expected_order]
    assert list(calibrator.hash_map) == expected_order
    assert sorted(calibrator.hash_map.values()) == list(range(len(feature_ids)))
    keys, vals, weights = (np.concatenate(parts) for parts in zip(*batches))
    assert calibrator.bin_vals.shape == (4, n_bin + 1) and calibrator.bin_vals.dtype == np.float32
    np.testing.assert_array_equal(calibrator.bin_ids.ravel(), np.arange(1, 4 * (n_bin + 1) + 1))
    for fid in feature_ids:
        mask = keys == fid
        expected = numpy_percentiles(vals[mask], weights[mask], n_bin)
        np.testing.assert_array_equal(calibrator.bin_vals[calibrator.hash_map[fid]], expected)
    assert calibrator.get_layer_args() == {"n_feature": 4, "n_bin": n_bin, "out_bits": 22}


def test_unweighted_default_and_accumulate_features():
    calibrator = HashingDiscretizerCalibrator(4, 20)
    values = np.arange(9, dtype=np.float32)[::-1]
    calibrator.accumulate(np.full(9, 5, np.int64), values)
    sparse = tf.SparseTensorValue(np.array([[0, 6], [1, 6], [1, 5]]), np.array([1.0, 2.0, 9.0], np.float32), [2, 10])
    calibrator.accumulate_features({"x": sparse, "weights": np.array([[1.0], [3.0]], np.float32)}, "x")
    calibrator.accumulate_feature(
        {"feature_ids": np.array([6]), "feature_values": np.array([4.0]), "weights": np.array([2.0])}
    )
    calibrator.calibrate()
    assert calibrator.hash_map == {5: 0, 6: 1}  # the row weight 3 applies to (5, 9.0)
    np.testing.assert_array_equal(
        calibrator.bin_vals[0], numpy_percentiles(np.append(values, 9.0), np.append(np.ones(9), 3.0), 4)
    )
    np.testing.assert_array_equal(calibrator.bin_vals[1], [-np.inf, 1, 2, 4, np.inf])


def test_names_and_errors():
    assert HashingDiscretizerCalibrator(3, 10).name == "hashing_discretizer_calibrator"
    assert PercentileDiscretizerCalibrator(3, 10).name == "percentile_discretizer_calibrator"
    assert HashingDiscretizerCalibrator(3, 10, calibrator_name="disc").name == "disc"
    with pytest.raises(RuntimeError, match="no feature"):
        HashingDiscretizerCalibrator(3, 10).calibrate()
    empty = HashingDiscretizerCalibrator(3, 10, allow_empty_calibration=True)
    empty.calibrate()
    assert empty.to_layer().n_feature == 0
    with pytest.raises(RuntimeError, match="calibrate"):
        HashingDiscretizerCalibrator(3, 10).to_layer()
    with pytest.raises(ValueError, match="same shape"):
        HashingDiscretizerCalibrator(3, 10).accumulate([1, 2], [1.0])
    small, _ = calibrated(PercentileDiscretizerCalibrator, [1, 2], [20, 20], n_bin=3, out_bits=3)
    with pytest.raises(ValueError, match="must exceed"):
        small.to_layer()


def sparse_input(feature_ids, n_rows=40):
    ids = np.where(RNG.random(n_rows) < 0.8, RNG.choice(feature_ids, n_rows), RNG.integers(-(2**40), 2**40, n_rows))
    vals = np.round(RNG.normal(size=n_rows), 1).astype(np.float32)
    indices = np.stack([np.arange(n_rows), ids], axis=1).astype(np.int64)
    return indices, vals


def test_hashing_calibrator_hub_round_trip(tmp_path):
    feature_ids = [7, -3, 1 << 40, 12]
    n_bin, out_bits = 6, 22
    calibrator, _ = calibrated(HashingDiscretizerCalibrator, feature_ids, [300, 80, 4, 1], n_bin, out_bits)
    path = str(tmp_path / "discretizer")
    calibrator.save(path, name=calibrator.name)
    indices, vals = sparse_input(feature_ids)
    # the keys by §5.6's formulas, from the calibrated boundaries
    ids = indices[:, 1]
    calibrated_mask = np.isin(ids, feature_ids)
    buckets = [
        np.searchsorted(calibrator.bin_vals[calibrator.hash_map[int(i)]], v, side="left")
        for i, v in zip(ids[calibrated_mask], vals[calibrated_mask])
    ]
    expected_keys = ids & ((1 << out_bits) - 1)
    expected_keys[calibrated_mask] = np_hash32(ids[calibrated_mask], buckets, out_bits)
    expected_vals = np.where(calibrated_mask, 1, vals)

    with tf.Graph().as_default():  # a fresh graph: only the saved module
        module = hub.Module(path)
        assert module.get_signature_names() == ["hashing_discretizer_calibrator"]
        sparse = tf.SparseTensor(indices, vals, [len(vals), 1 << 41])
        output = module(sparse, signature="hashing_discretizer_calibrator")
        layer_output = calibrator.to_layer()(sparse)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            hub_value, layer_value = session.run([output, layer_output])
    assert isinstance(output, tf.SparseTensor)
    np.testing.assert_array_equal(hub_value.indices, layer_value.indices)
    np.testing.assert_array_equal(hub_value.indices[:, 0], np.arange(len(vals)))
    np.testing.assert_array_equal(hub_value.indices[:, 1], expected_keys)
    np.testing.assert_array_equal(hub_value.values, expected_vals)
    np.testing.assert_array_equal(hub_value.dense_shape, [len(vals), 1 << out_bits])

    with open(os.path.join(path, "hashing_discretizer_calibrator_bin.json")) as file:
        content = json.load(file)
    assert content["output_bits"] == out_bits
    by_index = sorted(calibrator.hash_map, key=calibrator.hash_map.get)
    assert content["feature_ids"] == by_index
    np.testing.assert_array_equal(np.array(content["bin_boundaries"], np.float32), calibrator.bin_vals)
    assert np.array(content["bin_boundaries"]).shape == (4, n_bin + 1)


def test_hashing_calibrator_layer_matches_op():
    calibrator, _ = calibrated(HashingDiscretizerCalibrator, [100, 200], [50, 50], n_bin=4, out_bits=22)
    layer = calibrator.to_layer()
    assert isinstance(layer, HashingDiscretizer)
    indices, vals = sparse_input([100, 200])
    with tf.Graph().as_default():
        output = layer(tf.SparseTensor(indices, vals, [len(vals), 1 << 41]))
        by_index = sorted(calibrator.hash_map, key=calibrator.hash_map.get)
        keys, new_vals = libtwml.ops.hashing_discretizer(
            indices[:, 1],
            vals,
            calibrator.bin_vals.ravel(),
            feature_ids=tf.make_tensor_proto(np.array(by_index, np.int64)),
            n_bin=5,
            output_bits=22,
            cost_per_unit=500,
            options=0,
        )
        with tf.Session() as session:
            value, op_keys, op_vals = session.run([output, keys, new_vals])
    np.testing.assert_array_equal(value.indices[:, 1], op_keys)
    np.testing.assert_array_equal(value.values, op_vals)


def test_percentile_calibrator_hub_signatures(tmp_path):
    feature_ids = [7, 12]
    calibrator, _ = calibrated(PercentileDiscretizerCalibrator, feature_ids, [200, 30], n_bin=5, out_bits=12)
    path = str(tmp_path / "percentile")
    calibrator.save(path, name="disc")
    indices, vals = sparse_input(feature_ids, n_rows=30)
    with tf.Graph().as_default():
        module = hub.Module(path)
        assert sorted(module.get_signature_names()) == ["disc", "disc_keep_inputs"]
        sparse = tf.SparseTensor(indices, vals, [len(vals), 1 << 41])
        layer = calibrator.to_layer()
        fetches = [
            module(sparse, signature="disc"),
            module(sparse, signature="disc_keep_inputs"),
            layer(sparse),
            layer(sparse, keep_inputs=True),
        ]
        with tf.Session() as session:
            hub_plain, hub_keep, layer_plain, layer_keep = session.run(fetches)
    for got, want in ((hub_plain, layer_plain), (hub_keep, layer_keep)):
        np.testing.assert_array_equal(got.indices, want.indices)
        np.testing.assert_array_equal(got.values, want.values)
        np.testing.assert_array_equal(got.dense_shape, want.dense_shape)
    assert len(hub_keep.values) > len(hub_plain.values)
    with open(os.path.join(path, "disc_bin.json")) as file:
        content = json.load(file)
    assert content["feature_ids"] == sorted(calibrator.hash_map, key=calibrator.hash_map.get)
    assert content["output_bits"] == 12


def test_save_requires_calibration(tmp_path):
    calibrator = HashingDiscretizerCalibrator(3, 10)
    calibrator.accumulate([1], [1.0])
    with pytest.raises(RuntimeError, match="calibrate"):
        calibrator.save(str(tmp_path / "x"))


def test_write_summary(tmp_path):
    calibrator, _ = calibrated(PercentileDiscretizerCalibrator, [3, 4], [40, 2], n_bin=4)
    writer = tf.summary.FileWriter(str(tmp_path))
    calibrator.write_summary(writer)
    writer.close()
    events = [f for f in os.listdir(tmp_path) if f.startswith("events")]
    assert events
    tags = set()
    for event in tf.train.summary_iterator(os.path.join(str(tmp_path), events[0])):
        tags.update(v.tag for v in event.summary.value)
    assert tags == {"percentile_discretizer_calibrator/3", "percentile_discretizer_calibrator/4"}

"""The v2 feature config's tensors, images and discretizing outputs; calibrators.discretize; and
twml.util.fix_shape_sparse — against numpy computations over the core's record decoders."""

import json
import os
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml
import twml
from libtwml import _core
from tools.light_ranker import synthetic_data
from twml.contrib import export_feature_spec, feature_config_parsers
from twml.contrib.calibrators import (
    HashedPercentileDiscretizerCalibrator,
    HashingDiscretizerCalibrator,
    PercentileDiscretizerCalibrator,
)
from twml.contrib.calibrators.discretize import apply_discretizers, discretize
from twml.contrib.feature_config import FeatureConfigBuilder
from twml_common import data_spec, idl
from twml_common.serialize import serialize

WEIGHT = "meta.record_weight/type=earlybird"
TENSOR_SPEC = [
    ("emb.float", "TENSOR"),
    ("emb.int", "TENSOR"),
    ("img.png", "STRING"),
    ("img.tensor", "TENSOR"),
    ("x.cont", "CONTINUOUS"),
    ("y.label", "BINARY"),
]


def ids_of(names):
    return dict(zip(names, libtwml.feature_id(names).tolist()))


IDS = ids_of([name for name, _ in TENSOR_SPEC])


def run(tensors):
    with tf.Session() as session:
        return session.run(tensors)


def parse(config, records):
    with tf.Graph().as_default():
        return run(config.get_parse_fn()(tf.constant(records)))


@pytest.fixture(scope="module")
def tensor_spec(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("tensor_spec") / "data_spec.json")
    data_spec.write_data_spec(data_spec.make_data_spec(TENSOR_SPEC), path)
    return path


@pytest.fixture(scope="module")
def light_ranker(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("light_ranker"))
    paths = synthetic_data.write_dataset(directory, num_files=1, records_per_file=96, seed=3)
    return {"spec": os.path.join(directory, "data_spec.json"), "records": _core.read_block_file(paths[0])}


# ------------------------------------------------------------------------------------------ tensors


def test_extract_tensors_raw_little_endian_records(tensor_spec):
    rng = np.random.RandomState(0)
    floats = [rng.randn(2, 3) for _ in range(5)]  # stored as float64
    ints = [rng.randint(-1000, 1000, size=4).astype(np.int32) for _ in range(5)]
    records = []
    for i in range(5):
        tensors = {IDS["emb.int"]: ints[i]}
        if i != 2:  # record 2 lacks emb.float
            tensors[IDS["emb.float"]] = floats[i]
        records.append(_core.encode_data_record({"continuous": {IDS["x.cont"]: float(i)}, "tensors": tensors}))
    config = (
        FeatureConfigBuilder(tensor_spec)
        .extract_tensors(["emb.float"], tf.float32, [2, 3], default_value=-1.5)
        .extract_tensors("emb.int", "int64")
        .extract_feature("x.cont")
        .build()
    )
    features, labels = parse(config, records)
    emb = features["emb.float"]
    assert emb.dtype == np.float32 and emb.shape == (5, 2, 3)
    for i in range(5):
        expected = np.full((2, 3), -1.5, np.float32) if i == 2 else floats[i].astype(np.float32)
        np.testing.assert_array_equal(emb[i], expected)
    assert features["emb.int"].dtype == np.int64
    np.testing.assert_array_equal(features["emb.int"], np.stack(ints).astype(np.int64))
    np.testing.assert_array_equal(features["x.cont"], np.arange(5, dtype=np.float32))
    assert labels.shape == (5, 0)
    # Static shapes: known with a shape, dynamic without.
    with tf.Graph().as_default():
        static, _ = config.get_parse_fn()(tf.constant(records))
        assert static["emb.float"].shape.as_list() == [None, 2, 3]
    # Without a shape, every record must hold the tensor.
    no_shape = FeatureConfigBuilder(tensor_spec).extract_tensors("emb.float").build()
    with pytest.raises(tf.errors.InvalidArgumentError, match="has no tensor feature"):
        parse(no_shape, records)
    # With a shape, a record's tensor must have it.
    wrong = FeatureConfigBuilder(tensor_spec).extract_tensors("emb.float", shape=[3, 2]).build()
    with pytest.raises(tf.errors.InvalidArgumentError, match="does not have default_shape"):
        parse(wrong, records)


def test_extract_tensors_thrift_list_tensors_are_big_endian(tensor_spec):
    # A FloatTensor holds doubles, big-endian on the wire; a BoolTensor bools.
    tensor = idl.tensor
    values = [[0.25, -3.5, 1e-3, 7.0], [2.0, 4.0, 8.0, 16.0]]
    flags = [[True, False, True], [False, False, True]]
    records = [
        serialize(
            idl.data.DataRecord(
                tensors={
                    IDS["emb.float"]: tensor.GeneralTensor(floatTensor=tensor.FloatTensor(floats=v, shape=[2, 2])),
                    IDS["emb.int"]: tensor.GeneralTensor(boolTensor=tensor.BoolTensor(booleans=f, shape=[3])),
                }
            )
        )
        for v, f in zip(values, flags)
    ]
    records.append(serialize(idl.data.DataRecord(continuousFeatures={IDS["x.cont"]: 1.0})))
    config = (
        FeatureConfigBuilder(tensor_spec)
        .extract_tensors("emb.float", tf.float64, [2, 2])
        .extract_tensors("emb.int", tf.float32, [3], default_value=9)
        .build()
    )
    features, _ = parse(config, records)
    expected = np.array(values + [[0.0] * 4], np.float64).reshape(3, 2, 2)
    np.testing.assert_array_equal(features["emb.float"], expected)
    np.testing.assert_array_equal(features["emb.int"], np.array(flags + [[9, 9, 9]], np.float32))


def test_extract_tensors_errors_and_spec_round_trip(tensor_spec, tmp_path):
    b = FeatureConfigBuilder(tensor_spec)
    with pytest.raises(ValueError, match=r"'x.cont' of the data spec .* has type CONTINUOUS, not TENSOR"):
        b.extract_tensors("x.cont")
    with pytest.raises(ValueError, match="dtype string is not one of float32"):
        b.extract_tensors("emb.float", tf.string)
    with pytest.raises(ValueError, match="not a feature of the data spec"):
        b.extract_tensors("nope")
    with pytest.raises(ValueError, match="has type BINARY; expected STRING or TENSOR"):
        b.extract_image("y.label")
    with pytest.raises(ValueError, match="channels must be 1, 3 or 4"):
        b.extract_image("img.png", channels=2)
    with pytest.raises(ValueError, match="out_type int32 is not one of"):
        b.extract_image("img.png", out_type=tf.int32)
    b.extract_tensors("emb.float", tf.float64, [2, 3], 0.5).extract_image("img.png", True, tf.float32, 1, b"\x89PNG")
    with pytest.raises(ValueError, match="output name 'emb.float' is used twice"):
        b.extract_tensors("emb.float")
    spec = b.extract_tensors("emb.int", "int32").build().get_feature_spec()
    assert spec["tensors"] == {
        str(IDS["emb.float"]): {"featureName": "emb.float", "dtype": "float64", "shape": [2, 3], "defaultValue": 0.5},
        str(IDS["emb.int"]): {"featureName": "emb.int", "dtype": "int32", "shape": None, "defaultValue": 0},
    }
    assert spec["images"] == [{"featureName": "img.png", "preprocess": True, "outType": "float32", "channels": 1,
                               "defaultImage": "iVBORw=="}]
    json.dumps(spec)  # stays JSON-serializable
    path = export_feature_spec(str(tmp_path), spec)
    rebuilt = feature_config_parsers.create_feature_config(path, tensor_spec)
    assert rebuilt.get_feature_spec() == spec
    assert rebuilt.image_configs[0].default_image == b"\x89PNG"


# ------------------------------------------------------------------------------------------- images


def encode_png(images):
    with tf.Graph().as_default():
        return run([tf.io.encode_png(image) for image in images])


def test_extract_image_from_string_and_string_tensor_features(tensor_spec):
    rng = np.random.RandomState(1)
    pixels = [rng.randint(0, 256, size=(4, 5, 3)).astype(np.uint8) for _ in range(4)]
    default = rng.randint(0, 256, size=(4, 5, 3)).astype(np.uint8)
    pngs = encode_png(pixels + [default])
    records = []
    for i in range(4):
        fields = {"tensors": {IDS["img.tensor"]: np.array([pngs[i]], dtype=object)}}
        if i != 1:  # record 1 lacks img.png: the default image
            fields["strings"] = {IDS["img.png"]: pngs[i]}
        records.append(_core.encode_data_record(fields))
    config = (
        FeatureConfigBuilder(tensor_spec)
        .extract_image("img.png", default_image=pngs[4])
        .extract_image("img.tensor", preprocess=True, out_type=tf.float32, channels=1)
        .build()
    )
    features, _ = parse(config, records)
    expected = np.stack([default if i == 1 else pixels[i] for i in range(4)])
    assert features["img.png"].dtype == np.uint8
    np.testing.assert_array_equal(features["img.png"], expected)
    # Grayscale conversion (ITU-R 601 luma, as tf.image.rgb_to_grayscale on uint8), scaled to [0, 1].
    gray = features["img.tensor"]
    assert gray.shape == (4, 4, 5, 1) and gray.dtype == np.float32
    luma = np.stack(pixels).astype(np.float64) @ np.array([0.2989, 0.587, 0.114])
    np.testing.assert_allclose(gray[..., 0] * 255.0, luma, atol=1.01)
    # No default image: a record lacking it is an error.
    strict = FeatureConfigBuilder(tensor_spec).extract_image("img.png").build()
    with pytest.raises(tf.errors.InvalidArgumentError, match="lacks the image feature img.png"):
        parse(strict, records)


# --------------------------------------------------------------------------------------- discretize


def nearest_index(xs, value):
    """The reference's (§5.5) bin search, written out independently."""
    if value <= xs[0]:
        return 0
    if value >= xs[-1]:
        return len(xs) - 1
    left, right = 0, len(xs) - 1
    while right - left > 1:
        middle = (left + right) // 2
        if xs[middle] <= value <= xs[middle + 1]:
            return middle
        if value > xs[middle]:
            left = middle
        else:
            right = middle
    return left


def raw_entries(config, output, records, bits):
    """(row, masked key, value, record weight) of an output, by the core's hashed decoder."""
    sparse = [s for s in config.sparse_extraction_configs if s.output_name == output][0]
    keep = [id_ for _, id_, _ in sparse.features]
    weight_id = twml.feature_id(WEIGHT)[0]
    entries = []
    for row, record in enumerate(records):
        weight = _core.decode_data_record(record)["continuous"].get(weight_id, 0.0)
        core = _core.decode_hashed_data_record(record, keep, [0] * len(keep), [], [], 0)
        for key, value in zip(core["keys"], core["values"]):
            entries.append((row, int(key) & ((1 << bits) - 1), float(np.float32(value)), np.float32(weight)))
    return entries


class Params:
    def __init__(self, save_dir, max_steps=None):
        self.discretizer_save_dir = save_dir
        self.discretizer_max_steps = max_steps


def discretizing_config(spec):
    return (
        FeatureConfigBuilder(spec)
        .extract_features_as_hashed_sparse([r"timelines\..*"], "cont_p", 20, 4, 12, "percentile",
                                           type_filter=["CONTINUOUS"])
        .extract_features_as_hashed_sparse([r"timelines\..*", r"user\..*"], "cont_h", 16, 3, 10, "hashing",
                                           type_filter=["CONTINUOUS"])
        .extract_features_as_hashed_sparse([r"ebd\..*"], "plain", 10)
        .define_weight(WEIGHT)
        .build()
    )


def test_discretize_config_and_raw_parse_output(light_ranker):
    config = discretizing_config(light_ranker["spec"])
    assert set(config.discretize_config) == {"cont_p", "cont_h"}
    assert config["discretize_config"] is config.discretize_config
    assert type(config.discretize_config["cont_p"]) is PercentileDiscretizerCalibrator
    assert type(config.discretize_config["cont_h"]) is HashingDiscretizerCalibrator
    assert config.discretize_config["cont_h"].get_layer_args() == {"n_feature": 0, "n_bin": 3, "out_bits": 10}
    hashed = (FeatureConfigBuilder(light_ranker["spec"])
              .extract_features_as_hashed_sparse(r"timelines\..*", "d", 8, 5, 9, "hashed_percentile").build())
    assert type(hashed.discretize_config["d"]) is HashedPercentileDiscretizerCalibrator
    with pytest.raises(KeyError):
        config["_ids"]
    # The parse output of a discretizing output is the raw hashed SparseTensor.
    records = light_ranker["records"][:12]
    features, _ = parse(config, records)
    sparse = features["cont_p"]
    assert sparse.dense_shape.tolist() == [12, 1 << 20]
    got = sorted((int(r), int(c), float(v)) for (r, c), v in zip(sparse.indices.tolist(), sparse.values.tolist()))
    assert got == sorted((r, k, v) for r, k, v, _ in raw_entries(config, "cont_p", records, 20)) and got


def test_discretize_fits_and_exports_one_module(light_ranker, tmp_path):
    import tensorflow_hub as hub

    records = light_ranker["records"]
    save_dir = str(tmp_path / "discretizer")
    parse_fn = discretizing_config(light_ranker["spec"]).get_parse_fn()

    def input_fn():
        dataset = tf.data.Dataset.from_tensor_slices(tf.constant(records)).batch(32).map(parse_fn)
        return tf.data.make_one_shot_iterator(dataset).get_next()

    calibrators = discretize(Params(save_dir), lambda: discretizing_config(light_ranker["spec"]), input_fn)
    assert set(calibrators) == {"cont_p", "cont_h"} and all(c.is_calibrated for c in calibrators.values())
    assert {"cont_h_bin.json", "cont_p_bin.json", "tfhub_module.pb"} <= set(os.listdir(save_dir))

    config = discretizing_config(light_ranker["spec"])
    entries = raw_entries(config, "cont_p", records, 20)
    with open(os.path.join(save_dir, "cont_p_bin.json")) as handle:
        bins = json.load(handle)
    assert bins["output_bits"] == 12
    keys = sorted({k for _, k, _, _ in entries})
    assert sorted(bins["feature_ids"]) == keys
    for feature_id, bounds in zip(bins["feature_ids"], bins["bin_boundaries"]):
        values = np.array([v for _, k, v, w in entries if k == feature_id])
        assert len(bounds) == 5
        assert bounds[0] == values.min() and bounds[-1] == values.max()
        assert np.all(np.diff(bounds) >= 0) and set(bounds) <= set(values.tolist())
    with open(os.path.join(save_dir, "cont_h_bin.json")) as handle:
        hashing_bins = json.load(handle)
    assert hashing_bins["output_bits"] == 10 and len(hashing_bins["bin_boundaries"][0]) == 4

    # One module, a signature per output name (plus the percentile discretizer's keep_inputs).
    batch = records[:20]
    with tf.Graph().as_default():
        module = hub.Module(save_dir)
        assert set(module.get_signature_names()) == {"cont_p", "cont_p_keep_inputs", "cont_h"}
        features, _ = config.get_parse_fn()(tf.constant(batch))
        out = apply_discretizers(dict(features), save_dir)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            percentile, hashing = session.run([out["cont_p"], out["cont_h"]])
    index = {feature_id: i for i, feature_id in enumerate(bins["feature_ids"])}
    expected = sorted(
        (r, index[k] * 5 + nearest_index(bins["bin_boundaries"][index[k]], v) + 1, 1.0)
        for r, k, v, _ in raw_entries(config, "cont_p", batch, 20)
    )
    got = sorted(
        (int(r), int(c), float(v)) for (r, c), v in zip(percentile.indices.tolist(), percentile.values.tolist())
    )
    assert got == expected and percentile.dense_shape.tolist() == [20, 1 << 12]
    n_hashing = len(raw_entries(config, "cont_h", batch, 16))
    assert hashing.dense_shape.tolist() == [20, 1 << 10] and len(hashing.values) == n_hashing
    assert np.all(hashing.values == 1.0) and np.all(hashing.indices[:, 1] < (1 << 10))


def test_discretize_max_steps_and_errors(light_ranker, tmp_path):
    records = light_ranker["records"]
    config = discretizing_config(light_ranker["spec"])

    def input_fn():
        dataset = tf.data.Dataset.from_tensor_slices(tf.constant(records)).batch(16).map(config.get_parse_fn())
        return tf.data.make_one_shot_iterator(dataset).get_next()

    calibrators = discretize(Params(str(tmp_path / "d"), max_steps=1), config, input_fn)
    # One batch of 16 records: the boundaries' extremes are those of the first 16 records only.
    first = raw_entries(config, "cont_p", records[:16], 20)
    calibrator = calibrators["cont_p"]
    for feature_id, i in calibrator.hash_map.items():
        values = [v for _, k, v, _ in first if k == feature_id]
        assert calibrator.bin_vals[i][0] == min(values) and calibrator.bin_vals[i][-1] == max(values)
    with pytest.raises(ValueError, match="discretizer_save_dir"):
        discretize(Params(None), config, input_fn)
    plain = FeatureConfigBuilder(light_ranker["spec"]).extract_features_as_hashed_sparse(r"ebd\..*", "s", 8).build()
    with pytest.raises(ValueError, match="no discretize_config"):
        discretize(Params(str(tmp_path / "e")), lambda: plain, input_fn)


# ---------------------------------------------------------------------------------- fix_shape_sparse


def test_fix_shape_sparse(light_ranker):
    config = discretizing_config(light_ranker["spec"])
    with tf.Graph().as_default():
        indices = tf.placeholder(tf.int64, [None, 2])
        values = tf.placeholder(tf.float32, [None])
        shape = tf.placeholder(tf.int64, [2])
        features = {
            "cont_p": tf.SparseTensor(indices, values, shape),
            "plain": tf.SparseTensor(indices, values, shape),
            "dense": tf.zeros([3, 2]),
        }
        assert features["cont_p"].shape.as_list() == [None, None]
        dense = features["dense"]
        assert twml.util.fix_shape_sparse(features, config) is features
        assert features["cont_p"].shape.as_list() == [None, 1 << 20]
        assert features["plain"].shape.as_list() == [None, 1 << 10]
        assert features["dense"] is dense
        feed = {indices: [[0, 5], [2, 7]], values: [1.5, -2.0], shape: [3, 8]}
        with tf.Session() as session:
            fixed = session.run(features["plain"], feed)
    assert fixed.dense_shape.tolist() == [3, 1024]
    np.testing.assert_array_equal(fixed.indices, [[0, 5], [2, 7]])
    np.testing.assert_array_equal(fixed.values, np.array([1.5, -2.0], np.float32))
    v1 = twml.FeatureConfigBuilder(light_ranker["spec"]).add_feature(r"ebd\..*", "A").build()
    with pytest.raises(ValueError, match="needs a twml.contrib.feature_config.FeatureConfig"):
        twml.util.fix_shape_sparse({}, v1)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "-q"]))

"""twml.contrib.feature_config (v2), export_feature_spec and feature_config_parsers on the synthetic
light-ranker data, against the reference (§5.1, §12.2) and the core's record decoders: sparse and
dense extraction, tensors, images and discretizing outputs (with calibrators.discretize, which fits
them), and twml.util.fix_shape_sparse over the config's output."""

import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import yaml

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
from twml.contrib.feature_config import FeatureConfig, FeatureConfigBuilder
from twml_common import data_spec, idl
from twml_common.serialize import serialize

LABELS = ["recap.engagement.is_favorited", "recap.engagement.is_replied"]


WEIGHT = "meta.record_weight/type=earlybird"


BITS = 12


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("light_ranker"))
    paths = synthetic_data.write_dataset(directory, num_files=1, records_per_file=32)
    return {"spec": os.path.join(directory, "data_spec.json"), "records": _core.read_block_file(paths[0])[:10]}


def builder(spec):
    return (
        FeatureConfigBuilder(spec)
        .extract_features_as_hashed_sparse([r"ebd\..*", r"tweet\..*", r"author\..*", r"language\..*"], "sparse", BITS)
        .extract_feature_group([r"timelines\..*"], "timelines", "CONTINUOUS", -1.0)
        .extract_feature_group([r"ebd\..*"], "ebd_binary", "BINARY", 0.0)
        .extract_feature_group([r".*language"], "languages", "DISCRETE", -7)
        .extract_feature("user.author_tweepcred", [1], 0.5)
        .extract_features([r"tweet\.card_type"], {"STRING": "none?"})
        .add_labels(LABELS)
        .define_weight(WEIGHT)
    )


def ids_of(names):
    return dict(zip(names, libtwml.feature_id(names).tolist()))


def run(config, records):
    with tf.Graph().as_default():
        features, labels = config.get_parse_fn()(tf.constant(records))
        with tf.Session() as session:
            return session.run((features, labels))


def expected_sparse_rows(record, config, bits):
    """(column, value) multiset per record: the core's hashed decode of the sparse group's features
    (same keys as GetHashedFeaturesAsSparseTensorV2 with decode_mode 0), masked to `bits`."""
    sparse = config.sparse_extraction_configs[0]
    keep = [id_ for _, id_, _ in sparse.features]
    core = _core.decode_hashed_data_record(record, keep, [0] * len(keep), [], [], 0)
    return sorted((int(k) & ((1 << bits) - 1), float(np.float32(v))) for k, v in zip(core["keys"], core["values"]))


def check_parse_output(config, records, features, labels):
    spec_names = [entry[0] for entry in config.features]
    ids = ids_of(spec_names + LABELS + [WEIGHT])
    assert set(features) == {
        "sparse",
        "timelines",
        "ebd_binary",
        "languages",
        "user.author_tweepcred",
        "tweet.card_type",
        "weights",
    }
    sparse = features["sparse"]
    assert sparse.dense_shape.tolist() == [len(records), 1 << BITS]
    assert sparse.values.dtype == np.float32 and sparse.indices.dtype == np.int64
    group = {g.output_name: g for g in config.dense_group_configs}
    assert features["timelines"].shape == (len(records), len(group["timelines"].features))
    assert features["languages"].dtype == np.int64
    seen_sparse = 0
    for i, record in enumerate(records):
        content = _core.decode_data_record(record)
        # Hashed sparse output, value by value (as multisets per row).
        row = sorted((int(c), float(v)) for (r, c), v in zip(sparse.indices.tolist(), sparse.values.tolist()) if r == i)
        assert row == expected_sparse_rows(record, config, BITS)
        seen_sparse += len(row)
        # Independently for the binary features: column = low bits of the feature id, value 1.
        for _name, id_, type_name in config.sparse_extraction_configs[0].features:
            if type_name == "BINARY" and id_ in content.get("binary", []):
                assert (id_ & ((1 << BITS) - 1), 1.0) in row
        # Dense groups.
        continuous = content.get("continuous", {})
        assert features["timelines"][i].tolist() == [
            float(np.float32(continuous.get(id_, -1.0))) for _, id_, _ in group["timelines"].features
        ]
        assert features["ebd_binary"][i].tolist() == [
            1.0 if id_ in content.get("binary", []) else 0.0 for _, id_, _ in group["ebd_binary"].features
        ]
        discrete = content.get("discrete", {})
        assert features["languages"][i].tolist() == [discrete.get(id_, -7) for _, id_, _ in group["languages"].features]
        # Dense features.
        tweepcred = continuous.get(ids["user.author_tweepcred"], 0.5)
        assert features["user.author_tweepcred"][i].tolist() == [float(np.float32(tweepcred))]
        card = content.get("strings", {}).get(twml.feature_id("tweet.card_type")[0], "none?")
        assert features["tweet.card_type"][i] == (card.encode() if isinstance(card, str) else card)
        # Labels and weights.
        assert labels[i].tolist() == [1.0 if ids[n] in content.get("binary", []) else 0.0 for n in LABELS]
        assert features["weights"][i].tolist() == [float(np.float32(continuous[ids[WEIGHT]]))]
    assert seen_sparse == len(sparse.values) > 0
    assert features["user.author_tweepcred"].shape == (len(records), 1)
    assert features["tweet.card_type"].shape == (len(records),)
    assert labels.shape == (len(records), 2) and labels.dtype == np.float32


def test_parse_fn_matches_the_core_decoders(dataset):
    config = builder(dataset["spec"]).build()
    assert isinstance(config, FeatureConfig)
    features, labels = run(config, dataset["records"])
    check_parse_output(config, dataset["records"], features, labels)
    # Label and weight features are never extracted.
    names = {entry[0] for entry in config.features}
    assert not names & (set(LABELS) | {WEIGHT})
    sparse_types = {t for _, _, t in config.sparse_extraction_configs[0].features}
    assert sparse_types == {"BINARY", "DISCRETE", "STRING", "SPARSE_BINARY", "SPARSE_CONTINUOUS"}


def test_sparse_type_filter_and_discretize_options(dataset):
    config = (
        FeatureConfigBuilder(dataset["spec"])
        .extract_features_as_hashed_sparse(
            [r".*"], "continuous", 10, 8, 14, "hashing", type_filter=["CONTINUOUS"], allow_empty_calibration=True
        )
        .build()
    )
    sparse = config.sparse_extraction_configs[0]
    assert (sparse.output_name, sparse.hash_space_bits, sparse.discretize_num_bins) == ("continuous", 10, 8)
    assert (sparse.discretize_output_size_bits, sparse.discretize_type, sparse.allow_empty_calibration) == (
        14,
        "hashing",
        True,
    )
    assert {t for _, _, t in sparse.features} == {"CONTINUOUS"}
    spec = config.get_feature_spec()
    assert spec["sparseFeatureGroups"][0]["discretize"] == {
        "numBins": 8,
        "outputSizeBits": 14,
        "type": "hashing",
        "allowEmptyCalibration": True,
    }
    assert spec["discretizeConfig"] == {"continuous": spec["sparseFeatureGroups"][0]["discretize"]}
    assert isinstance(config.discretize_config["continuous"], HashingDiscretizerCalibrator)
    assert callable(config.get_parse_fn())  # the discretizing output parses to the raw sparse tensor


def test_v2_feature_spec_keys(dataset):
    spec = builder(dataset["spec"]).build().get_feature_spec()
    assert spec["class"] == "twml.contrib.FeatureConfig" and spec["format"] == "exported"
    for key in ("features", "labels", "weight", "tensors", "sparseTensors", "discretizeConfig"):
        assert isinstance(spec[key], dict), key
    for key in ("sparseFeatureGroups", "denseFeatureGroups", "denseFeatures", "images", "filters"):
        assert isinstance(spec[key], list), key
    sparse = spec["sparseFeatureGroups"][0]
    assert set(sparse) == {"features", "outputName", "hashSpaceBits", "discretize", "filterType"}
    assert sparse["outputName"] == "sparse" and sparse["hashSpaceBits"] == BITS and sparse["discretize"] is None
    has_link = str(twml.feature_id("ebd.has_link")[0])
    assert sparse["features"][has_link] == {"featureName": "ebd.has_link", "featureType": "BINARY"}
    assert spec["denseFeatureGroups"][0] == {
        "features": spec["denseFeatureGroups"][0]["features"],
        "outputName": "timelines",
        "filterType": "CONTINUOUS",
        "defaultValue": -1.0,
    }
    assert spec["denseFeatures"][0]["expectedShape"] == [1] and spec["denseFeatures"][0]["defaultValue"] == 0.5
    assert [v["featureName"] for v in spec["labels"].values()] == LABELS
    assert spec["weight"] == {"246440449334722850": {"featureName": WEIGHT}}


def test_round_trip_through_feature_spec_yaml(dataset, tmp_path):
    config = builder(dataset["spec"]).build()
    spec = config.get_feature_spec()
    path = export_feature_spec(str(tmp_path / "export"), spec)
    assert path == str(tmp_path / "export" / "feature_spec.yaml")
    assert os.listdir(str(tmp_path / "export")) == ["feature_spec.yaml"]  # no temporary left
    with open(path) as handle:
        assert yaml.safe_load(handle) == spec
    rebuilt = feature_config_parsers.create_feature_config(path, dataset["spec"])
    assert isinstance(rebuilt, FeatureConfig)
    assert rebuilt.get_feature_spec() == spec
    records = dataset["records"]
    features, labels = run(rebuilt, records)
    check_parse_output(rebuilt, records, features, labels)
    original, original_labels = run(config, records)
    np.testing.assert_array_equal(labels, original_labels)
    for key, value in original.items():
        if key == "sparse":
            np.testing.assert_array_equal(features[key].indices, value.indices)
            np.testing.assert_array_equal(features[key].values, value.values)
        else:
            np.testing.assert_array_equal(features[key], value)
    # Discretize options survive the round trip too.
    discretized = (
        FeatureConfigBuilder(dataset["spec"])
        .extract_features_as_hashed_sparse([r"timelines\..*"], "d", 9, 4, 12, "percentile", type_filter="CONTINUOUS")
        .build()
        .get_feature_spec()
    )
    path = export_feature_spec(str(tmp_path / "d"), discretized)
    assert feature_config_parsers.create_feature_config(path, dataset["spec"]).get_feature_spec() == discretized


def test_v1_round_trip(dataset, tmp_path):
    config = (
        twml.FeatureConfigBuilder(dataset["spec"])
        .batch_add_features([(r"ebd\..*", "A"), (r"tweet\..*", "B"), (r"meta\..*", 3)])
        .add_labels(list(reversed(LABELS)))
        .define_weight(WEIGHT)
        .add_filter("ebd.has_link")
        .build()
    )
    spec = config.get_feature_spec()
    path = export_feature_spec(str(tmp_path), spec)
    rebuilt = feature_config_parsers.create_feature_config(path, dataset["spec"])
    assert isinstance(rebuilt, twml.FeatureConfig)
    assert rebuilt.get_feature_spec() == spec
    assert rebuilt.keep_features == config.keep_features and rebuilt.keep_codes == config.keep_codes
    assert rebuilt.labels == list(reversed(LABELS)) and rebuilt.filters == ["ebd.has_link"]
    records = dataset["records"]
    outputs = []
    for cfg in (config, rebuilt):
        with tf.Graph().as_default():
            features, labels = cfg.get_parse_fn()(tf.constant(records))
            with tf.Session() as session:
                outputs.append(session.run((features, labels)))
    for key in outputs[0][0]:
        np.testing.assert_array_equal(outputs[0][0][key], outputs[1][0][key])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
    # A feature name with regex metacharacters is re-escaped: it matches only itself.
    names = {
        e["featureName"]
        for e in feature_config_parsers.create_feature_config_from_dict(
            {"class": "twml.FeatureConfig", "features": {"1": {"featureName": WEIGHT, "featureGroup": "A"}}},
            dataset["spec"],
        )
        .get_feature_spec()["features"]
        .values()
    }
    assert names == {WEIGHT}


def test_errors_name_the_offender_and_the_data_spec(dataset):
    spec = dataset["spec"]
    b = FeatureConfigBuilder(spec)
    no_match = r"feature regex 'nope\\\..\*' matches no feature of the data spec .*data_spec.json"
    with pytest.raises(ValueError, match=no_match):
        b.extract_features_as_hashed_sparse([r"nope\..*"], "s", 10)
    with pytest.raises(ValueError, match=r"type_filter \['FLOAT'\]: expected a non-empty list among BINARY"):
        b.extract_features_as_hashed_sparse([r".*"], "s", 10, type_filter=["FLOAT"])
    with pytest.raises(ValueError, match=r"'ebd\\..\*' matches no feature of type CONTINUOUS in the data spec"):
        b.extract_feature_group([r"ebd\..*"], "g", "CONTINUOUS", 0.0)
    with pytest.raises(ValueError, match=r"type_filter 'SPARSE_BINARY' is not one of BINARY, CONTINUOUS"):
        b.extract_feature_group([r"tweet\..*"], "g", "SPARSE_BINARY", 0.0)
    with pytest.raises(ValueError, match=r"feature 'no.such' is not a feature of the data spec .*data_spec.json"):
        b.extract_feature("no.such", [], 0.0)
    with pytest.raises(ValueError, match=r"'tweet.hashtags' of the data spec .* has type SPARSE_BINARY"):
        b.extract_feature("tweet.hashtags", [], 0.0)
    with pytest.raises(ValueError, match="expected_shape \\[2\\] does not hold one scalar"):
        b.extract_feature("timelines.text_length", [2], 0.0)
    with pytest.raises(ValueError, match="default_value 'x' does not fit a CONTINUOUS feature"):
        b.extract_feature("timelines.text_length", [], "x")
    with pytest.raises(ValueError, match="hash_space_size_bits must be an int in \\[1, 63\\]"):
        b.extract_features_as_hashed_sparse([r".*"], "s", 64)
    with pytest.raises(ValueError, match="discretize_type 'linear' is not one of percentile"):
        b.extract_features_as_hashed_sparse([r".*"], "s", 10, 4, 8, "linear")
    with pytest.raises(ValueError, match="go together"):
        b.extract_features_as_hashed_sparse([r".*"], "s", 10, discretize_num_bins=4)
    with pytest.raises(ValueError, match="label 'missing' is not a feature of the data spec"):
        b.add_labels(["missing"])
    b.extract_feature_group([r"timelines\..*"], "g", "CONTINUOUS", 0.0)
    with pytest.raises(ValueError, match="output name 'g' is used twice"):
        b.extract_features_as_hashed_sparse([r".*"], "g", 10)
    with pytest.raises(ValueError, match="'weights' is reserved"):
        b.extract_features_as_hashed_sparse([r".*"], "weights", 10)
    only_weight = FeatureConfigBuilder(spec).extract_feature_group([r"meta\..*"], "w", "CONTINUOUS", 0.0)
    with pytest.raises(ValueError, match="output 'w' has no feature left once labels and weight are removed"):
        only_weight.define_weight(WEIGHT).build()
    with pytest.raises(ValueError, match="unknown class 'twml.Nope'"):
        feature_config_parsers.create_feature_config_from_dict({"class": "twml.Nope"}, spec)


def test_debug_logs_each_extracted_feature(dataset, caplog):
    with caplog.at_level("INFO", logger="twml"):
        FeatureConfigBuilder(dataset["spec"], debug=True).extract_features_as_hashed_sparse(
            r"ebd\.has_link", "s", 8
        ).build()
    assert "ebd.has_link (BINARY) -> 's'" in caplog.text


TENSOR_SPEC = [
    ("emb.float", "TENSOR"),
    ("emb.int", "TENSOR"),
    ("img.png", "STRING"),
    ("img.tensor", "TENSOR"),
    ("x.cont", "CONTINUOUS"),
    ("y.label", "BINARY"),
]


IDS = ids_of([name for name, _ in TENSOR_SPEC])


def run_session(tensors):
    with tf.Session() as session:
        return session.run(tensors)


def parse(config, records):
    with tf.Graph().as_default():
        return run_session(config.get_parse_fn()(tf.constant(records)))


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
    assert spec["images"] == [
        {"featureName": "img.png", "preprocess": True, "outType": "float32", "channels": 1, "defaultImage": "iVBORw=="}
    ]
    json.dumps(spec)  # stays JSON-serializable
    path = export_feature_spec(str(tmp_path), spec)
    rebuilt = feature_config_parsers.create_feature_config(path, tensor_spec)
    assert rebuilt.get_feature_spec() == spec
    assert rebuilt.image_configs[0].default_image == b"\x89PNG"


# ------------------------------------------------------------------------------------------- images


def encode_png(images):
    with tf.Graph().as_default():
        return run_session([tf.io.encode_png(image) for image in images])


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
        .extract_features_as_hashed_sparse(
            [r"timelines\..*"], "cont_p", 20, 4, 12, "percentile", type_filter=["CONTINUOUS"]
        )
        .extract_features_as_hashed_sparse(
            [r"timelines\..*", r"user\..*"], "cont_h", 16, 3, 10, "hashing", type_filter=["CONTINUOUS"]
        )
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
    hashed = (
        FeatureConfigBuilder(light_ranker["spec"])
        .extract_features_as_hashed_sparse(r"timelines\..*", "d", 8, 5, 9, "hashed_percentile")
        .build()
    )
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

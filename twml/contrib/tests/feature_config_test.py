"""twml.contrib.feature_config (v2), export_feature_spec and feature_config_parsers on the synthetic
light-ranker data, against the reference (§5.1, §12.2) and the core's record decoders."""

import os
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import yaml

import libtwml
import twml
from libtwml import _core
from tools.light_ranker import synthetic_data
from twml.contrib import export_feature_spec, feature_config_parsers
from twml.contrib.feature_config import FeatureConfig, FeatureConfigBuilder

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
        .extract_features_as_hashed_sparse(
            [r"ebd\..*", r"tweet\..*", r"author\..*", r"language\..*"], "sparse", BITS
        )
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
    assert set(features) == {"sparse", "timelines", "ebd_binary", "languages", "user.author_tweepcred",
                             "tweet.card_type", "weights"}
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
        row = sorted(
            (int(c), float(v)) for (r, c), v in zip(sparse.indices.tolist(), sparse.values.tolist()) if r == i
        )
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
        14, "hashing", True)
    assert {t for _, _, t in sparse.features} == {"CONTINUOUS"}
    spec = config.get_feature_spec()
    assert spec["sparseFeatureGroups"][0]["discretize"] == {
        "numBins": 8, "outputSizeBits": 14, "type": "hashing", "allowEmptyCalibration": True}
    assert spec["discretizeConfig"] == {"continuous": spec["sparseFeatureGroups"][0]["discretize"]}
    from twml.contrib.calibrators import HashingDiscretizerCalibrator

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
        "features": spec["denseFeatureGroups"][0]["features"], "outputName": "timelines",
        "filterType": "CONTINUOUS", "defaultValue": -1.0}
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
    names = {e["featureName"] for e in feature_config_parsers.create_feature_config_from_dict(
        {"class": "twml.FeatureConfig", "features": {"1": {"featureName": WEIGHT, "featureGroup": "A"}}},
        dataset["spec"]).get_feature_spec()["features"].values()}
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
            r"ebd\.has_link", "s", 8).build()
    assert "ebd.has_link (BINARY) -> 's'" in caplog.text


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "-q"]))

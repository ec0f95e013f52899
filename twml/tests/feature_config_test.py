"""twml.FeatureConfigBuilder / FeatureConfig, twml.parsers, twml.readers and twml.filters on the
synthetic light-ranker data, against the reference rules (§2.6, §5.2, §12.2)."""

import json
import math
import os
import re

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml
import twml
from libtwml import _core
from tools.light_ranker import synthetic_data
from twml_common import BatchPredictionRequest, DataRecord, data_spec, serialize

LABELS = ["recap.engagement.is_favorited", "recap.engagement.is_replied"]
WEIGHT = "meta.record_weight/type=earlybird"
FIELDS = ("ids", "keys", "values", "batch_size", "total_size", "codes")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("light_ranker"))
    paths = synthetic_data.write_dataset(directory, num_files=1, records_per_file=64)
    return {"spec": os.path.join(directory, "data_spec.json"), "records": _core.read_block_file(paths[0])}


def build(spec, **kwargs):
    return (
        twml.FeatureConfigBuilder(data_spec_path=spec)
        .batch_add_features([(r"ebd\..*", "A"), (r"encoded_tweet_features\..*", "B")])
        .add_labels(LABELS)
        .define_weight(WEIGHT)
        .build()
    )


def ids_of(names):
    return dict(zip(names, libtwml.feature_id(names).tolist()))


def reference_entries(record_bytes, keep):
    """(key, value, code) of a record's kept entries by the §2.6 rules, from the record dict."""
    record = _core.decode_data_record(record_bytes)
    entries = []
    for id_ in record.get("binary", []):
        if id_ in keep:
            entries.append((id_, 1.0, keep[id_]))
    for id_, value in record.get("continuous", {}).items():
        if id_ in keep and not math.isnan(value):
            entries.append((id_, value, keep[id_]))
    for id_, value in record.get("discrete", {}).items():
        if id_ in keep:
            entries.append((libtwml.mix_discrete_id_and_value(id_, value), 1.0, keep[id_]))
    for id_, value in record.get("strings", {}).items():
        if id_ in keep:
            entries.append((libtwml.mix_string_id_and_value(id_, value), 1.0, keep[id_]))
    return entries


def rows(out):
    by_row = {}
    for i, row in enumerate(out["ids"].tolist()):
        by_row.setdefault(row, []).append((int(out["keys"][i]), float(out["values"][i]), int(out["codes"][i])))
    return by_row


def parse(config, records, keep_fields=FIELDS, parse_fn=None):
    with tf.Graph().as_default():
        parse_fn = parse_fn or twml.parsers.get_sparse_parse_fn(config, keep_fields=keep_fields)
        features, labels = parse_fn(tf.constant(records))
        with tf.Session() as session:
            return session.run((features, labels))


def test_acceptance_sparse_parse_fn_follows_the_reference_rules(dataset):
    config = build(dataset["spec"])
    records = dataset["records"][:12]
    features, labels = parse(config, records)
    assert set(features) == set(FIELDS) | {"weights"}
    assert features["batch_size"] == len(records)
    names = [n for n, _ in data_spec.read_feature_list(data_spec.LIGHT_RANKER_FEATURES)]
    ids = ids_of(names)
    keep = {ids[n]: (0 if n.startswith("ebd.") else 1) for n in names if n.startswith(("ebd.", "encoded_tweet_"))}
    assert sorted(config.keep_features) == sorted(keep) and dict(zip(config.keep_features, config.keep_codes)) == keep
    got = rows(features)
    total = 0
    for i, record in enumerate(records):
        # Exact order and values: the core's hashed decode of the same record.
        core = _core.decode_hashed_data_record(
            record, config.keep_features, config.keep_codes, config.label_features, config.weight_features, 0
        )
        expected = [
            (int(k), float(np.float32(v)), int(c)) for k, v, c in zip(core["keys"], core["values"], core["codes"])
        ]
        assert got.get(i, []) == expected
        # Independently, the §2.6 rules from the record's contents (as a multiset).
        reference = [(k, float(np.float32(v)), c) for k, v, c in reference_entries(record, keep)]
        assert sorted(got.get(i, [])) == sorted(reference)
        total += len(expected)
        # Labels: 1.0 when the binary label is present, else 0.0; weight from the continuous feature.
        content = _core.decode_data_record(record)
        assert labels[i].tolist() == [1.0 if ids[n] in content.get("binary", []) else 0.0 for n in LABELS]
        assert features["weights"][i].tolist() == [content["continuous"][ids[WEIGHT]]]
    assert features["total_size"] == total == len(features["ids"])
    assert labels.dtype == np.float32 and labels.shape == (len(records), 2)
    assert features["weights"].shape == (len(records), 1)
    assert set(features["codes"].tolist()) == {0, 1}


def test_config_attributes_and_feature_spec(dataset):
    config = build(dataset["spec"])
    assert isinstance(config, twml.FeatureConfig) and config.decode_mode == 0
    assert config.labels == LABELS and config.weight == WEIGHT and config.filters == []
    assert {info.group for info in config.features} == {"A", "B"}
    assert all(info.name.startswith(("ebd.", "encoded_tweet_features.")) for info in config.features)
    spec = config.get_feature_spec()
    json.dumps(spec)
    assert spec["class"] == "twml.FeatureConfig" and spec["format"] == "exported"
    has_diff_lang = str(twml.feature_id("ebd.has_diff_lang")[0])
    assert spec["features"][has_diff_lang]["featureName"] == "ebd.has_diff_lang"
    assert spec["features"][has_diff_lang]["featureGroup"] == "A"
    assert [v["featureName"] for v in spec["labels"].values()] == LABELS
    assert spec["weight"] == {"246440449334722850": {"featureName": WEIGHT}}
    assert spec["tensors"] == {} and spec["sparse_tensors"] == {} and spec["filters"] == []
    assert callable(config.get_parse_fn()) and callable(config.get_serving_input_receiver_fn())


def test_debug_logs_each_matched_feature(dataset, caplog):
    with caplog.at_level("INFO", logger="twml"):
        twml.FeatureConfigBuilder(dataset["spec"], debug=True).add_feature(r"ebd\.has_link", "B").build()
    assert "ebd.has_link (BINARY) -> group 'B'" in caplog.text


def test_group_codes():
    assert [twml.feature_config.group_code(g) for g in ("A", "B", "Z", "a", "z", 7)] == [0, 1, 25, 26, 51, 7]
    for bad in ("AB", "", "1", -1, 1.5, None):
        with pytest.raises(ValueError, match="feature group"):
            twml.feature_config.group_code(bad)


def test_first_regex_wins_and_labels_are_never_kept(dataset):
    config = (
        twml.FeatureConfigBuilder(dataset["spec"])
        .add_feature(r"ebd\.has_.*", "C")
        .add_feature(r".*", 3)
        .add_labels(["recap.engagement.is_clicked"])
        .build()
    )
    groups = {info.name: info.group for info in config.features}
    assert groups["ebd.has_link"] == "C" and groups["ebd.is_reply"] == 3
    assert "recap.engagement.is_clicked" not in groups
    assert config.weight_features == []
    features, labels = parse(config, dataset["records"][:4])
    assert features["weights"].tolist() == [[1.0]] * 4  # no weight defined: ones
    assert labels.shape == (4, 1)


def test_unknown_names_are_clear_errors(dataset):
    spec = dataset["spec"]
    builder = twml.FeatureConfigBuilder(spec)
    message = "feature regex 'nope\\..*' matches no feature of the data spec " + spec
    with pytest.raises(ValueError, match=re.escape(message)):
        builder.add_feature(r"nope\..*", "A")
    with pytest.raises(ValueError, match="label 'recap.engagement.nope' is not a feature of the data spec .*json"):
        builder.add_labels(["recap.engagement.nope"])
    with pytest.raises(ValueError, match="weight 'nope' is not a feature of the data spec"):
        builder.define_weight("nope")
    with pytest.raises(ValueError, match="filter 'nope' is not a feature"):
        builder.add_filter("nope")
    with pytest.raises(ValueError, match="invalid feature regex '\\('"):
        builder.add_feature("(", "A")
    with pytest.raises(ValueError, match="unknown keep_fields 'idz'"):
        twml.parsers.get_sparse_parse_fn(build(spec), keep_fields=("idz",))


def test_malformed_data_specs_are_clear_errors(tmp_path):
    cases = {
        "broken.json": b'{"contents": [',
        "shape.json": b'{"features": []}',
        "entry.json": b'{"contents": [{"featureId": 1, "fullFeatureName": "a"}]}',
        "binary.bin": b"\x0f\x00\x01\x0c\x7f\x00\x00\x00",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValueError, match="malformed data spec: .*%s" % name):
            twml.FeatureConfigBuilder(str(path))
    with pytest.raises(OSError):
        twml.FeatureConfigBuilder(str(tmp_path / "missing.json"))


def test_thrift_data_spec_is_accepted(dataset, tmp_path):
    path = str(tmp_path / "spec.thrift")
    data_spec.write_data_spec(data_spec.read_data_spec(dataset["spec"]), path, binary=True)
    assert build(path).keep_features == build(dataset["spec"]).keep_features


def test_serving_input_receiver_decodes_a_batch_prediction_request(dataset):
    config = build(dataset["spec"])
    ids = ids_of(["ebd.has_link", "ebd.is_reply", "encoded_tweet_features.favorite_count", "ebd.tweet_language"])
    common = DataRecord(binaryFeatures=[ids["ebd.has_link"]], continuousFeatures={12345: 2.0})
    records = [
        DataRecord(continuousFeatures={ids["encoded_tweet_features.favorite_count"]: 3.5}),
        DataRecord(binaryFeatures=[ids["ebd.is_reply"]], discreteFeatures={ids["ebd.tweet_language"]: 4}),
    ]
    request = serialize(BatchPredictionRequest(individualFeaturesList=records, commonFeatures=common))
    with tf.Graph().as_default():
        receiver = twml.parsers.get_sparse_serving_input_receiver_fn(config, FIELDS)()
        assert isinstance(receiver, tf.estimator.export.ServingInputReceiver)
        placeholder = receiver.receiver_tensors["request"]
        assert placeholder.dtype == tf.uint8
        with tf.Session() as session:
            out = session.run(receiver.features, {placeholder: np.frombuffer(request, dtype=np.uint8)})
    assert set(out) == set(FIELDS)
    mixed = libtwml.mix_discrete_id_and_value(ids["ebd.tweet_language"], 4)
    common_entries = [(ids["ebd.has_link"], 1.0, 0)]
    assert rows(out) == {
        0: common_entries + [(ids["encoded_tweet_features.favorite_count"], 3.5, 1)],
        1: common_entries + [(ids["ebd.is_reply"], 1.0, 0), (mixed, 1.0, 0)],
    }
    assert out["batch_size"] == 2 and out["total_size"] == 5


def test_filters_drop_records_without_the_filter_feature(dataset):
    clicked = "recap.engagement.is_clicked"
    config = (
        twml.FeatureConfigBuilder(dataset["spec"])
        .batch_add_features([(r"ebd\..*", "A"), (r"encoded_tweet_features\..*", "B")])
        .add_labels(LABELS)
        .define_weight(WEIGHT)
        .add_filter(clicked)
        .build()
    )
    assert config.get_feature_spec()["filters"] == [clicked]
    records = dataset["records"][:32]
    clicked_id = twml.feature_id(clicked)[0]
    kept = [r for r in records if clicked_id in _core.decode_data_record(r).get("binary", [])]
    assert 0 < len(kept) < len(records)
    filtered, filtered_labels = parse(config, records)
    unfiltered, unfiltered_labels = parse(build(dataset["spec"]), kept)
    assert filtered["batch_size"] == len(kept) and filtered["total_size"] == unfiltered["total_size"]
    for field in ("ids", "keys", "values", "codes", "weights"):
        np.testing.assert_array_equal(filtered[field], unfiltered[field])
    np.testing.assert_array_equal(filtered_labels, unfiltered_labels)


def test_sparse_keep_feature_if_and_keep_sample_if(dataset):
    config = build(dataset["spec"])
    records = dataset["records"][:6]
    with tf.Graph().as_default():
        features, labels = twml.parsers.get_sparse_parse_fn(config, FIELDS + ("types",))(tf.constant(records))
        only_b = twml.filters.sparse_keep_feature_if(features, lambda f: tf.equal(f["codes"], 1))
        odd, odd_labels = twml.filters.sparse_keep_sample_if(
            features, labels, tf.constant([False, True, False, True, False, True])
        )
        with tf.Session() as session:
            full, full_labels, b, o, o_labels = session.run((features, labels, only_b, odd, odd_labels))
    mask = full["codes"] == 1
    for field in ("ids", "keys", "values", "codes", "types"):
        np.testing.assert_array_equal(b[field], full[field][mask])
    assert b["total_size"] == mask.sum() and b["batch_size"] == 6
    np.testing.assert_array_equal(b["weights"], full["weights"])
    full_rows, odd_rows = rows(full), rows(o)
    assert odd_rows == {0: full_rows.get(1, []), 1: full_rows.get(3, []), 2: full_rows.get(5, [])}
    assert o["batch_size"] == 3 and o["total_size"] == len(o["ids"])
    np.testing.assert_array_equal(o["weights"], full["weights"][[1, 3, 5]])
    np.testing.assert_array_equal(o_labels, full_labels[[1, 3, 5]])


def test_balance_binary_class_samples(dataset):
    config = build(dataset["spec"])
    records = dataset["records"]
    with tf.Graph().as_default():
        features, labels = twml.parsers.get_sparse_parse_fn(config, FIELDS)(tf.constant(records))
        balanced, balanced_labels = twml.filters.balance_binary_class_samples(features, labels, label_column=0)
        with tf.Session() as session:
            full_labels = session.run(labels)
            counts = []
            for _ in range(40):
                out, out_labels = session.run((balanced, balanced_labels))
                assert out["batch_size"] == len(out_labels) and out["total_size"] == len(out["ids"])
                assert set(out["ids"].tolist()) <= set(range(len(out_labels)))
                counts.append(((out_labels[:, 0] > 0.5).sum(), (out_labels[:, 0] <= 0.5).sum()))
    positives = (full_labels[:, 0] > 0.5).sum()
    negatives = len(full_labels) - positives
    minority = min(positives, negatives)
    assert 0 < minority < len(full_labels) / 2
    counts = np.array(counts)
    minority_column = 0 if positives < negatives else 1
    assert (counts[:, minority_column] == minority).all()  # the minority class is always kept
    assert abs(counts[:, 1 - minority_column].mean() - minority) < 0.25 * minority + 1


def test_continuous_parse_fn_and_tensor_dict(dataset):
    config = build(dataset["spec"])
    records = dataset["records"][:5]
    favorite = "encoded_tweet_features.favorite_count"
    favorite_id = twml.feature_id(favorite)[0]
    with tf.Graph().as_default():
        features, labels = twml.parsers.get_continuous_parse_fn(config)(tf.constant(records))
        dense = twml.parsers.get_features_as_tensor_dict(tf.constant(records), config)
        with tf.Session() as session:
            features, labels, dense = session.run((features, labels, dense))
    contents = [_core.decode_data_record(r) for r in records]
    expected = [c.get("continuous", {}).get(favorite_id, 0.0) for c in contents]
    np.testing.assert_allclose(dense[favorite], expected, rtol=1e-6)
    assert dense["ebd.has_link"].tolist() == [
        1.0 if twml.feature_id("ebd.has_link")[0] in c.get("binary", []) else 0.0 for c in contents
    ]
    assert dense["ebd.tweet_language"].dtype == np.int64
    assert set(features["keys"].tolist()) <= set(config.keep_features)
    assert labels.shape == (5, 2) and features["batch_size"] == 5
    for row, key, value in zip(features["ids"], features["keys"], features["values"]):
        assert value == pytest.approx(contents[row]["continuous"][key], rel=1e-6)


def test_readers_and_supervised_receiver(dataset):
    config = build(dataset["spec"])
    records = dataset["records"][:3]
    assert "ids" in twml.readers.SPARSE_DATA_RECORD_FEATURE_FIELDS
    with tf.Graph().as_default():
        hashed = twml.readers.HashedDataRecord(tf.constant(records), config)
        sparse = hashed.get_sparse_features()
        plain = twml.readers.DataRecord(tf.constant(records), config).get_sparse_features()
        receiver = twml.parsers.convert_to_supervised_input_receiver_fn(twml.parsers.get_default_parse_fn(config))()
        with tf.Session() as session:
            sparse, plain, via_receiver = session.run(
                (sparse, plain, receiver.features), {receiver.receiver_tensors["serialized"]: records}
            )
    assert set(sparse) == {"ids", "keys", "values"}
    assert sorted(zip(sparse["ids"].tolist(), sparse["keys"].tolist())) == sorted(
        zip(plain["ids"].tolist(), plain["keys"].tolist())
    )
    np.testing.assert_array_equal(via_receiver["keys"], sparse["keys"])


def test_labels_in_features_and_feature_dict_receiver(dataset):
    config = build(dataset["spec"])
    records = dataset["records"][:4]
    with tf.Graph().as_default():
        features = twml.parsers.get_labels_in_features_parse_fn(config)(tf.constant(records))
        receiver = twml.parsers.get_serving_input_receiver_fn_feature_dict(config, ("ids", "keys", "batch_size"))()
        with tf.Session() as session:
            features = session.run(features)
    assert set(features) == set(twml.parsers.DEFAULT_KEEP_FIELDS) | {"weights", "labels"}
    assert features["labels"].shape == (4, 2)
    assert set(receiver.features) == {"ids", "keys", "batch_size"}
    assert receiver.features["ids"].dtype == tf.int64 and receiver.features["batch_size"].shape.ndims == 0


def test_tensor_parse_fn(dataset):
    config = build(dataset["spec"])
    embedding = twml.feature_id("user.embedding")[0]
    weight = twml.feature_id(WEIGHT)[0]
    first = np.arange(3, dtype=np.float32)
    records = [
        _core.encode_data_record({"tensors": {embedding: first}, "continuous": {weight: 2.0}}),
        _core.encode_data_record({"binary": [twml.feature_id(LABELS[1])[0]]}),
    ]
    with tf.Graph().as_default():
        features, labels = twml.parsers.get_tensor_parse_fn(config, {"user.embedding": (tf.float32, [3])})(
            tf.constant(records)
        )
        with tf.Session() as session:
            features, labels = session.run((features, labels))
    np.testing.assert_array_equal(features["user.embedding"], [first, [0.0, 0.0, 0.0]])
    assert features["weights"].tolist() == [[2.0], [0.0]]
    assert labels.tolist() == [[0.0, 0.0], [0.0, 1.0]]


def test_batch_prediction_request_readers(dataset):
    config = build(dataset["spec"])
    link, reply = twml.feature_id("ebd.has_link")[0], twml.feature_id("ebd.is_reply")[0]
    request = serialize(
        BatchPredictionRequest(
            individualFeaturesList=[DataRecord(binaryFeatures=[reply]), DataRecord()],
            commonFeatures=DataRecord(binaryFeatures=[link]),
        )
    )
    data = np.frombuffer(request, dtype=np.uint8)
    with tf.Graph().as_default():
        plain = twml.readers.BatchPredictionRequest(tf.constant(data), config)
        hashed = twml.readers.HashedBatchPredictionRequest(tf.constant(data), config)
        assert plain.labels is None and hashed.labels is None
        features = hashed.get_features(["ids", "ukeys"])
        kept, kept_labels = hashed.apply_filter(features, None)
        with tf.Session() as session:
            binary, weights, out, kept = session.run(
                (plain.get_features(["binary"])["binary"], plain.weights, features, kept)
            )
    ids, keys, values = binary
    assert list(zip(ids.tolist(), keys.tolist())) == [(0, link), (0, reply), (1, link)]
    assert weights.tolist() == [[1.0], [1.0]] and out["weights"].tolist() == [[1.0], [1.0]]
    assert out["ukeys"].tolist() == [link, reply, link] and kept_labels is None
    np.testing.assert_array_equal(kept["ids"], out["ids"])

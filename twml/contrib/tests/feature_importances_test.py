"""twml.contrib.feature_importances: the helpers by hand, and permutation importances (serial and tree
algorithms) of a tiny DataRecordTrainer that only uses one feature, computed through the trainer's
``--feature_importance.*`` flags (DataRecordTrainer.contrib_run_feature_importances)."""

import json
import os

import pytest
import tensorflow.compat.v1 as tf

import twml
from tools.light_ranker import synthetic_data
from twml.contrib.feature_importances import feature_importances as fi
from twml.contrib.feature_importances.helpers import (
    decode_str_or_unicode,
    longest_common_prefix,
    write_list_to_hdfs_gfile,
)
from twml.trainers import DataRecordTrainer

USED = "timelines.earlybird_score"  # the only feature the model sees (a strong one of the generator)
IGNORED = ["timelines.text_length", "user.author_tweepcred"]


def test_longest_common_prefix_by_hand():
    names = ["a.b.c", "a.b.d", "a.bx"]
    assert longest_common_prefix(names, ".") == "a."  # common run "a.b", cut after its last period
    assert longest_common_prefix(names, None) == "a.b"
    assert longest_common_prefix(["x.y", "x.y"], ".") == "x.y"
    assert longest_common_prefix(["abc", "xyz"], None) == ""
    with pytest.raises(ValueError):
        longest_common_prefix([], ".")
    assert decode_str_or_unicode(b"n\xc3\xa9") == "né" and decode_str_or_unicode("s") == "s"


def test_write_list_writes_whole_lines_and_refuses_to_overwrite(tmp_path):
    path = str(tmp_path / "out.tsv")
    write_list_to_hdfs_gfile(["a\t1", 2.5], path)
    assert open(path).read() == "a\t1\n2.5\n"
    assert os.listdir(str(tmp_path)) == ["out.tsv"]  # no temporary left behind
    with pytest.raises(FileExistsError):
        write_list_to_hdfs_gfile(["b"], path)


def test_write_feature_importances_to_hdfs_by_hand(tmp_path):
    trainer = type("Trainer", (), {"save_dir": str(tmp_path) + "/"})()
    importances = {
        fi.INDIVIDUAL: {"None": {"roc_auc": 0.8}, "f.a": {"roc_auc": 0.6}, "f.b": {"roc_auc": 0.8}},
        fi.GROUP: {"f.": {"roc_auc": 0.55}},
    }
    path = fi.write_feature_importances_to_hdfs(trainer, importances, output_path="run")
    assert path == str(tmp_path) + "/feature_importances-run"
    lines = open(path).read().splitlines()
    assert lines[0] == "Name\tPerformance Drop\tPercent Performance Drop\tPerformance"
    rows = [line.split("\t") for line in lines[1:]]
    assert [row[0] for row in rows] == ["None", "f.b (Individual)", "f.a (Individual)", "f. (Group)"]
    assert float(rows[2][1]) == pytest.approx(0.2) and rows[2][2].endswith("%")
    assert float(rows[2][2][:-1]) == pytest.approx(100 * 0.2 / (0.8 + 1e-8))
    assert float(rows[3][3]) == 0.55


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("fi")
    os.environ["TWML_EXPERIMENT_DB"] = str(root / "experiments.sqlite")
    paths = synthetic_data.write_dataset(str(root / "data"), num_files=2, records_per_file=2000, seed=5)
    twml.util.write_file(str(root / "train.json"), {"files": paths[:1]}, encode="json")
    twml.util.write_file(str(root / "eval.json"), {"files": paths[1:]}, encode="json")
    return root


def train(root, name, flags):
    spec = str(root / "data" / "data_spec.json")
    config = (
        twml.FeatureConfigBuilder(data_spec_path=spec)
        .batch_add_features([(USED, "A")] + [(feature, "A") for feature in IGNORED])
        .add_labels([synthetic_data.MAIN_LABEL])
        .define_weight(synthetic_data.WEIGHT)
        .build()
    )
    params = DataRecordTrainer.add_parser_arguments().parse_args(
        [
            "--save_dir",
            str(root / name),
            "--data_spec",
            spec,
            "--train.batch_size",
            "60",
            "--eval.batch_size",
            "100",
            "--learning_rate",
            "0.3",
            "--optimizer",
            "Adagrad",
            "--train.files_list",
            str(root / "train.json"),
            "--eval.files_list",
            str(root / "eval.json"),
        ]
        + flags
    )
    used_id = twml.feature_id(USED)[0]

    def build_graph(features, label, mode, params, config=None):
        # Only USED reaches the model: the other features' values are zeroed.
        only_used = dict(features)
        only_used["values"] = features["values"] * tf.cast(tf.equal(features["keys"], used_id), tf.float32)
        logits = twml.layers.full_sparse(twml.util.convert_to_sparse(only_used, 20), output_size=1, name="linear")
        output = tf.sigmoid(logits)
        if mode == tf.estimator.ModeKeys.PREDICT:
            return {"output": output}
        return {"output": output, "loss": tf.losses.sigmoid_cross_entropy(label, logits)}

    trainer = DataRecordTrainer(
        name, params, build_graph, feature_config=config, metric_fn=twml.metrics.get_binary_class_metric_fn(["roc_auc"])
    )
    trainer.train(steps=60)
    return trainer


def test_serial_importances_through_the_trainer_flags(data):
    trainer = train(
        data, "serial", ["--feature_importance.algorithm", "serial", "--feature_importance.example_count", "1500"]
    )
    result = trainer.contrib_run_feature_importances(datarecord_filter_run_name="serial_run")
    individual = result[fi.INDIVIDUAL]
    assert sorted(individual) == sorted(["None", USED] + IGNORED) and result[fi.GROUP] == {}
    baseline = individual["None"]["roc_auc"]
    assert baseline > 0.56  # the model learnt USED's signal (about 0.6 is the best one feature allows)
    assert baseline - individual[USED]["roc_auc"] > 0.04  # permuting it destroys the ranking
    for feature in IGNORED:  # the model never sees them: the same predictions, the same AUC
        assert individual[feature]["roc_auc"] == pytest.approx(baseline, abs=1e-9)
    lines = open(os.path.join(str(data / "serial"), "feature_importances-serial_run")).read().splitlines()
    assert lines[-1].startswith(USED + " (Individual)\t")  # the largest drop sorts last
    written = json.load(open(os.path.join(str(data / "serial"), "feature_importances.json")))
    assert written["importances"][fi.INDIVIDUAL][USED]["roc_auc"] == pytest.approx(individual[USED]["roc_auc"])


def test_tree_importances_split_only_the_group_that_matters(data):
    trainer = train(
        data,
        "tree",
        [
            "--feature_importance.algorithm",
            "tree",
            "--feature_importance.split_feature_group_on_period",
            "--feature_importance.sensitivity",
            "0.02",
            "--feature_importance.example_count",
            "1500",
        ],
    )
    result = trainer.contrib_run_feature_importances(
        write_to_hdfs=False, extra_groups={"ignored": [r"timelines\.text", r"user\."]}
    )
    baseline = result[fi.INDIVIDUAL]["None"]["roc_auc"]
    # "timelines." holds USED: its drop exceeds the sensitivity, so it is split into its two features;
    # "user." is a single feature, evaluated on its own.
    assert sorted(result[fi.GROUP]) == ["ignored", "timelines."]
    assert sorted(result[fi.INDIVIDUAL]) == sorted(["None", USED] + IGNORED)
    assert baseline - result[fi.GROUP]["timelines."]["roc_auc"] > 0.04
    assert baseline - result[fi.INDIVIDUAL][USED]["roc_auc"] > 0.04
    for feature in IGNORED:
        assert result[fi.INDIVIDUAL][feature]["roc_auc"] == pytest.approx(baseline, abs=1e-9)
    assert result[fi.GROUP]["ignored"]["roc_auc"] == pytest.approx(baseline, abs=1e-9)
    assert not [f for f in os.listdir(str(data / "tree")) if f.startswith("feature_importances-")]
    # a stopping metric the evaluation does not compute is refused
    trainer.params.feature_importance_metric = "pr_auc"
    with pytest.raises(ValueError, match="stopping_metric"):
        trainer.contrib_run_feature_importances()

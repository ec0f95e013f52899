"""twml.contrib.trainers: BatchPredictionRequestTrainer, PruningDataRecordTrainer, build_keras_trainer."""

import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml
from libtwml import _core
from tools.light_ranker import synthetic_data
from twml.batch_prediction import encode_batch_prediction_request
from twml.contrib.layers import MaskLayer
from twml.contrib.trainers import (
    BatchPredictionRequestTrainer,
    PruningDataRecordTrainer,
    build_keras_trainer,
    get_batch_prediction_request_parse_fn,
)
from twml.trainers import Trainer
from twml_common import block_files, data_spec

GROUPS = [
    (r"ebd\..*|encoded_tweet_features\..*|extended_encoded_tweet_features\..*", "A"),
    (r"timelines\..*|user\..*", "B"),
    (r"language\..*|author\..*|tweet\..*|viewer\..*", "C"),
]
ROWS_PER_REQUEST = 5
BITS = 10


@pytest.fixture(autouse=True)
def _no_tracking(tmp_path, monkeypatch):
    monkeypatch.setenv("TWML_EXPERIMENT_DB", str(tmp_path / "experiments.db"))


def _write_spec(directory, data):
    path = os.path.join(directory, "data_spec.json")
    with open(path, "w") as handle:
        handle.write(data_spec.to_json(data.spec))
    return path


def _feature_config(spec_path):
    builder = twml.FeatureConfigBuilder(data_spec_path=spec_path)
    return (
        builder.batch_add_features(GROUPS)
        .add_labels([synthetic_data.MAIN_LABEL])
        .define_weight(synthetic_data.WEIGHT)
        .build()
    )


def _linear_graph(features, label, mode, params, config=None):
    sparse = twml.util.convert_to_sparse(features, BITS)
    weights = tf.get_variable("w", [2**BITS, 1], initializer=tf.zeros_initializer())
    logits = tf.sparse.sparse_dense_matmul(sparse, weights)
    output = {"output": tf.sigmoid(logits)}
    if "label" in features:  # predict-mode echo of what the parse function read
        output.update(label=features["label"], weights=features["weights"])
    if mode != tf.estimator.ModeKeys.PREDICT:
        output["loss"] = tf.losses.sigmoid_cross_entropy(label, logits, weights=features["weights"])
    return output


def _params(parser, *args):
    return parser.parse_args(["--disable_experiment_tracking", *args])


def test_batch_prediction_request_trainer(tmp_path):
    data = synthetic_data.LightRankerData(seed=3)
    records = list(data.records(40))
    requests = [
        encode_batch_prediction_request([_core.encode_data_record(r) for r in records[i : i + ROWS_PER_REQUEST]])
        for i in range(0, len(records), ROWS_PER_REQUEST)
    ]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    block_files.write_block_file(str(data_dir / "part-00000.lzo"), requests, records_per_block=3, compression="lzo")
    spec = _write_spec(str(tmp_path), data)
    params = _params(
        BatchPredictionRequestTrainer.add_parser_arguments(),
        "--data_spec",
        spec,
        "--train.data_dir",
        str(data_dir),
        "--save_dir",
        str(tmp_path / "model"),
        "--train.batch_size",
        "32",
        "--learning_rate",
        "0.1",
        "--input_size_bits",
        str(BITS),
    )
    assert params.loss_function == "ranknet" and params.input_size_bits == BITS  # the BPR flags are there
    config = _feature_config(spec)
    trainer = BatchPredictionRequestTrainer("bpr", params, _linear_graph, feature_config=config)
    assert trainer.params.train_batch_size == 1 and trainer.params.eval_batch_size == 1
    trainer.train(steps=4)
    assert trainer._global_step() == 4
    weights = tf.train.load_variable(trainer.latest_checkpoint, "bpr/model/w")
    assert np.count_nonzero(weights) > 0

    # Each batch is one whole request: its rows, labels and weights are those of its records.
    base = get_batch_prediction_request_parse_fn(config)

    def echo_parse(serialized):
        features, labels = base(serialized)
        return dict(features, label=labels), labels

    input_fn = trainer.get_train_input_fn(parse_fn=echo_parse, repeat=False, shuffle=False)
    batches = list(trainer.predict(input_fn=input_fn, yield_single_examples=False))
    assert len(batches) == len(requests)
    label_id = data.ids[synthetic_data.MAIN_LABEL]
    weight_id = data.ids[synthetic_data.WEIGHT]
    for index, batch in enumerate(batches):
        rows = records[index * ROWS_PER_REQUEST : (index + 1) * ROWS_PER_REQUEST]
        assert batch["output"].shape == (ROWS_PER_REQUEST, 1)
        np.testing.assert_array_equal(batch["label"][:, 0], [float(label_id in r["binary"]) for r in rows])
        np.testing.assert_array_equal(batch["weights"][:, 0], [r["continuous"][weight_id] for r in rows])


def _pruned_graph(features, label, mode, params, config=None):
    sparse = twml.util.convert_to_sparse(features, BITS)
    w1 = tf.get_variable("w1", [2**BITS, 8], initializer=tf.glorot_uniform_initializer(seed=1))
    hidden = tf.nn.relu(tf.sparse.sparse_dense_matmul(sparse, w1))
    masked = MaskLayer(name="mask")(hidden)
    w2 = tf.get_variable("w2", [8, 1], initializer=tf.constant_initializer(0.5))
    logits = tf.matmul(masked, w2)
    output = {"output": tf.sigmoid(logits)}
    if mode != tf.estimator.ModeKeys.PREDICT:
        output["loss"] = tf.losses.sigmoid_cross_entropy(label, logits)
    return output


def test_pruning_data_record_trainer(tmp_path):
    paths = synthetic_data.write_dataset(
        str(tmp_path / "data"), num_files=1, records_per_file=400, seed=5, compression="lzo"
    )
    spec = os.path.join(os.path.dirname(paths[0]), "data_spec.json")
    # The model's FLOPs are those of the 8x1 MatMul after the mask: 16 * active fraction. Pruning
    # runs at counts 2, 4, 6 (burn-in 1, every 2) while FLOPs > 11: 16 -> 14 -> 12 -> 10, then stops.
    params = _params(
        PruningDataRecordTrainer.add_parser_arguments(),
        "--data_spec",
        spec,
        "--train.data_dir",
        os.path.dirname(paths[0]),
        "--save_dir",
        str(tmp_path / "model"),
        "--train.batch_size",
        "16",
        "--learning_rate",
        "0.1",
        "--pruning.iter",
        "2",
        "--pruning.burn_in",
        "1",
        "--pruning.flops_target",
        "11",
        "--pruning.decay",
        "0.5",
    )
    assert (params.pruning_iter, params.pruning_burn_in, params.pruning_flops_target) == (2, 1, 11)
    trainer = PruningDataRecordTrainer("pruned", params, _pruned_graph, feature_config=_feature_config(spec))
    trainer.train(steps=10)
    checkpoint = trainer.latest_checkpoint
    names = [name for name, _ in tf.train.list_variables(checkpoint)]
    mask_name = next(n for n in names if n.startswith("pruned/model/") and n.endswith("mask"))
    mask = tf.train.load_variable(checkpoint, mask_name)
    assert sorted(mask.tolist()).count(0.0) == 3 and mask.sum() == 5
    counter = next(n for n in names if n.endswith("pruning_counter"))
    assert tf.train.load_variable(checkpoint, counter) == 10
    assert tf.train.load_variable(checkpoint, "global_step") == 10
    # update_params (the Trainer's SGD) still trained the parameters; pruned units get no gradient.
    w2 = tf.train.load_variable(checkpoint, "pruned/model/w2")[:, 0]
    assert np.all(w2[mask > 0] != 0.5)


def test_build_keras_trainer_one_sgd_step(tmp_path):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = (rng.random((8, 1)) < 0.5).astype(np.float32)
    w = rng.choice([1.0, 2.0], size=(8, 1)).astype(np.float32)
    lr = 0.5

    def input_fn():
        dataset = tf.data.Dataset.from_tensors(({"x": x, "weights": w}, y)).repeat()
        return tf.data.make_one_shot_iterator(dataset).get_next()

    def model_factory():
        return tf.keras.Sequential(
            [tf.keras.layers.Dense(1, activation="sigmoid", kernel_initializer="zeros", input_shape=(3,))]
        )

    params = _params(Trainer.add_parser_arguments(), "--learning_rate", str(lr), "--train.batch_size", "8")
    trainer = build_keras_trainer("keras", model_factory, str(tmp_path / "keras"), params=params)
    assert isinstance(trainer, Trainer) and trainer.save_dir == str(tmp_path / "keras")
    trainer.train(input_fn=input_fn, steps=1)
    checkpoint = trainer.latest_checkpoint
    names = [name for name, _ in tf.train.list_variables(checkpoint)]
    kernel = tf.train.load_variable(checkpoint, next(n for n in names if n.endswith("kernel")))
    bias = tf.train.load_variable(checkpoint, next(n for n in names if n.endswith("bias")))
    # Weighted binary cross-entropy (sum of w * loss / batch) at p = 0.5: d/dz = w (p - y) / N.
    dz = w * (0.5 - y) / len(x)
    np.testing.assert_allclose(kernel, -lr * x.T @ dz, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bias, -lr * dz.sum(axis=0), rtol=1e-4, atol=1e-6)
    metrics = trainer.evaluate(input_fn=input_fn, steps=1)
    p = 1 / (1 + np.exp(-(x @ kernel + bias)))
    expected = np.sum(w * -(y * np.log(p) + (1 - y) * np.log(1 - p))) / len(x)
    assert metrics["loss"] == pytest.approx(expected, rel=1e-4)

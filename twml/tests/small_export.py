"""A small trained twml export over synthetic light-ranker records, made in seconds: the model
the batch-prediction tests and benchmark score (a ``full_sparse`` logistic regression trained a
few dozen steps by ``DataRecordTrainer`` and exported with the default serving contract)."""

import os
from typing import Any, Dict, List, Optional

import numpy as np
import tensorflow.compat.v1 as tf

import twml
from tools.light_ranker import synthetic_data
from twml.trainers import DataRecordTrainer

FEATURES = r"ebd\..*|timelines\..*|tweet\..*|author\..*"


def write_data(
    data_dir: str, num_files: int, records_per_file: int, compression: str = "lzo", seed: int = 5
) -> List[str]:
    """Synthetic light-ranker block files (and data_spec.json) in ``data_dir``."""
    return synthetic_data.write_dataset(
        data_dir, num_files=num_files, records_per_file=records_per_file, seed=seed, compression=compression
    )


def train_small_export(
    root: str, train_files: List[str], steps: int = 40, save_dir: Optional[str] = None
) -> Dict[str, Any]:
    """Trains the model on ``train_files`` (their directory holds data_spec.json) and exports it.

    Returns:
      ``{"trainer", "config", "export", "export_root"}`` (``export_root`` holds the timestamped
      export).
    """
    os.makedirs(root, exist_ok=True)
    os.environ.setdefault("TWML_EXPERIMENT_DB", os.path.join(root, "experiments.sqlite"))
    spec = os.path.join(os.path.dirname(train_files[0]), "data_spec.json")
    config = (
        twml.FeatureConfigBuilder(data_spec_path=spec)
        .batch_add_features([(FEATURES, "A")])
        .add_labels([synthetic_data.MAIN_LABEL])
        .define_weight(synthetic_data.WEIGHT)
        .build()
    )
    save_dir = save_dir or os.path.join(root, "model")
    files_list = os.path.join(root, "files.json")
    twml.util.write_file(files_list, {"files": list(train_files)}, encode="json")
    params = DataRecordTrainer.add_parser_arguments().parse_args(
        [
            "--save_dir",
            save_dir,
            "--data_spec",
            spec,
            "--train.batch_size",
            "50",
            "--learning_rate",
            "0.2",
            "--optimizer",
            "Adagrad",
            "--train.files_list",
            files_list,
        ]
    )

    def build_graph(features: Dict[str, Any], label: Any, mode: str, params: Any, config: Any = None) -> Dict[str, Any]:
        logits = twml.layers.full_sparse(twml.util.convert_to_sparse(features, 20), output_size=1, name="linear")
        output = tf.sigmoid(logits)
        if mode == tf.estimator.ModeKeys.PREDICT:
            return {"output": output}
        return {"output": output, "loss": tf.losses.sigmoid_cross_entropy(label, logits)}

    trainer = DataRecordTrainer("lr", params, build_graph, feature_config=config)
    trainer.train(steps=steps)
    export = trainer.export_model()
    return {"trainer": trainer, "config": config, "export": export, "export_root": os.path.dirname(export)}


def in_graph_predictions(trainer: Any, records: List[bytes], batch_size: int = 512) -> Any:
    """The estimator's own predictions (float32 ``[n]``) for serialized DataRecords, in order,
    ``batch_size`` records per batch (as the batch-prediction job batches them: a float32 result
    may differ in the last bit between batch shapes)."""

    def input_fn() -> Any:
        dataset = tf.data.Dataset.from_tensor_slices(tf.constant(records)).batch(batch_size)
        return dataset.map(trainer.feature_config.get_parse_fn())

    batches = trainer.predict(input_fn=input_fn, yield_single_examples=False)
    return np.concatenate([batch["output"].reshape(-1) for batch in batches])

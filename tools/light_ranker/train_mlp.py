"""Light ranker MLP: full_sparse → full_dense layers, with isotonic calibration as the last phase.

    tools/bazel run //tools/light_ranker:train_mlp
    tools/bazel run //tools/light_ranker:train_mlp -- --data_spec spec.json \\
        --train.data_dir /data/train --eval.data_dir /data/eval --save_dir /models/mlp

Phases: (1) HashingDiscretizer calibration, exported as a TF-Hub module; (2) the MLP, trained
with ``train_and_evaluate`` and early stopping; (3) an IsotonicCalibrator fitted to the MLP's
predictions on the training data (``calibrate_calibrator_and_export``), giving the exported model
``clip(isotonic(mlp(x)), 0, 1)``; then batch prediction with that export on the held-out files,
with the metrics printed and ROC / PR / reliability PNGs beside the export.
"""

# TensorFlow's log level is set before TensorFlow loads.
from tools.light_ranker import quiet_start  # noqa: F401  # isort: skip

import sys
from typing import Any, Dict, List, Optional

import tensorflow.compat.v1 as tf

import twml
from tools.light_ranker import common, report
from twml.contrib.calibrators import IsotonicCalibrator
from twml.contrib.calibrators.common_calibrators import (
    add_isotonic_calibrator_arguments,
    calibrate_calibrator_and_export,
)
from twml.trainers import DataRecordTrainer

NAME = "light_ranker_mlp"


def build_graph(
    features: Dict[str, tf.Tensor], label: tf.Tensor, mode: str, params: Any, config: Any = None
) -> Dict[str, tf.Tensor]:
    """``sigmoid(dense(relu(dense(relu(full_sparse(discretized input))))))``.

    Returns:
      ``output`` float32 ``[batch, 1]`` and, unless predicting, ``loss`` (weighted log loss).
    """
    inputs = common.discretized_input(features, params)
    hidden = twml.layers.full_sparse(
        inputs, output_size=params.hidden_units, activation=tf.nn.relu, use_binary_values=False, name="sparse_hidden"
    )
    hidden = twml.layers.full_dense(
        hidden, output_size=params.hidden_units // 2, activation=tf.nn.relu, name="dense_hidden"
    )
    logits = twml.layers.full_dense(hidden, output_size=1, name="logits")
    output = tf.sigmoid(logits)
    if mode == tf.estimator.ModeKeys.PREDICT:
        return {"output": output}
    return {"output": output, "loss": common.weighted_log_loss(logits, label, features)}


def main(argv: Optional[List[str]] = None) -> int:
    common.log_to_stdout(argv)
    parser = common.get_parser(__doc__.split("\n")[0], NAME)
    add_isotonic_calibrator_arguments(parser)
    parser.add_argument("--hidden_units", type=int, default=32, help="units of the first hidden layer")
    # A 2**18-column input keeps the first layer small (2**18 x hidden_units weights); the MLP
    # trails the logistic regression on this data (its bar is 0.02 of the optimum, not 0.01).
    parser.set_defaults(
        learning_rate=0.05,
        discretizer_output_size_bits=18,
        calibrator_num_bins=200,
        calibrator_parts_downsampling_rate=0.25,
        calibrator_batch_size=1024,
        auc_tolerance=0.02,
    )
    params = common.parse_args(parser, argv)
    data_info, feature_config = common.prepare(params)

    common.calibrate_discretizer(params, feature_config)
    trainer = DataRecordTrainer(
        name=NAME,
        params=params,
        build_graph_fn=build_graph,
        feature_config=feature_config,
        metric_fn=common.metric_fn(),
    )
    trainer.train_and_evaluate(
        train_input_fn=trainer.get_train_input_fn(repeat=True),
        early_stop_metric="roc_auc_" + common.SHORT_LABEL,
        early_stop_patience=params.early_stop_patience,
        early_stop_minimize=False,
    )

    calibrator = IsotonicCalibrator(params.calibrator_num_bins)
    export_path = calibrate_calibrator_and_export(
        NAME, calibrator, build_graph, params, feature_config, metric_fn=common.metric_fn()
    )
    label_id = feature_config.label_features[0]
    result = report.report(
        export_path, trainer.eval_files, label_id, params.predict_batch_size, title="light ranker (MLP + isotonic)"
    )
    status = common.check_auc(result, data_info, params.auc_tolerance)
    common.print_outputs(params.save_dir, [("export", export_path)])
    return status


if __name__ == "__main__":
    sys.exit(common.guarded_main(main))

"""Light ranker: logistic regression on discretized features — README's main job.

    tools/bazel run //tools/light_ranker:train                       # generated data
    tools/bazel run //tools/light_ranker:train -- --data_spec spec.json \\
        --train.data_dir /data/train --eval.data_dir /data/eval --save_dir /models/lr

The twml multi-phase flow:

1. calibrate a HashingDiscretizerCalibrator on a sample of the training files and export it as
   a TF-Hub module (``--discretizer.save_dir``, default ``<save_dir>/discretizer``);
2. the model graph loads it with ``hub.Module`` and applies its ``hashing_discretizer_calibrator``
   signature to the sparse input, then ``full_sparse`` gives the logit;
3. ``train_and_evaluate`` with early stopping on the eval ROC-AUC;
4. export a SavedModel (BatchPredictionRequest in, BatchPredictionResponse out; and with
   ``export_all_models`` one with the train and eval graphs too) and run batch prediction with
   it on the held-out files: metrics printed, ROC / PR / reliability PNGs written beside the
   export.

With no data flags it generates its data once (cached) and checks that the held-out ROC-AUC is
within ``--auc_tolerance`` of the best any model can reach on it (the generator knows the true
probabilities).
"""

# TensorFlow's log level is set before TensorFlow loads.
from tools.light_ranker import quiet_start  # noqa: F401  # isort: skip

import os
import sys
from typing import Any, Dict, List, Optional

import tensorflow.compat.v1 as tf

import twml
from tools.light_ranker import common, report
from twml.contrib.export import export_all_models
from twml.trainers import DataRecordTrainer

NAME = "light_ranker"


def build_graph(
    features: Dict[str, tf.Tensor], label: tf.Tensor, mode: str, params: Any, config: Any = None
) -> Dict[str, tf.Tensor]:
    """Logistic regression: ``sigmoid(full_sparse(discretized input))``.

    Returns:
      ``output`` float32 ``[batch, 1]`` (probability of the label) and, unless predicting,
      ``loss``: the weighted log loss plus ``--l2_regularization`` times the squared weights of
      the features present in the batch (a lazy L2 penalty: it keeps the updates sparse).
    """
    inputs = common.discretized_input(features, params)
    layer = twml.layers.FullSparse(output_size=1, use_binary_values=False, name="logistic_regression")
    logits = layer(inputs)
    output = tf.sigmoid(logits)
    if mode == tf.estimator.ModeKeys.PREDICT:
        return {"output": output}
    loss = common.weighted_log_loss(logits, label, features)
    if params.l2_regularization > 0:
        present = tf.unique(inputs.indices[:, 1]).y
        loss += params.l2_regularization * tf.reduce_sum(tf.square(tf.gather(layer.weight, present)))
    return {"output": output, "loss": loss}


def main(argv: Optional[List[str]] = None) -> int:
    common.log_to_stdout(argv)
    parser = common.get_parser(__doc__.split("\n")[0], NAME)
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
        early_stop_tolerance=params.early_stop_tolerance,
    )
    if not trainer.is_chief():
        return 0  # in a cluster the chief evaluates, exports and reports
    metrics = trainer.evaluate(name="final")
    print("evaluation of %s:" % trainer.best_or_latest_checkpoint)
    for key in sorted(metrics):
        print("  %-28s %s" % (key, metrics[key]))

    export_path = trainer.export_model()
    # All modes too (train/eval graphs fed serialized DataRecords, the serving graph), as
    # production light rankers export them.
    all_modes = export_all_models(
        trainer,
        os.path.join(params.save_dir, "all_modes"),
        feature_config.get_parse_fn(),
        feature_config.get_serving_input_receiver_fn(),
        export_output_fn=twml.export_output_fns.batch_prediction_continuous_output_fn,
        feature_spec=feature_config.get_feature_spec(),
    )
    label_id = feature_config.label_features[0]
    result = report.report(
        export_path, trainer.eval_files, label_id, params.predict_batch_size, title="light ranker (logistic regression)"
    )
    trainer.experiment_tracker.log_metrics(
        {"batch_prediction_" + k: v for k, v in result.items()}, None, eval_name="batch_prediction"
    )
    status = common.check_auc(result, data_info, params.auc_tolerance)
    common.print_outputs(params.save_dir, [("export", export_path), ("all modes", all_modes)])
    return status


if __name__ == "__main__":
    sys.exit(common.guarded_main(main))

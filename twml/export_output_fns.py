"""twml.export_output_fns: what an exported SavedModel returns (reference §8.1, §8.4).

Each function maps a model's ``graph_output`` dict (``output`` = the predictions, float
``[batch, n]``) to the ``export_outputs`` of the PREDICT EstimatorSpec: a dict of signature name
→ ``tf.estimator.export.PredictOutput``. The serving contract of a DataRecordTrainer export is
:func:`batch_prediction_continuous_output_fn`: the ``serving_default`` signature returns, under
the key ``prediction``, one serialized BatchPredictionResponse (uint8 ``[1, nbytes]``) whose
row ``i`` is a DataRecord mapping each output column's key to ``output[i, column]`` as a
continuous feature.

Column keys: ``graph_output['keys']`` (int64 ``[n]``) when present — DataRecordTrainer supplies
the feature ids of its labels when the output has one column per label — else ``0 .. n-1``.
"""

from typing import Any, Dict

import tensorflow.compat.v1 as tf

import libtwml
from twml.layers import BatchPredictionTensorWriter, BatchPredictionWriter

SERVING_KEY = tf.saved_model.signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY
PredictOutput = tf.estimator.export.PredictOutput


def _output_2d(graph_output: Dict[str, Any]) -> tf.Tensor:
    output = tf.convert_to_tensor(graph_output["output"])
    if output.shape.ndims == 1:
        output = tf.expand_dims(output, 1)
    if output.shape.ndims != 2:
        raise ValueError("graph_output['output'] must be [batch] or [batch, n], got shape %s" % output.shape)
    return output


def _static_keys(graph_output: Dict[str, Any], width: int) -> Any:
    keys = graph_output.get("keys")
    if keys is None:
        return list(range(width))
    return keys


def default_output_fn(graph_output: Dict[str, Any]) -> Dict[str, PredictOutput]:
    """``serving_default`` → ``{'output': graph_output['output']}`` (the raw predictions)."""
    return {SERVING_KEY: PredictOutput({"output": graph_output["output"]})}


def batch_prediction_continuous_output_fn(graph_output: Dict[str, Any]) -> Dict[str, PredictOutput]:
    """``serving_default`` → ``{'prediction': uint8 [1, nbytes]}``, a BatchPredictionResponse with
    one continuous feature per output column (float32 ``[batch, n]``, static ``n``); also a
    ``raw_output`` signature → ``{'output': the float predictions}``.

    Raises:
      ValueError: ``n`` is not static, or the number of keys differs from it.
    """
    output = _output_2d(graph_output)
    width = output.shape[1]
    if width is None:
        raise ValueError(
            "batch_prediction_continuous_output_fn needs a static output width; "
            "use variable_length_continuous_output_fn"
        )
    keys = _static_keys(graph_output, int(width))
    if not isinstance(keys, tf.Tensor) and len(keys) != int(width):
        raise ValueError("%d keys for an output of width %d" % (len(keys), int(width)))
    response = BatchPredictionWriter(keys)(output)
    return {
        SERVING_KEY: PredictOutput({"prediction": response}),
        "raw_output": PredictOutput({"output": output}),
    }


def variable_length_continuous_output_fn(graph_output: Dict[str, Any]) -> Dict[str, PredictOutput]:
    """As :func:`batch_prediction_continuous_output_fn` for an output whose width is known only
    at run time; the keys are ``graph_output['keys']`` or ``0 .. n-1`` computed in the graph."""
    output = _output_2d(graph_output)
    keys = graph_output.get("keys")
    if keys is None:
        keys = tf.range(tf.shape(output, out_type=tf.int64)[1], dtype=tf.int64)
    response = libtwml.ops.batch_prediction_response_writer(tf.cast(keys, tf.int64), output)
    return {
        SERVING_KEY: PredictOutput({"prediction": response}),
        "raw_output": PredictOutput({"output": output}),
    }


def batch_prediction_tensor_output_fn(graph_output: Dict[str, Any]) -> Dict[str, PredictOutput]:
    """``serving_default`` → ``{'prediction': uint8 [1, nbytes]}``, a BatchPredictionResponse whose
    rows carry the outputs as tensors (``tensors`` map): ``graph_output['output']`` is one tensor
    or a list of tensors, each with the batch on dimension 0; keys are ``graph_output['keys']``
    or ``0 .. len(outputs)-1``."""
    outputs = graph_output["output"]
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    keys = _static_keys(graph_output, len(outputs))
    response = BatchPredictionTensorWriter(keys)(outputs)
    return {SERVING_KEY: PredictOutput({"prediction": response})}

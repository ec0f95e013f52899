"""twml.layers.batch_prediction_tensor_writer: the original's module path of
:class:`twml.layers.batch_prediction_tensor.BatchPredictionTensorWriter` (defined there)."""

from twml.layers.batch_prediction_tensor import BatchPredictionTensorWriter

__all__ = ["BatchPredictionTensorWriter"]

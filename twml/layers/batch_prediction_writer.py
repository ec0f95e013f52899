"""twml.layers.batch_prediction_writer: the original's module path of
:class:`twml.layers.batch_prediction.BatchPredictionWriter` (defined there)."""

from twml.layers.batch_prediction import BatchPredictionWriter

__all__ = ["BatchPredictionWriter"]

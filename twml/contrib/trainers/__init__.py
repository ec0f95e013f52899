"""twml.contrib.trainers: BatchPredictionRequestTrainer, PruningDataRecordTrainer and Keras helpers
(reference §8.3)."""

from twml.contrib.trainers.batch_prediction_request_trainer import (
    BatchPredictionRequestTrainer,
    get_batch_prediction_request_parse_fn,
)
from twml.contrib.trainers.pruning_data_record_trainer import PruningDataRecordTrainer
from twml.contrib.trainers.trainer_utils import build_keras_trainer, create_build_graph_fn

__all__ = [
    "BatchPredictionRequestTrainer",
    "PruningDataRecordTrainer",
    "build_keras_trainer",
    "create_build_graph_fn",
    "get_batch_prediction_request_parse_fn",
]

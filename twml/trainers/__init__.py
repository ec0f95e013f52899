"""twml.trainers: Trainer (any input) and DataRecordTrainer (DataRecord block files) on
tf.estimator (reference §8)."""

from twml.trainers.data_record_trainer import DataRecordTrainer, build_files_list
from twml.trainers.trainer import Trainer

__all__ = ["DataRecordTrainer", "Trainer", "build_files_list"]

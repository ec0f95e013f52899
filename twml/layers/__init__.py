"""twml.layers: twml's graph-mode layers (reference §6)."""

from twml.layers import batch_prediction_tensor_writer, batch_prediction_writer  # noqa: F401
from twml.layers.batch_prediction import BatchPredictionWriter
from twml.layers.batch_prediction_tensor import BatchPredictionTensorWriter
from twml.layers.data_record_tensor_writer import DataRecordTensorWriter
from twml.layers.full_dense import FullDense, full_dense
from twml.layers.full_sparse import FullSparse, full_sparse
from twml.layers.isotonic import Isotonic
from twml.layers.layer import Layer
from twml.layers.mdl import MDL
from twml.layers.partition import Partition
from twml.layers.percentile_discretizer import PercentileDiscretizer
from twml.layers.sequential import Sequential
from twml.layers.sparse_max_norm import MaxNorm, SparseMaxNorm, sparse_max_norm
from twml.layers.stitch import Stitch

__all__ = [
    "Layer",
    "FullDense",
    "full_dense",
    "FullSparse",
    "full_sparse",
    "SparseMaxNorm",
    "MaxNorm",
    "sparse_max_norm",
    "Sequential",
    "Partition",
    "Stitch",
    "BatchPredictionWriter",
    "BatchPredictionTensorWriter",
    "DataRecordTensorWriter",
    "Isotonic",
    "MDL",
    "PercentileDiscretizer",
]

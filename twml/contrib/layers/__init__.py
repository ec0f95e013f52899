"""twml.contrib.layers: contrib layers over twml's ops (reference §6, contrib layers)."""

from twml.contrib.layers.embedding_lookup import EmbeddingLookup
from twml.contrib.layers.factorization_machine import FactorizationMachine
from twml.contrib.layers.full_dense import FullDense, full_dense
from twml.contrib.layers.hashed_percentile_discretizer import HashedPercentileDiscretizer
from twml.contrib.layers.hashing_discretizer import HashingDiscretizer
from twml.contrib.layers.mask_layer import MaskLayer
from twml.contrib.layers.stacked_rnn import StackedRNN, stacked_rnn
from twml.contrib.layers.zscore_normalization import ZscoreNormalization, zscore_normalization

__all__ = [
    "EmbeddingLookup",
    "FactorizationMachine",
    "FullDense",
    "full_dense",
    "HashedPercentileDiscretizer",
    "HashingDiscretizer",
    "MaskLayer",
    "StackedRNN",
    "stacked_rnn",
    "ZscoreNormalization",
    "zscore_normalization",
]

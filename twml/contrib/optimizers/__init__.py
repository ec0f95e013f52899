"""twml.contrib.optimizers: the original's module paths of the DGC and pruning optimizers (defined in
:mod:`twml.optimizers`)."""

from twml.contrib.optimizers import deep_gradient_compression_optimizer, pruning_optimizer
from twml.contrib.optimizers.deep_gradient_compression_optimizer import DeepGradientCompressionOptimizer
from twml.contrib.optimizers.pruning_optimizer import PruningOptimizer

__all__ = [
    "DeepGradientCompressionOptimizer",
    "PruningOptimizer",
    "deep_gradient_compression_optimizer",
    "pruning_optimizer",
]

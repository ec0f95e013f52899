"""twml.optimizers: LazyAdamOptimizer, optimize_loss, OPTIMIZER_SUMMARIES, DeepGradientCompressionOptimizer
and PruningOptimizer (reference §11)."""

from twml.optimizers.deep_gradient_compression import DeepGradientCompressionOptimizer
from twml.optimizers.lazy_adam import LazyAdamOptimizer
from twml.optimizers.optimization import OPTIMIZER_CLS_NAMES, OPTIMIZER_SUMMARIES, optimize_loss
from twml.optimizers.pruning import PruningOptimizer

__all__ = [
    "DeepGradientCompressionOptimizer",
    "LazyAdamOptimizer",
    "OPTIMIZER_CLS_NAMES",
    "OPTIMIZER_SUMMARIES",
    "PruningOptimizer",
    "optimize_loss",
]

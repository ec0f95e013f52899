"""twml.optimizers: LazyAdamOptimizer, optimize_loss and OPTIMIZER_SUMMARIES (reference §11)."""

from twml.optimizers.lazy_adam import LazyAdamOptimizer
from twml.optimizers.optimization import OPTIMIZER_CLS_NAMES, OPTIMIZER_SUMMARIES, optimize_loss

__all__ = ["LazyAdamOptimizer", "OPTIMIZER_CLS_NAMES", "OPTIMIZER_SUMMARIES", "optimize_loss"]

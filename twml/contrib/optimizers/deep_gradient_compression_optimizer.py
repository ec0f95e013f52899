"""twml.contrib.optimizers.deep_gradient_compression_optimizer: re-exports of
:mod:`twml.optimizers.deep_gradient_compression` (where they are defined)."""

from twml.optimizers.deep_gradient_compression import (
    DeepGradientCompressionOptimizer,
    compute_threshold,
    get_top_row_indices,
)

__all__ = ["DeepGradientCompressionOptimizer", "compute_threshold", "get_top_row_indices"]

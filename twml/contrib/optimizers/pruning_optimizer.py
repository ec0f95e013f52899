"""twml.contrib.optimizers.pruning_optimizer: re-export of :class:`twml.optimizers.pruning.PruningOptimizer`
(where it is defined). It prunes the masks of ``twml.contrib.pruning.apply_mask`` /
``twml.contrib.layers.MaskLayer``."""

from twml.optimizers.pruning import PruningOptimizer

__all__ = ["PruningOptimizer"]

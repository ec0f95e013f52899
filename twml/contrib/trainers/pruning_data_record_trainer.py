"""PruningDataRecordTrainer: a DataRecordTrainer that Fisher-prunes its MaskLayer units while training."""

from typing import Any, Callable, Optional

import tensorflow.compat.v1 as tf

from twml.argument_parser import add_pruning_arguments
from twml.optimizers.pruning import PruningOptimizer
from twml.params import get_param
from twml.trainers.data_record_trainer import DataRecordTrainer
from twml.trainers.trainer import Trainer

__all__ = ["PruningDataRecordTrainer"]


class PruningDataRecordTrainer(DataRecordTrainer):
    """A :class:`twml.trainers.DataRecordTrainer` whose train op also prunes the model's MaskLayer units.

    The train op of ``optimize_loss_fn`` (default :meth:`Trainer.get_train_op`) is wrapped with
    ``PruningOptimizer(learning_rate).minimize(loss, prune_every=params.pruning_iter,
    burn_in=params.pruning_burn_in, decay=params.pruning_decay,
    flops_target=params.pruning_flops_target, update_params=train_op)``: the parameters are trained
    by the Trainer's optimizer while the masks are pruned one unit at a time (see
    :class:`twml.optimizers.PruningOptimizer`). Add masks to the model with
    :class:`twml.contrib.layers.MaskLayer`.

    Args:
      name, params, build_graph_fn, feature_config, **kwargs: as DataRecordTrainer; params usually
        come from :meth:`add_parser_arguments` (``--pruning.iter``, ``--pruning.burn_in``,
        ``--pruning.flops_target``, ``--pruning.decay``).
    """

    def __init__(
        self,
        name: str,
        params: Any,
        build_graph_fn: Callable,
        feature_config: Any = None,
        optimize_loss_fn: Optional[Callable[[Any, tf.Tensor], Any]] = None,
        **kwargs: Any,
    ) -> None:
        self._base_optimize_loss_fn = optimize_loss_fn or Trainer.get_train_op
        super().__init__(
            name=name,
            params=params,
            build_graph_fn=build_graph_fn,
            feature_config=feature_config,
            optimize_loss_fn=self._pruning_train_op,
            **kwargs,
        )

    def _pruning_train_op(self, params: Any, loss: tf.Tensor) -> tf.Operation:
        train_op = self._base_optimize_loss_fn(params, loss)
        optimizer = PruningOptimizer(learning_rate=float(get_param(params, "learning_rate", 0.002)))
        return optimizer.minimize(
            loss=loss,
            prune_every=int(get_param(params, "pruning_iter", 5000)),
            burn_in=int(get_param(params, "pruning_burn_in", 100000)),
            decay=float(get_param(params, "pruning_decay", 0.9999)),
            flops_target=float(get_param(params, "pruning_flops_target", 250000)),
            update_params=train_op,
        )

    @staticmethod
    def add_parser_arguments() -> Any:
        """DataRecordTrainer's parser plus the pruning flags of reference §9."""
        parser = DataRecordTrainer.add_parser_arguments()
        add_pruning_arguments(parser)
        return parser

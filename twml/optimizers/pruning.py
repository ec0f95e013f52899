"""PruningOptimizer: Fisher pruning of the units masked by ``twml.contrib.layers.MaskLayer`` (reference §11).

Fisher pruning (Theis et al., 2018, "Faster gaze prediction with dense networks and Fisher
pruning") removes, every so often, the unit whose removal increases the loss the least per FLOP
saved. For a mask unit ``j`` the Fisher signal is ``0.5 * mean_n (sum_s dL_n / dm_{n,s,j})^2``:
the squared per-example gradient of the loss with respect to the mask, summed over any positions
``s`` between the batch and the unit axes, averaged over the batch. MaskLayer multiplies its
inputs by a per-example copy of the mask (``mask_extended``), so these gradients are read from
the graph with one ``tf.gradients`` call.

Cost model (this rebuild's choice; the original's is private). The model's FLOPs per example are
estimated as ``sum over forward MatMul ops of 2 * in * out``, where ``in`` (``out``) is the
kernel's input (output) dimension times the fraction of units still active in the mask applied
to the MatMul's input (to its output). A mask is linked to a MatMul by walking back from the
MatMul's input, or from the mask's input, through element-wise ops (activations, BiasAdd,
Identity, Cast, Reshape). The cost of one unit of a mask is the FLOPs its removal saves: for the
MatMul that produces it (its "own" layer) ``2 * in``, and for each MatMul that consumes it (the
"next" layer) ``2 * out``. A mask linked to no MatMul has cost 0 and, with ``flops_weight='AUTO'``,
is pruned last.
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple

import tensorflow.compat.v1 as tf

from twml.constants import MASK_COLLECTION, MASK_EXTENDED_COLLECTION

__all__ = ["PruningOptimizer"]

#: Ops through which a masked tensor still has one value per unit of the mask.
_ELEMENTWISE = frozenset(
    [
        "Identity",
        "Relu",
        "Relu6",
        "Elu",
        "Selu",
        "Sigmoid",
        "Tanh",
        "LeakyRelu",
        "Softplus",
        "Softsign",
        "BiasAdd",
        "Cast",
        "Reshape",
        "Gelu",
    ]
)
_EPSILON = 1e-6


def _trace_back(tensor: tf.Tensor) -> tf.Operation:
    """The first op at or above ``tensor`` that is not element-wise (see ``_ELEMENTWISE``); a
    bias addition ``x + b`` (b of rank 1) counts as element-wise."""
    op = tensor.op
    while True:
        if op.type in _ELEMENTWISE and op.inputs:
            op = op.inputs[0].op
        elif op.type in ("Add", "AddV2") and len(op.inputs) == 2 and op.inputs[1].shape.ndims == 1:
            op = op.inputs[0].op
        else:
            return op


def _forward_ops(loss: tf.Tensor) -> Dict[str, tf.Operation]:
    """The ops the loss depends on (its ancestors: the forward pass only, no gradient op), by name."""
    found: Dict[str, tf.Operation] = {}
    stack = [loss.op]
    while stack:
        op = stack.pop()
        if op.name in found:
            continue
        found[op.name] = op
        stack.extend(t.op for t in op.inputs)
    return found


def _kernel_dims(matmul: tf.Operation) -> Optional[Tuple[int, int]]:
    shape = matmul.inputs[1].shape
    if shape.ndims != 2 or not shape.is_fully_defined():
        return None
    rows, cols = int(shape[0]), int(shape[1])
    return (cols, rows) if matmul.get_attr("transpose_b") else (rows, cols)


class PruningOptimizer(tf.train.MomentumOptimizer):
    """Momentum SGD that also prunes (zeroes) the units of the MaskLayer masks by their Fisher signal.

    Args:
      learning_rate: float or scalar tensor (used when ``minimize`` builds the parameter update).
      momentum: the momentum.
      use_locking: use locks for the updates.
      name: the optimizer's name.
      use_nesterov: Nesterov momentum.

    After :meth:`minimize`, these attributes describe the pruning graph (for logging and tests):
    ``pruning_signals`` (one float variable ``[units]`` per mask: the running Fisher signal),
    ``pruning_counter`` (int64 variable: minimize's train op runs so far), ``unit_costs`` (one
    float32 tensor ``[]`` per mask: FLOPs per example saved by pruning one of its units) and
    ``estimated_flops`` (float32 ``[]``: the model's FLOPs per example, before this step's pruning).
    """

    def __init__(
        self,
        learning_rate: Any,
        momentum: float = 0.9,
        use_locking: bool = False,
        name: str = "Pruning",
        use_nesterov: bool = False,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate,
            momentum=momentum,
            use_locking=use_locking,
            name=name,
            use_nesterov=use_nesterov,
        )
        self.pruning_signals: List[Any] = []
        self.pruning_counter: Any = None
        self.unit_costs: List[tf.Tensor] = []
        self.estimated_flops: Optional[tf.Tensor] = None

    def minimize(  # type: ignore[override]
        self,
        loss: tf.Tensor,
        prune_every: int = 100,
        burn_in: int = 0,
        decay: float = 0.96,
        flops_weight: Any = "AUTO",
        flops_target: float = 0,
        update_params: Any = None,
        method: str = "Fisher",
        *args: Any,
        **kwargs: Any,
    ) -> tf.Operation:
        """The train op: update the parameters, the Fisher signals and, when due, prune one unit.

        Each run increments the pruning counter ``c`` (1 on the first run) and updates each mask's
        signal ``s = decay * s + (1 - decay) * fisher`` (fisher: see the module docstring; the
        loss is taken to be a mean over the batch, so gradients are scaled by the batch size to
        give per-example gradients). When ``c > burn_in``, ``c % prune_every == 0`` and (if
        ``flops_target > 0``) the estimated FLOPs exceed ``flops_target``, the active unit with the
        smallest score over all masks is set to 0 in its mask, where score = ``s / (cost + 1e-6)``
        with ``flops_weight='AUTO'``, else ``s - flops_weight * cost``. The last active unit of a
        mask is never pruned.

        Args:
          loss: float scalar tensor, the mean loss of the batch.
          prune_every: run pruning every this many steps.
          burn_in: no pruning during the first ``burn_in`` steps.
          decay: decay of the running average of the Fisher signal.
          flops_weight: 'AUTO' or a float (see above).
          flops_target: stop pruning once the estimated FLOPs per example are at or below it
            (0: no target).
          update_params: an existing train op (e.g. a Trainer's optimizer) to run instead of this
            optimizer's own ``Momentum.minimize(loss, *args, **kwargs)``.
          method: only 'Fisher'.

        Returns:
          an op grouping the parameter update and the pruning step (just the parameter update
          when the graph has no MaskLayer).

        Raises:
          ValueError: another method, a non-positive prune_every, or an unknown flops_weight.
        """
        if method != "Fisher":
            raise ValueError("PruningOptimizer supports method='Fisher' only, got %r" % (method,))
        if int(prune_every) <= 0:
            raise ValueError("prune_every must be positive, got %r" % (prune_every,))
        auto = isinstance(flops_weight, str)
        if auto and flops_weight.upper() != "AUTO":
            raise ValueError("flops_weight must be 'AUTO' or a number, got %r" % (flops_weight,))
        if update_params is None:
            update_params = super().minimize(loss, *args, **kwargs)

        masks = tf.get_collection(MASK_COLLECTION)
        extended = tf.get_collection(MASK_EXTENDED_COLLECTION)
        if not masks:
            return update_params
        if len(masks) != len(extended):
            raise ValueError("%d masks but %d extended masks: build each MaskLayer once" % (len(masks), len(extended)))

        with tf.name_scope(self.get_name() + "_pruning"):
            signal_updates = self._update_signals(loss, masks, extended, float(decay))
            with tf.control_dependencies(signal_updates):
                mask_values = [tf.identity(m.read_value() if hasattr(m, "read_value") else m) for m in masks]
                self.pruning_counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="pruning_counter")
                count = self.pruning_counter.assign_add(1)
            fractions = [tf.reduce_mean(tf.cast(v, tf.float32)) for v in mask_values]
            self.unit_costs, self.estimated_flops = self._costs(loss, extended, fractions)
            due = tf.logical_and(count > int(burn_in), tf.equal(count % int(prune_every), 0))
            if flops_target and flops_target > 0:
                due = tf.logical_and(due, self.estimated_flops > float(flops_target))
            scores = []
            for signal, cost, value in zip(signal_updates, self.unit_costs, mask_values):
                signal = tf.cast(signal, tf.float32)
                score = signal / (cost + _EPSILON) if auto else signal - float(flops_weight) * cost
                active = tf.cast(value, tf.float32) > 0
                prunable = tf.logical_and(active, tf.reduce_sum(tf.cast(active, tf.int32)) > 1)
                scores.append(tf.where(prunable, score, tf.fill(tf.shape(score), float("inf"))))
            all_scores = tf.concat(scores, axis=0)
            target = tf.argmin(all_scores, output_type=tf.int32)
            due = tf.logical_and(due, tf.is_finite(tf.reduce_min(all_scores)))
            assigns = []
            offset = 0
            for mask, value in zip(masks, mask_values):
                units = int(mask.shape[0])
                # one_hot of an index outside [0, units) is all zeros: masks not hit are unchanged.
                hit = tf.one_hot(target - offset, units, dtype=value.dtype)
                assigns.append(mask.assign(tf.where(due, value * (1 - hit), value)))
                offset += units
        return tf.group(update_params, *assigns)

    def _update_signals(
        self, loss: tf.Tensor, masks: Sequence[Any], extended: Sequence[tf.Tensor], decay: float
    ) -> List[tf.Tensor]:
        """Creates the signal variables and returns their updated values (float ``[units]`` each)."""
        grads = tf.gradients(loss, list(extended))
        self.pruning_signals = []
        updates = []
        for index, (mask, ext, grad) in enumerate(zip(masks, extended, grads)):
            units = int(mask.shape[0])
            dtype = mask.dtype.base_dtype
            signal = tf.Variable(tf.zeros([units], dtype=dtype), trainable=False, name="pruning_signal_%d" % index)
            self.pruning_signals.append(signal)
            if grad is None:  # the mask does not reach the loss: no information
                fisher = tf.zeros([units], dtype=dtype)
            else:
                batch = tf.shape(ext)[0]
                per_example = tf.reshape(grad, tf.stack([batch, -1, units])) * tf.cast(batch, dtype)
                fisher = 0.5 * tf.reduce_mean(tf.square(tf.reduce_sum(per_example, axis=1)), axis=0)
            updates.append(signal.assign(decay * signal + (1.0 - decay) * fisher))
        return updates

    @staticmethod
    def _costs(
        loss: tf.Tensor, extended: Sequence[tf.Tensor], fractions: Sequence[tf.Tensor]
    ) -> Tuple[List[tf.Tensor], tf.Tensor]:
        """Per-mask unit costs and the model's estimated FLOPs per example (see the module docstring)."""
        forward = _forward_ops(loss)
        # The op multiplying a MaskLayer's inputs by its extended mask, and those inputs (gradient
        # ops also consume the extended mask: keep the forward one).
        mask_of_mul: Dict[str, int] = {}
        mask_inputs: List[Optional[tf.Tensor]] = []
        for index, ext in enumerate(extended):
            mul = next((op for op in ext.consumers() if op.type == "Mul" and op.name in forward), None)
            if mul is None:
                mask_inputs.append(None)
                continue
            mask_of_mul[mul.name] = index
            mask_inputs.append(mul.inputs[0] if mul.inputs[1] is ext else mul.inputs[1])
        producer_of_mask = {index: _trace_back(x).name for index, x in enumerate(mask_inputs) if x is not None}

        one = tf.constant(1.0)
        costs: List[Any] = [tf.constant(0.0) for _ in extended]
        flops: Any = tf.constant(0.0)
        matmuls = [op for op in forward.values() if op.type == "MatMul"]
        for matmul in sorted(matmuls, key=lambda op: op.name):
            dims = _kernel_dims(matmul)
            if dims is None or matmul.get_attr("transpose_a"):
                continue
            fan_in, fan_out = dims
            in_mask = mask_of_mul.get(_trace_back(matmul.inputs[0]).name)
            out_masks = [i for i, name in producer_of_mask.items() if name == matmul.name]
            in_fraction = fractions[in_mask] if in_mask is not None else one
            out_fraction = one
            for i in out_masks:
                out_fraction = out_fraction * fractions[i]
            flops = flops + 2.0 * fan_in * fan_out * in_fraction * out_fraction
            if in_mask is not None:
                costs[in_mask] = costs[in_mask] + 2.0 * fan_out * out_fraction
            for i in out_masks:
                costs[i] = costs[i] + 2.0 * fan_in * in_fraction
        return costs, flops

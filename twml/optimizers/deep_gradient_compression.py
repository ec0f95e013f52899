"""DeepGradientCompressionOptimizer: SGD that applies only the top rows of each gradient (reference §11).

Deep Gradient Compression (Lin et al., 2018) sends only a fraction ``density`` of each gradient;
this single-process version keeps, per variable and per step, the ``k = max(1, floor(density *
rows))`` rows with the largest **signed** row sum and applies them as a sparse SGD update. The
ranking by signed sum (not by magnitude) is a quirk of the original that this rebuild keeps: rows
whose gradient is large and negative are never selected first.
"""

from typing import Any, Optional

import tensorflow.compat.v1 as tf

__all__ = ["DeepGradientCompressionOptimizer", "compute_threshold", "get_top_row_indices"]


def get_top_row_indices(values: Any, density: Any) -> Optional[tf.Tensor]:
    """Positions of the ``k = max(1, floor(density * rows))`` rows of ``values`` with the largest
    **signed** sum of entries (unsorted, ``tf.nn.top_k``).

    Args:
      values: a tensor ``[rows, ...]`` of rank >= 2.
      density: float (Python or scalar tensor) in (0, 1].

    Returns:
      int32 ``[k]``, or None when ``values`` has rank < 2.
    """
    values = tf.convert_to_tensor(values)
    if values.shape.ndims is not None and values.shape.ndims < 2:
        return None
    rows = tf.shape(values)[0]
    row_sums = tf.reduce_sum(tf.reshape(values, tf.stack([rows, -1])), axis=1)
    k = tf.cast(tf.floor(tf.cast(density, tf.float64) * tf.cast(rows, tf.float64)), tf.int32)
    k = tf.minimum(tf.maximum(k, 1), rows)
    _, top = tf.nn.top_k(row_sums, k=k, sorted=False)
    return top


def compute_threshold(grad: Any, density: Any) -> tf.Tensor:
    """The ``k``-th largest magnitude of ``grad`` with ``k = max(1, floor(density * size))``.

    Args:
      grad: a float tensor of any shape.
      density: float in (0, 1].

    Returns:
      a scalar of grad's dtype (the original took the last element of an unsorted top-k, which is
      not always the k-th largest; this one is).
    """
    magnitudes = tf.reshape(tf.abs(grad), [-1])
    size = tf.size(magnitudes)
    k = tf.cast(tf.floor(tf.cast(density, tf.float64) * tf.cast(size, tf.float64)), tf.int32)
    k = tf.minimum(tf.maximum(k, 1), size)
    top, _ = tf.nn.top_k(magnitudes, k=k, sorted=True)
    return top[k - 1]


class DeepGradientCompressionOptimizer(tf.train.GradientDescentOptimizer):
    """Gradient descent applying, for each variable of rank >= 2, only its top-k gradient rows.

    Density: ``density_t = max(min_density, density * density_decay_rate ** floor(global_step /
    density_decay_steps))`` when ``density_decay`` (the global step before this step's increment;
    0 when the graph has no global step), else ``density``.

    For a dense gradient ``[rows, ...]`` (or the values ``[n, ...]`` of an IndexedSlices gradient,
    after summing duplicate indices) the rows are ranked by the signed sum of their entries and the
    top ``k = max(1, floor(density_t * rows))`` are applied: ``var[row] -= learning_rate *
    grad[row]``; the other rows are dropped.

    With ``accumulation`` a slot ``g_buffer`` (same shape and dtype as the variable) collects the
    gradients: a dense gradient is added to it, a sparse gradient's rows overwrite (scatter_update)
    the buffer's rows. The top-k rows of the whole buffer (``rows`` = the variable's first
    dimension) are applied and then zeroed in the buffer; unselected rows wait for later steps.

    Variables of rank 0 or 1 are updated by plain gradient descent (no selection, no buffer).

    Args:
      learning_rate: float or scalar tensor.
      use_locking: use locks for the updates.
      name: the optimizer's name (slot variable prefix), default "Sparse".
      density: fraction of rows applied per step, in (0, 1].
      density_decay: decay the density with the global step.
      density_decay_steps: steps between two density decays.
      density_decay_rate: factor of each decay.
      min_density: the density never decays below this.
      accumulation: accumulate unapplied gradient rows in the ``g_buffer`` slot.
    """

    def __init__(
        self,
        learning_rate: Any,
        use_locking: bool = False,
        name: str = "Sparse",
        density: float = 1.0,
        density_decay: bool = False,
        density_decay_steps: int = 10000,
        density_decay_rate: float = 0.5,
        min_density: float = 0.1,
        accumulation: bool = False,
    ) -> None:
        super().__init__(learning_rate=learning_rate, use_locking=use_locking, name=name)
        self._density = float(density)
        self._density_decay = bool(density_decay)
        self._density_decay_steps = int(density_decay_steps)
        self._density_decay_rate = float(density_decay_rate)
        self._min_density = float(min_density)
        self._accumulation = bool(accumulation)
        self._density_t: Optional[tf.Tensor] = None

    # ------------------------------------------------------------------ setup

    def _create_slots(self, var_list: Any) -> None:
        if self._accumulation:
            for var in var_list:
                if var.shape.ndims is not None and var.shape.ndims >= 2:
                    self._zeros_slot(var, "g_buffer", self._name)

    def _prepare(self) -> None:
        super()._prepare()
        density = tf.constant(self._density, dtype=tf.float64)
        global_step = tf.train.get_global_step()
        if self._density_decay and global_step is not None:
            decays = tf.floor(tf.cast(global_step, tf.float64) / float(self._density_decay_steps))
            density = tf.maximum(
                tf.constant(self._min_density, tf.float64),
                density * tf.pow(tf.constant(self._density_decay_rate, tf.float64), decays),
            )
        self._density_t = density

    # ------------------------------------------------------------------ selection

    def _top_rows(self, values: tf.Tensor) -> tf.Tensor:
        """int32 ``[k]``: positions of the ``k`` rows of ``values [rows, ...]`` with the largest signed sum."""
        return get_top_row_indices(values, self._density_t)

    def _lr(self, var: Any) -> tf.Tensor:
        return tf.cast(self._learning_rate_tensor, var.dtype.base_dtype)

    def _apply_rows(self, var: Any, values: tf.Tensor, indices: tf.Tensor) -> tf.Operation:
        """``var[indices] -= lr * values`` for the top rows of ``values`` (indices: the rows' var indices)."""
        top = self._top_rows(values)
        delta = tf.IndexedSlices(tf.gather(values, top) * self._lr(var), tf.gather(indices, top))
        return var.scatter_sub(delta, use_locking=self._use_locking)

    def _apply_from_buffer(self, var: Any, buffer_update: Any) -> tf.Operation:
        """Applies the top rows of the updated buffer to ``var`` and zeroes them in the buffer."""
        buffer = self.get_slot(var, "g_buffer")
        with tf.control_dependencies([buffer_update]):
            values = buffer.read_value() if hasattr(buffer, "read_value") else tf.identity(buffer)
        top = self._top_rows(values)
        selected = tf.gather(values, top)
        apply = var.scatter_sub(tf.IndexedSlices(selected * self._lr(var), top), use_locking=self._use_locking)
        with tf.control_dependencies([apply]):
            clear = buffer.scatter_update(tf.IndexedSlices(tf.zeros_like(selected), top))
        return tf.group(apply, clear)

    def _dense(self, grad: tf.Tensor, var: Any) -> tf.Operation:
        if self._accumulation:
            buffer = self.get_slot(var, "g_buffer")
            return self._apply_from_buffer(var, buffer.assign_add(grad, use_locking=self._use_locking))
        return self._apply_rows(var, grad, tf.range(tf.shape(grad)[0]))

    def _sparse(self, values: tf.Tensor, indices: tf.Tensor, var: Any) -> tf.Operation:
        if self._accumulation:
            buffer = self.get_slot(var, "g_buffer")
            update = buffer.scatter_update(tf.IndexedSlices(values, indices))
            return self._apply_from_buffer(var, update)
        return self._apply_rows(var, values, indices)

    @staticmethod
    def _low_rank(var: Any) -> bool:
        ndims = var.shape.ndims
        return ndims is not None and ndims < 2

    # ------------------------------------------------------------------ Optimizer hooks

    def _apply_dense(self, grad: tf.Tensor, var: Any) -> tf.Operation:
        if self._low_rank(var):
            return super()._apply_dense(grad, var)
        return self._dense(grad, var)

    def _resource_apply_dense(self, grad: tf.Tensor, handle: Any) -> tf.Operation:
        if self._low_rank(handle):
            return super()._resource_apply_dense(grad, handle)
        return self._dense(grad, handle)

    # GradientDescentOptimizer overrides the *_duplicate_indices variants to scatter-add directly;
    # row selection needs one row per index, so restore the base Optimizer's deduplication.
    def _apply_sparse_duplicate_indices(self, grad: tf.IndexedSlices, var: Any) -> tf.Operation:
        if self._low_rank(var):
            return super()._apply_sparse_duplicate_indices(grad, var)
        return tf.train.Optimizer._apply_sparse_duplicate_indices(self, grad, var)

    def _resource_apply_sparse_duplicate_indices(
        self, grad: tf.Tensor, handle: Any, indices: tf.Tensor
    ) -> tf.Operation:
        if self._low_rank(handle):
            return super()._resource_apply_sparse_duplicate_indices(grad, handle, indices)
        return tf.train.Optimizer._resource_apply_sparse_duplicate_indices(self, grad, handle, indices)

    def _apply_sparse(self, grad: tf.IndexedSlices, var: Any) -> tf.Operation:
        return self._sparse(grad.values, grad.indices, var)

    def _resource_apply_sparse(self, grad: tf.Tensor, handle: Any, indices: tf.Tensor) -> tf.Operation:
        return self._sparse(grad, indices, handle)

"""LazyAdamOptimizer: Adam whose sparse updates touch only the rows present in the gradient.

A port of TF1 contrib's ``tf.contrib.opt.LazyAdamOptimizer`` (reference §11).
"""

from typing import Any

import tensorflow.compat.v1 as tf

__all__ = ["LazyAdamOptimizer"]


class LazyAdamOptimizer(tf.train.AdamOptimizer):
    """Variant of the Adam optimizer that handles sparse updates more efficiently.

    Dense gradients are applied exactly as ``tf.compat.v1.train.AdamOptimizer`` applies them. For
    sparse gradients (``tf.IndexedSlices``, e.g. from ``tf.gather`` or embedding lookups) only the
    rows of the first and second moment accumulators and of the variable that appear in the
    gradient are updated; the other rows are left untouched (the original Adam decays the moments
    of every row each step). Duplicate indices are summed first, as for every TF1 optimizer. The
    bias correction uses the shared beta powers, so it advances with every step, as in contrib.
    """

    def _lazy_apply(self, grad_values: tf.Tensor, var: Any, indices: tf.Tensor) -> tf.Operation:
        """Updates the rows ``indices`` of m, v and ``var`` from the (deduplicated) ``grad_values``."""
        dtype = var.dtype.base_dtype
        beta1_power, beta2_power = self._get_beta_accumulators()
        beta1_power = tf.cast(beta1_power, dtype)
        beta2_power = tf.cast(beta2_power, dtype)
        lr_t = tf.cast(self._lr_t, dtype)
        beta1_t = tf.cast(self._beta1_t, dtype)
        beta2_t = tf.cast(self._beta2_t, dtype)
        epsilon_t = tf.cast(self._epsilon_t, dtype)
        lr = lr_t * tf.sqrt(1 - beta2_power) / (1 - beta1_power)

        # m := beta1 * m + (1 - beta1) * g_t, on the gradient's rows only.
        m = self.get_slot(var, "m")
        m_t_slice = beta1_t * tf.gather(m, indices) + (1 - beta1_t) * grad_values
        m_update = m.scatter_update(tf.IndexedSlices(m_t_slice, indices), use_locking=self._use_locking)

        # v := beta2 * v + (1 - beta2) * (g_t * g_t), on the gradient's rows only.
        v = self.get_slot(var, "v")
        v_t_slice = beta2_t * tf.gather(v, indices) + (1 - beta2_t) * tf.square(grad_values)
        v_update = v.scatter_update(tf.IndexedSlices(v_t_slice, indices), use_locking=self._use_locking)

        # variable -= learning_rate * m_t / (epsilon_t + sqrt(v_t)), on the gradient's rows only.
        var_slice = lr * m_t_slice / (tf.sqrt(v_t_slice) + epsilon_t)
        var_update = var.scatter_sub(tf.IndexedSlices(var_slice, indices), use_locking=self._use_locking)
        return tf.group(var_update, m_update, v_update)

    def _apply_sparse(self, grad: tf.IndexedSlices, var: Any) -> tf.Operation:
        return self._lazy_apply(grad.values, var, grad.indices)

    def _resource_apply_sparse(self, grad: tf.Tensor, var: Any, indices: tf.Tensor) -> tf.Operation:
        return self._lazy_apply(grad, var, indices)

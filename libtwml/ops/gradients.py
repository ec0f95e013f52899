"""Gradients of the libtwml ops that take part in training.

Imported by ``libtwml.ops`` after the op library is loaded, so that ``tf.gradients`` and optimizers
find them.
"""

import tensorflow as tf

from libtwml.ops import OPLIB


@tf.RegisterGradient("BinarySparseTensorDenseMatMul")
def _binary_sparse_tensor_dense_mat_mul_grad(op: tf.Operation, grad: tf.Tensor) -> list:
    """Gradient w.r.t. b only: the indices and shape are integers and a_values are ignored.

    With op(A) * op(B) and A binary, d/dB is op-dependent as for SparseTensorDenseMatMul. Without
    adjoints it is A^T * grad, whose only non-zero rows are A's used columns: it is returned as
    IndexedSlices (one slice grad[row] per stored (row, column), duplicates summed by the consumer)
    so that optimizers update only those rows of an embedding-like b.
    """
    a_indices, _, a_shape, b = op.inputs
    adjoint_a = op.get_attr("adjoint_a")
    adjoint_b = op.get_attr("adjoint_b")
    if not adjoint_a and not adjoint_b:
        b_grad = tf.IndexedSlices(
            values=tf.gather(grad, a_indices[:, 0]),
            indices=a_indices[:, 1],
            dense_shape=tf.shape(b, out_type=tf.int64),
        )
    else:
        # op(B)'s gradient is op(A)^T * grad = A * grad (or A^T * grad when adjoint_a), then
        # transposed back when B entered conjugate-transposed; A's ones need no conjugation.
        ones = tf.ones_like(a_indices[:, 0], dtype=grad.dtype)
        b_grad = OPLIB.binary_sparse_tensor_dense_mat_mul(a_indices, ones, a_shape, grad, adjoint_a=not adjoint_a)
        if adjoint_b:
            b_grad = tf.linalg.adjoint(b_grad)
    return [None, None, None, b_grad]

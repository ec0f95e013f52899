"""Gradients of the libtwml ops that take part in training.

Imported by ``libtwml.ops`` after the op library is loaded, so that ``tf.gradients`` and optimizers
find them.
"""

from typing import Callable

import tensorflow as tf
from tensorflow.python.ops import resource_variable_ops

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


def _unique_grad_matmul_grads(
    op: tf.Operation, grad: tf.Tensor, gather_b: Callable[[tf.Tensor], tf.Tensor], b_shape: tf.Tensor
) -> list:
    """Gradients of (Resource)SparseTensorDenseMatMulUniqueGrad w.r.t. a_values and b.

    b's gradient A^T * grad is an IndexedSlices whose indices are unique (A's distinct columns),
    summed in C++ by SparseTensorDenseMatMulWeightGrad. a_values' gradient is
    sum_j grad[row, j] * b[column, j] per entry; graph pruning drops it when nothing needs it.
    """
    a_indices, a_values = op.inputs[0], op.inputs[1]
    columns, slices = OPLIB.sparse_tensor_dense_mat_mul_weight_grad(a_indices, a_values, grad)
    b_grad = tf.IndexedSlices(values=slices, indices=columns, dense_shape=b_shape)
    values_grad = tf.reduce_sum(gather_b(a_indices[:, 1]) * tf.gather(grad, a_indices[:, 0]), axis=1)
    return [None, values_grad, None, b_grad]


@tf.RegisterGradient("SparseTensorDenseMatMulUniqueGrad")
def _sparse_tensor_dense_mat_mul_unique_grad_grad(op: tf.Operation, grad: tf.Tensor) -> list:
    """Gradients w.r.t. a_values and the dense b (see ``_unique_grad_matmul_grads``)."""
    b = op.inputs[3]
    return _unique_grad_matmul_grads(op, grad, lambda cols: tf.gather(b, cols), tf.shape(b, out_type=tf.int64))


@tf.RegisterGradient("ResourceSparseTensorDenseMatMulUniqueGrad")
def _resource_sparse_tensor_dense_mat_mul_unique_grad_grad(op: tf.Operation, grad: tf.Tensor) -> list:
    """Gradients w.r.t. a_values and the variable behind the handle b, as ResourceGather's."""
    handle = op.inputs[3]
    dtype = op.get_attr("dtype")
    return _unique_grad_matmul_grads(
        op,
        grad,
        lambda cols: resource_variable_ops.resource_gather(handle, cols, dtype=dtype),
        resource_variable_ops.variable_shape(handle, out_type=tf.int64),
    )

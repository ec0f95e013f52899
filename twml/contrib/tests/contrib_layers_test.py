"""twml.contrib.layers: EmbeddingLookup, FactorizationMachine, FullDense, MaskLayer, StackedRNN and
ZscoreNormalization against numpy, with gradient checks and short training runs (reference §6)."""

import os
import tempfile

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml  # noqa: F401  (graph mode)
from twml.contrib.initializers import TWML_INIT_FEED_KEY, PartitionConstant, get_init_feed_dict
from twml.contrib.layers import (
    EmbeddingLookup,
    FactorizationMachine,
    FullDense,
    MaskLayer,
    StackedRNN,
    ZscoreNormalization,
    full_dense,
    stacked_rnn,
    zscore_normalization,
)
from twml.contrib.layers.mask_layer import MASK_COLLECTION, MASK_EXTENDED_COLLECTION

RNG = np.random.default_rng(20241127)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def random_sparse(batch, dim, nnz):
    """Unique random (row, col) pairs with normal values; row ``batch - 1`` is left empty."""
    cells = RNG.choice((batch - 1) * dim, size=nnz, replace=False)
    indices = np.stack([cells // dim, cells % dim], axis=1).astype(np.int64)
    return indices, RNG.normal(size=nnz)


def sparse(indices, values, batch, dim, dtype=tf.float64):
    return tf.SparseTensor(
        tf.constant(indices, tf.int64), tf.constant(values, dtype), tf.constant([batch, dim], tf.int64)
    )


def dense_of(indices, values, batch, dim):
    out = np.zeros((batch, dim))
    out[indices[:, 0], indices[:, 1]] = values
    return out


class GradientCheck:
    """Compares tf.gradients(loss, variable) with central differences on up to max_entries entries.

    The ops are built at construction, before any session runs the graph (a while loop's gradient
    cannot be added to a graph that a session has already run).
    """

    def __init__(self, loss, variable, max_entries=40):
        grad = tf.gradients(loss, variable)[0]
        assert grad is not None, "no gradient reaches %s" % variable.name
        self.loss, self.variable, self.max_entries = loss, variable, max_entries
        self.grad = tf.convert_to_tensor(grad)
        self.placeholder = tf.placeholder(variable.dtype.base_dtype, variable.shape)
        self.assign = variable.assign(self.placeholder)

    def run(self, session, eps=1e-6, rtol=1e-5):
        analytic = session.run(self.grad)
        value = session.run(self.variable)
        flat = list(np.ndindex(value.shape))
        picks = [flat[i] for i in RNG.choice(len(flat), size=min(self.max_entries, len(flat)), replace=False)]
        numeric = np.zeros(len(picks))
        for n, idx in enumerate(picks):
            for sign in (1.0, -1.0):
                probe = value.copy()
                probe[idx] += sign * eps
                session.run(self.assign, {self.placeholder: probe})
                numeric[n] += sign * session.run(self.loss) / (2 * eps)
        session.run(self.assign, {self.placeholder: value})
        expected = np.array([analytic[idx] for idx in picks])
        assert np.abs(expected).max() > 1e-8  # a check that cannot fail proves nothing
        scale = max(1.0, np.abs(expected).max())
        np.testing.assert_allclose(expected, numeric, rtol=rtol, atol=rtol * scale)


class Training:
    """Plain SGD on loss; ``run`` checks that the loss at least halves in ``steps`` steps."""

    def __init__(self, loss, learning_rate=0.1):
        self.loss = loss
        self.train = tf.train.GradientDescentOptimizer(learning_rate).minimize(loss)

    def run(self, session, steps=60):
        first = session.run(self.loss)
        for _ in range(steps):
            session.run(self.train)
        last = session.run(self.loss)
        assert last < 0.5 * first, (first, last)


# --- MaskLayer ---------------------------------------------------------------------------------


def test_mask_layer_masks_last_axis_and_registers_collections():
    x = RNG.normal(size=(4, 3, 5))
    mask = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    with tf.Graph().as_default():
        inputs = tf.constant(x)
        layer = MaskLayer(name="prune")
        out = layer(inputs)
        assert layer.mask.name == "prune/mask:0"
        assert layer.mask.dtype.base_dtype == tf.float64
        assert tf.get_collection(MASK_COLLECTION) == [layer.mask]
        assert tf.get_collection(MASK_EXTENDED_COLLECTION) == [layer.mask_extended]
        assert layer.mask not in tf.trainable_variables()
        upstream = RNG.normal(size=x.shape)
        per_example = tf.gradients(tf.reduce_sum(out * upstream), layer.mask_extended)[0]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            np.testing.assert_allclose(session.run(out), x)
            session.run(layer.mask.assign(mask))
            np.testing.assert_allclose(session.run(out), x * mask)
            # The per-example Fisher signal a pruner needs: d(loss)/d(mask) for each example.
            np.testing.assert_allclose(session.run(per_example), x * upstream)


def test_mask_layer_bad_inputs():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="last dimension"):
            MaskLayer()(tf.placeholder(tf.float32, [None, None]))
        with pytest.raises(TypeError, match="floating"):
            MaskLayer()(tf.constant([[1, 2]]))


# --- contrib FullDense -------------------------------------------------------------------------


def test_full_dense_with_mask_matches_numpy():
    x = RNG.normal(size=(6, 4))
    w = RNG.normal(size=(4, 3))
    b = RNG.normal(size=3)
    mask = np.array([1.0, 0.0, 1.0])
    with tf.Graph().as_default():
        layer = FullDense(
            3,
            weight_initializer=tf.constant_initializer(w),
            bias_initializer=tf.constant_initializer(b),
            num_partitions=None,
            activation=tf.nn.relu,
            use_mask=True,
            name="fc",
            dtype=tf.float64,
        )
        out = layer(tf.constant(x))
        assert sorted(v.name for v in tf.global_variables()) == ["fc/bias:0", "fc/kernel:0", "fc/mask/mask:0"]
        assert tf.get_collection(MASK_COLLECTION) == [layer.mask]
        assert layer.mask not in tf.trainable_variables()
        assert [w.name for w in layer.non_trainable_weights] == ["fc/mask/mask:0"]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            np.testing.assert_allclose(session.run(out), np.maximum(x @ w + b, 0))
            session.run(layer.mask.assign(mask))
            np.testing.assert_allclose(session.run(out), np.maximum(x @ w + b, 0) * mask)


def test_full_dense_functional_dropout_and_no_mask():
    x = RNG.normal(size=(200, 8)) + 3.0
    with tf.Graph().as_default():
        training = tf.placeholder(tf.bool, [])
        out = full_dense(
            tf.constant(x), 2, dropout_rate=0.5, training=training, name="d", weight_initializer=tf.ones_initializer()
        )
        assert tf.get_collection(MASK_COLLECTION) == []
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            np.testing.assert_allclose(session.run(out, {training: False}), x.sum(1, keepdims=True) * [1, 1])
            dropped = session.run(out, {training: True})
            assert not np.allclose(dropped, x.sum(1, keepdims=True) * [1, 1])
    with pytest.raises(ValueError, match="dropout_rate"):
        FullDense(2, dropout_rate=1.5)


def test_full_dense_gradient_and_training():
    x = RNG.normal(size=(16, 5))
    target = x @ RNG.normal(size=(5, 2))
    with tf.Graph().as_default():
        layer = FullDense(2, num_partitions=1, use_mask=True, dtype=tf.float64, name="fc")
        loss = tf.reduce_mean(tf.square(layer(tf.constant(x)) - target))
        checks = [GradientCheck(loss, layer.kernel), GradientCheck(loss, layer.bias)]
        training = Training(loss)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            for check in checks:
                check.run(session)
            training.run(session)


def test_full_dense_default_three_partitions_match_numpy():
    # The original's default num_partitions=3: the kernel [7, 4] is three variables of 3, 2 and 2 rows.
    x = RNG.normal(size=(5, 7))
    w = RNG.normal(size=(7, 4))
    b = RNG.normal(size=4)
    with tf.Graph().as_default():
        out = full_dense(
            tf.constant(x),
            4,
            PartitionConstant(w, tf.float64),
            activation=tf.tanh,
            bias_initializer=tf.constant_initializer(b),
            name="parts",
        )
        shapes = {v.name: v.shape.as_list() for v in tf.global_variables()}
        assert shapes == {
            "parts/kernel/part_0:0": [3, 4],
            "parts/kernel/part_1:0": [2, 4],
            "parts/kernel/part_2:0": [2, 4],
            "parts/bias:0": [4],
        }
        reused = full_dense(tf.constant(x), 4, name="parts", reuse=True, activation=tf.tanh)
        assert len(tf.global_variables()) == 4
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            got, got_reused = session.run([out, reused])
    np.testing.assert_allclose(got, np.tanh(x @ w + b), rtol=1e-12)
    np.testing.assert_allclose(got_reused, got, rtol=1e-12)


# --- FactorizationMachine ----------------------------------------------------------------------


def fm_numpy(x, v, self_cross=True):
    out = np.square(x @ v).sum(1)
    if self_cross:
        out -= (np.square(x) @ np.square(v)).sum(1)
    return out[:, None]


@pytest.mark.parametrize("use_sparse_grads", [True, False])
@pytest.mark.parametrize("substract_self_cross", [True, False])
def test_factorization_machine_matches_numpy(use_sparse_grads, substract_self_cross):
    batch, dim, k = 7, 12, 4
    indices, values = random_sparse(batch, dim, 30)
    v = RNG.normal(size=(dim, k))
    with tf.Graph().as_default():
        layer = FactorizationMachine(
            k,
            weight_initializer=tf.constant_initializer(v),
            use_sparse_grads=use_sparse_grads,
            substract_self_cross=substract_self_cross,
            name="fm",
        )
        out = layer(sparse(indices, values, batch, dim))
        assert layer.weight.name == "fm/weight:0" and layer.weight.shape.as_list() == [dim, k]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            got = session.run(out)
    expected = fm_numpy(dense_of(indices, values, batch, dim), v, substract_self_cross)
    assert got.shape == (batch, 1)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    assert got[-1, 0] == 0.0  # the empty row is padded with 0
    # The self-cross-free output is twice the sum over pairs i<j of <v_i, v_j> x_i x_j.
    if substract_self_cross:
        x = dense_of(indices, values, batch, dim)
        pairs = [
            sum(x[r, i] * x[r, j] * v[i] @ v[j] for i in range(dim) for j in range(i + 1, dim)) for r in range(batch)
        ]
        np.testing.assert_allclose(got[:, 0], 2 * np.array(pairs), rtol=1e-10, atol=1e-10)


def test_factorization_machine_binary_values_and_activation():
    batch, dim, k = 5, 9, 3
    indices, values = random_sparse(batch, dim, 15)
    v = RNG.normal(size=(dim, k))
    with tf.Graph().as_default():
        layer = FactorizationMachine(
            k, weight_initializer=tf.constant_initializer(v), use_binary_values=True, activation=tf.sigmoid
        )
        out = layer(sparse(indices, values, batch, dim, tf.float32))
        assert layer.weight.dtype.base_dtype == tf.float32
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            got = session.run(out)
    expected = sigmoid(fm_numpy(dense_of(indices, np.ones_like(values), batch, dim), v))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("use_sparse_grads", [True, False])
def test_factorization_machine_gradient_and_training(use_sparse_grads):
    batch, dim, k = 12, 8, 3
    indices, values = random_sparse(batch, dim, 40)
    target = fm_numpy(dense_of(indices, values, batch, dim), RNG.normal(size=(dim, k)) * 0.7)
    with tf.Graph().as_default():
        layer = FactorizationMachine(k, use_sparse_grads=use_sparse_grads)
        out = layer(sparse(indices, values, batch, dim))
        loss = tf.reduce_mean(tf.square(out - target))
        grad = tf.gradients(loss, layer.weight)[0]
        assert isinstance(grad, tf.IndexedSlices) == use_sparse_grads
        check, training = GradientCheck(loss, layer.weight), Training(loss, learning_rate=0.01)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            check.run(session)
            training.run(session, steps=150)


def test_factorization_machine_bad_inputs():
    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="SparseTensor"):
            FactorizationMachine()(tf.zeros([2, 3]))
        unknown = tf.SparseTensor(tf.zeros([1, 2], tf.int64), [1.0], tf.placeholder(tf.int64, [2]))
        with pytest.raises(ValueError, match="dense_shape"):
            FactorizationMachine()(unknown)
    with pytest.raises(ValueError, match="num_latent_variables"):
        FactorizationMachine(0)


# --- ZscoreNormalization -----------------------------------------------------------------------


@pytest.mark.parametrize("zero_debias,handle_single", [(True, False), (False, True)])
def test_zscore_ema_excludes_missing_values(zero_debias, handle_single):
    batch, n, decay, eps = 9, 4, 0.8, 1e-7
    steps = []
    for step in range(5):
        x = RNG.normal(loc=[0.0, 3.0, -2.0, 10.0], scale=[1.0, 2.0, 0.5, 4.0], size=(batch, n))
        present = RNG.random(size=(batch, n)) > 0.3
        present[:, 3] = step % 2 == 0  # feature 3 is wholly missing every other step
        present[0, 0] = True
        if step == 1:  # feature 2 has one present value: its variance is kept with handle_single
            present[:, 2] = False
            present[4, 2] = True
        x[~present] = 1e6  # garbage where missing: must not leak in
        steps.append((x, present))
    with tf.Graph().as_default():
        inputs = tf.placeholder(tf.float32, [None, n])
        mask = tf.placeholder(tf.bool, [None, n])
        layer = ZscoreNormalization(decay=decay, epsilon=eps, name="z")
        train_out = layer(inputs, True, mask, zero_debias, handle_single)
        infer_out = layer(inputs, is_training=False, dense_mask=mask)
        assert sorted(v.name for v in tf.global_variables()) == ["z/moving_mean:0", "z/moving_var:0", "z/num_updates:0"]
        assert layer.moving_mean.dtype.base_dtype == tf.float64 and tf.trainable_variables() == []
        mean, var, count = np.zeros(n), np.ones(n), np.zeros(n)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            for x, present in steps:
                got = session.run(train_out, {inputs: x, mask: present})
                for j in range(n):
                    values = x[present[:, j], j].astype(np.float32).astype(np.float64)
                    if values.size == 0:
                        continue
                    count[j] += 1
                    rate = (1 - decay) / (1 - decay ** count[j]) if zero_debias else 1 - decay
                    mean[j] += rate * (values.mean() - mean[j])
                    if values.size > 1 or not handle_single:
                        var[j] += rate * (values.var() - var[j])
                expected = np.where(present, (x.astype(np.float32) - mean) / np.sqrt(var + eps), 0.0)
                assert got.dtype == np.float32
                np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
                np.testing.assert_allclose(session.run(layer.moving_mean), mean, rtol=1e-10)
                np.testing.assert_allclose(session.run(layer.moving_var), var, rtol=1e-10)
            # Inference normalises with the moving statistics and leaves them alone.
            x, present = steps[0]
            got = session.run(infer_out, {inputs: x, mask: present})
            np.testing.assert_allclose(got, np.where(present, (x - mean) / np.sqrt(var + eps), 0.0), rtol=1e-5)
            np.testing.assert_allclose(session.run(layer.moving_mean), mean, rtol=1e-10)


def test_zscore_first_step_is_batch_statistics_and_nan_is_missing():
    x = np.array([[1.0, np.nan], [3.0, 2.0], [np.nan, 4.0]])
    with tf.Graph().as_default():
        inputs = tf.placeholder(tf.float64, [None, 2])
        training = tf.placeholder(tf.bool, [])
        out = zscore_normalization(inputs, is_training=training, name="zz")
        moving_mean = tf.global_variables()[0]
        assert moving_mean.name == "zz/moving_mean:0"
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            got = session.run(out, {inputs: x, training: True})
            np.testing.assert_allclose(got, [[-1.0, 0.0], [1.0, -1.0], [0.0, 1.0]], rtol=1e-6)
            np.testing.assert_allclose(session.run(moving_mean), [2.0, 3.0])
            # Not training: the statistics stay, whatever the batch.
            got = session.run(out, {inputs: x + 10.0, training: False})
            np.testing.assert_allclose(got, [[9.0, 0.0], [11.0, 9.0], [0.0, 11.0]], rtol=1e-6)
            np.testing.assert_allclose(session.run(moving_mean), [2.0, 3.0])


def test_zscore_bad_inputs():
    with pytest.raises(ValueError, match="decay"):
        ZscoreNormalization(decay=1.0)
    with pytest.raises(ValueError, match="data_type"):
        ZscoreNormalization(data_type=tf.int32)
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="n_feature"):
            ZscoreNormalization()(tf.zeros([3]))
        with pytest.raises(TypeError, match="floating"):
            ZscoreNormalization()(tf.zeros([3, 2], tf.int32))
        with pytest.raises(TypeError, match="bool"):
            ZscoreNormalization()(tf.zeros([3, 2]), dense_mask=tf.zeros([3, 2]))


# --- StackedRNN --------------------------------------------------------------------------------


def lstm_numpy(x, lengths, kernel, bias):
    batch, time, _ = x.shape
    units = bias.size // 4
    h, c = np.zeros((batch, units)), np.zeros((batch, units))
    outs = np.zeros((batch, time, units))
    for t in range(time):
        i, j, f, o = np.split(np.concatenate([x[:, t], h], 1) @ kernel + bias, 4, axis=1)
        new_c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(j)
        new_h = sigmoid(o) * np.tanh(new_c)
        valid = (t < lengths)[:, None]
        c, h = np.where(valid, new_c, c), np.where(valid, new_h, h)
        outs[:, t] = np.where(valid, new_h, 0.0)
    return outs


def gru_numpy(x, lengths, gate_kernel, gate_bias, cand_kernel, cand_bias):
    batch, time, _ = x.shape
    units = cand_bias.size
    h = np.zeros((batch, units))
    outs = np.zeros((batch, time, units))
    for t in range(time):
        r, u = np.split(sigmoid(np.concatenate([x[:, t], h], 1) @ gate_kernel + gate_bias), 2, axis=1)
        cand = np.tanh(np.concatenate([x[:, t], r * h], 1) @ cand_kernel + cand_bias)
        new_h = u * h + (1 - u) * cand
        valid = (t < lengths)[:, None]
        h = np.where(valid, new_h, h)
        outs[:, t] = np.where(valid, new_h, 0.0)
    return outs


def last_valid(outs, lengths):
    return np.stack([outs[b, max(n - 1, 0)] * (n > 0) for b, n in enumerate(lengths)])


def test_stacked_lstm_matches_numpy():
    x = RNG.normal(size=(4, 6, 3))
    lengths = np.array([6, 3, 0, 1])
    with tf.Graph().as_default():
        layer = StackedRNN([5, 2], cell_type="lstm", return_sequences=True, name="rnn_stack")
        seq = layer(tf.constant(x), sequence_lengths=tf.constant(lengths))
        last = stacked_rnn(tf.constant(x), tf.constant(lengths), [5, 2], name="rnn_last")
        stack_vars = [v for v in tf.trainable_variables() if v.name.startswith("rnn_stack/")]
        assert [v.name for v in stack_vars] == [
            "rnn_stack/rnn/multi_rnn_cell/cell_0/lstm_cell/kernel:0",
            "rnn_stack/rnn/multi_rnn_cell/cell_0/lstm_cell/bias:0",
            "rnn_stack/rnn/multi_rnn_cell/cell_1/lstm_cell/kernel:0",
            "rnn_stack/rnn/multi_rnn_cell/cell_1/lstm_cell/bias:0",
        ]
        assert [v.name for v in layer.trainable_weights] == [v.name for v in stack_vars]
        last_vars = [v for v in tf.trainable_variables() if v.name.startswith("rnn_last/")]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            k0, b0, k1, b1 = session.run(stack_vars)
            got_seq = session.run(seq)
            lk0, lb0, lk1, lb1 = session.run(last_vars)
            got_last = session.run(last)
    expected = lstm_numpy(lstm_numpy(x, lengths, k0, b0), lengths, k1, b1)
    np.testing.assert_allclose(got_seq, expected, rtol=1e-10, atol=1e-12)
    expected_last = last_valid(lstm_numpy(lstm_numpy(x, lengths, lk0, lb0), lengths, lk1, lb1), lengths)
    assert got_last.shape == (4, 2)
    np.testing.assert_allclose(got_last, expected_last, rtol=1e-10, atol=1e-12)


def test_bidirectional_gru_matches_numpy():
    x = RNG.normal(size=(3, 5, 2))
    lengths = np.array([5, 2, 4])
    with tf.Graph().as_default():
        out = stacked_rnn(tf.constant(x), tf.constant(lengths), 3, cell_type="GRU", is_bidirectional=True)
        variables = {v.name: v for v in tf.trainable_variables()}
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            got = session.run(out)
            values = session.run(variables)

    def params(direction):
        prefix = "stacked_rnn/bidirectional_rnn/%s/multi_rnn_cell/cell_0/gru_cell/" % direction
        return [
            values[prefix + n] for n in ("gates/kernel:0", "gates/bias:0", "candidate/kernel:0", "candidate/bias:0")
        ]

    fw = last_valid(gru_numpy(x, lengths, *params("fw")), lengths)
    reversed_x = np.stack([np.concatenate([x[b, :n][::-1], x[b, n:]]) for b, n in enumerate(lengths)])
    bw_seq = gru_numpy(reversed_x, lengths, *params("bw"))
    bw = np.stack([bw_seq[b, n - 1] for b, n in enumerate(lengths)])  # backward output at time 0
    np.testing.assert_allclose(got, np.concatenate([fw, bw], 1), rtol=1e-10, atol=1e-12)


def test_stacked_rnn_gradient_and_training():
    x = RNG.normal(size=(8, 4, 2))
    target = np.tanh(x.sum(1)[:, :1])
    with tf.Graph().as_default():
        layer = StackedRNN([4, 1], cell_type="GRU")
        out = layer(tf.constant(x))
        loss = tf.reduce_mean(tf.square(out - target))
        assert len(tf.trainable_variables()) == 8  # 2 layers x (gates, candidate) x (kernel, bias)
        checks = [GradientCheck(loss, variable, max_entries=8) for variable in tf.trainable_variables()]
        training = Training(loss, learning_rate=0.5)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            for check in checks:
                check.run(session)
            training.run(session, steps=150)


def test_stacked_rnn_dropout_and_bad_inputs():
    x = RNG.normal(size=(50, 3, 4))
    with tf.Graph().as_default():
        training = tf.placeholder(tf.bool, [])
        train_out = stacked_rnn(tf.constant(x), None, 8, dropout=0.5, is_training=True, name="a", return_sequences=True)
        switched = stacked_rnn(tf.constant(x), None, 8, 0.5, training, name="b", return_sequences=True)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            assert np.mean(session.run(train_out) == 0.0) > 0.3
            assert np.mean(session.run(switched, {training: True}) == 0.0) > 0.3
            assert np.mean(session.run(switched, {training: False}) == 0.0) < 0.01
        with pytest.raises(ValueError, match="input_size"):
            StackedRNN(3)(tf.zeros([2, 3]))
        with pytest.raises(TypeError, match="floating"):
            StackedRNN(3)(tf.zeros([2, 3, 1], tf.int32))
    with pytest.raises(ValueError, match="cell_type"):
        StackedRNN(3, cell_type="RNN")
    with pytest.raises(ValueError, match="num_units"):
        StackedRNN([3, 0])
    with pytest.raises(ValueError, match="dropout"):
        StackedRNN(3, dropout=1.0)


# --- EmbeddingLookup ---------------------------------------------------------------------------

VOCAB = ["apple", "banana", "cherry", "date", "elder"]


@pytest.mark.parametrize("num_partitions", [1, 2])
def test_embedding_lookup_matches_numpy(num_partitions):
    weights = RNG.normal(size=(len(VOCAB) + 3, 4)).astype(np.float32)
    words = np.array([["Apple", "date", "fig"], ["CHERRY", "kiwi", "banana"]])
    with tf.Graph().as_default():
        layer = EmbeddingLookup(
            len(VOCAB),
            4,
            VOCAB,
            weight_initializer=weights,
            num_oov_buckets=3,
            num_partitions=num_partitions,
            name="emb",
        )
        out = layer(tf.constant(words))
        assert layer.vocab.name == "emb/vocab:0" and layer.vocab not in tf.trainable_variables()
        feed = get_init_feed_dict()
        assert {value.shape for value in feed.values()} == {(len(VOCAB),), weights.shape}  # vocab and weight
        assert not any(
            op.type == "Const" and op.outputs[0].shape.num_elements() == weights.size
            for op in tf.get_default_graph().get_operations()
        )
        with tf.Session() as session:
            session.run(tf.global_variables_initializer(), feed)
            session.run(layer.init)
            got = session.run(out)
    assert got.shape == (2, 3, 4)
    np.testing.assert_allclose(got[0, 0], weights[0])
    np.testing.assert_allclose(got[0, 1], weights[3])
    np.testing.assert_allclose(got[1, 0], weights[2])
    np.testing.assert_allclose(got[1, 2], weights[1])
    # Out-of-vocabulary words land in the bucket rows (the same word always in the same row).
    for word in (got[0, 2], got[1, 1]):
        assert any(np.allclose(word, weights[row]) for row in range(len(VOCAB), len(VOCAB) + 3))


def test_embedding_lookup_oov_word_id_zero_vector_and_case():
    weights = RNG.normal(size=(len(VOCAB), 2))
    with tf.Graph().as_default():
        words = tf.constant(["Banana", "nope", "banana"])
        with_oov = EmbeddingLookup(
            len(VOCAB), 2, VOCAB, weight_initializer=weights, oov_word_id=4, use_placeholder=False, dtype=tf.float64
        )(words)
        no_oov = EmbeddingLookup(len(VOCAB), 2, VOCAB, weight_initializer=weights, convert_to_lowercase=False)(words)
        # Only the second layer feeds its vocab and weight through placeholders.
        assert {value.shape for value in get_init_feed_dict().values()} == {(len(VOCAB),), weights.shape}
        assert len(tf.get_collection(TWML_INIT_FEED_KEY)) == 2
        with tf.Session() as session:
            session.run(tf.global_variables_initializer(), get_init_feed_dict())
            session.run(tf.tables_initializer())
            np.testing.assert_allclose(session.run(with_oov), weights[[1, 4, 1]])
            np.testing.assert_allclose(session.run(no_oov), [np.zeros(2), np.zeros(2), weights[1]], rtol=1e-6)


def test_embedding_lookup_gradient_training_and_checkpoint():
    words = np.array(["apple", "cherry", "elder", "apple", "zzz"])
    target = RNG.normal(size=(5, 3))
    target[3] = target[0]
    with tempfile.TemporaryDirectory() as directory:
        with tf.Graph().as_default():
            layer = EmbeddingLookup(len(VOCAB), 3, VOCAB, num_oov_buckets=1, dtype=tf.float64, name="emb")
            out = layer(tf.constant(words))
            loss = tf.reduce_mean(tf.square(out - target))
            check, training = GradientCheck(loss, layer.weight), Training(loss, learning_rate=2.0)
            with tf.Session() as session:
                session.run(tf.global_variables_initializer(), get_init_feed_dict())
                session.run(layer.init)
                check.run(session)
                training.run(session, steps=100)
                trained = session.run(layer.weight)
                tf.train.Saver().save(session, os.path.join(directory, "model.ckpt"))
        with tf.Graph().as_default():
            layer = EmbeddingLookup(
                len(VOCAB),
                3,
                ["x%d" % i for i in range(5)],
                num_oov_buckets=1,
                dtype=tf.float64,
                name="emb",
                checkpoint_dir=directory,
            )
            out = layer(tf.constant(["cherry"]))
            with tf.Session() as session:
                session.run(tf.global_variables_initializer(), get_init_feed_dict())
                session.run(layer.init)
                np.testing.assert_allclose(session.run(layer.weight), trained)
                np.testing.assert_allclose(session.run(out), trained[[2]])


def test_embedding_lookup_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        EmbeddingLookup(3, 2, ["a", "b", "c"], weight_initializer=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="duplicate"):
        EmbeddingLookup(3, 2, ["a", "b", "a"])
    with pytest.raises(ValueError, match="vocab_initializer"):
        EmbeddingLookup(3, 2, ["a", "b"])
    with pytest.raises(ValueError, match="oov_word_id"):
        EmbeddingLookup(3, 2, ["a", "b", "c"], oov_word_id=3)
    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="string"):
            EmbeddingLookup(3, 2, ["a", "b", "c"])(tf.constant([1, 2]))

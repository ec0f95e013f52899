"""DeepGradientCompressionOptimizer and PruningOptimizer against numpy re-implementations."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml  # noqa: F401  (graph mode)
from twml.contrib.layers import MaskLayer
from twml.optimizers import DeepGradientCompressionOptimizer, PruningOptimizer

LR = 0.1


# ---------------------------------------------------------------------------------------------
# DeepGradientCompressionOptimizer


def _density(step, density, decay, steps, rate, min_density):
    if not decay:
        return density
    return max(min_density, density * rate ** np.floor(step / steps))


def _top(values, density):
    rows = values.shape[0]
    k = min(max(1, int(np.floor(density * rows))), rows)
    sums = values.reshape(rows, -1).sum(axis=1)
    return np.argsort(-sums, kind="stable")[:k]


def _run_dense(use_resource, accumulation, decay, steps=6):
    rng = np.random.default_rng(1)
    init = rng.normal(size=(6, 3)).astype(np.float32)
    grads = rng.normal(size=(steps, 6, 3)).astype(np.float32)
    config = dict(density=0.8, density_decay=decay, density_decay_steps=2, density_decay_rate=0.5, min_density=0.3)
    with tf.Graph().as_default():
        var = tf.Variable(init, use_resource=use_resource)
        coef = tf.placeholder(tf.float32, [6, 3])
        loss = tf.reduce_sum(var * coef)  # d loss / d var = coef
        global_step = tf.train.get_or_create_global_step()
        opt = DeepGradientCompressionOptimizer(LR, accumulation=accumulation, **config)
        train = opt.minimize(loss, global_step=global_step)
        buffer = opt.get_slot(var, "g_buffer")
        assert (buffer is not None) == accumulation
        values, buffers = [], []
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for grad in grads:
                sess.run(train, {coef: grad})
                values.append(sess.run(var))
                if accumulation:
                    buffers.append(sess.run(buffer))
    expected = init.astype(np.float64)
    acc = np.zeros_like(expected)
    for step, grad in enumerate(grads):
        density = _density(
            step,
            decay=decay,
            **{k: config[k] for k in ("density", "min_density")},
            steps=config["density_decay_steps"],
            rate=config["density_decay_rate"],
        )
        if accumulation:
            acc += grad
            top = _top(acc, density)
            expected[top] -= LR * acc[top]
            acc[top] = 0
            np.testing.assert_allclose(buffers[step], acc, rtol=1e-5, atol=1e-6)
        else:
            top = _top(grad, density)
            expected[top] -= LR * grad[top]
        np.testing.assert_allclose(values[step], expected, rtol=1e-5, atol=1e-6)
    return values


@pytest.mark.parametrize("use_resource", [True, False])
@pytest.mark.parametrize("accumulation", [False, True])
def test_dgc_dense_matches_numpy(use_resource, accumulation):
    _run_dense(use_resource, accumulation, decay=True)


def test_dgc_density_decay_changes_rows_applied():
    # 6 rows: density 0.8 -> 4 rows for steps 0-1, 0.4 -> 2 rows for steps 2-3, min 0.3 -> 1 row after.
    values = _run_dense(True, False, decay=True)
    changed = [int(np.sum(np.any(b != a, axis=1))) for a, b in zip(values[:-1], values[1:])]
    assert changed == [4, 2, 2, 1, 1]
    constant = _run_dense(True, False, decay=False)
    changed = [int(np.sum(np.any(b != a, axis=1))) for a, b in zip(constant[:-1], constant[1:])]
    assert changed == [4] * 5


def _dedup(indices, values):
    order = list(dict.fromkeys(indices.tolist()))
    summed = np.stack([values[indices == i].sum(axis=0) for i in order])
    return np.array(order), summed


@pytest.mark.parametrize("use_resource", [True, False])
@pytest.mark.parametrize("accumulation", [False, True])
def test_dgc_sparse_matches_numpy(use_resource, accumulation):
    rng = np.random.default_rng(2)
    init = rng.normal(size=(10, 2)).astype(np.float32)
    steps = [
        (np.array([7, 1, 3, 1, 8, 0]), rng.normal(size=(6, 2)).astype(np.float32)),
        (np.array([2, 5, 9, 4, 5]), rng.normal(size=(5, 2)).astype(np.float32)),
        (np.array([0, 1, 2, 3, 4, 5, 6]), rng.normal(size=(7, 2)).astype(np.float32)),
    ]
    density = 0.5
    with tf.Graph().as_default():
        var = tf.Variable(init, use_resource=use_resource)
        idx = tf.placeholder(tf.int32, [None])
        coef = tf.placeholder(tf.float32, [None, 2])
        loss = tf.reduce_sum(tf.gather(var, idx) * coef)  # IndexedSlices gradient (coef, idx)
        opt = DeepGradientCompressionOptimizer(LR, density=density, accumulation=accumulation)
        train = opt.minimize(loss)
        results = []
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for indices, values in steps:
                sess.run(train, {idx: indices, coef: values})
                buffer = sess.run(opt.get_slot(var, "g_buffer")) if accumulation else None
                results.append((sess.run(var), buffer))
    expected = init.astype(np.float64)
    acc = np.zeros_like(expected)
    for (indices, values), (got, buffer) in zip(steps, results):
        rows, summed = _dedup(indices, values.astype(np.float64))
        if accumulation:
            acc[rows] = summed  # scatter_update: the new rows overwrite the buffer's
            top = _top(acc, density)  # ranked over all the variable's rows
            expected[top] -= LR * acc[top]
            acc[top] = 0
            np.testing.assert_allclose(buffer, acc, rtol=1e-5, atol=1e-6)
        else:
            top = _top(summed, density)
            expected[rows[top]] -= LR * summed[top]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_dgc_signed_row_sum_ranking():
    # A row with a large negative gradient is not selected: ranking uses the signed sum.
    with tf.Graph().as_default():
        var = tf.Variable(np.zeros((4, 2), np.float32))
        grad = np.array([[-10, -10], [1, 0], [0.5, 0], [2, 1]], np.float32)
        train = DeepGradientCompressionOptimizer(1.0, density=0.5).apply_gradients([(tf.constant(grad), var)])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train)
            got = sess.run(var)
    np.testing.assert_allclose(got, [[0, 0], [-1, 0], [0, 0], [-2, -1]])


@pytest.mark.parametrize("accumulation", [False, True])
def test_dgc_low_rank_falls_back_to_sgd(accumulation):
    rng = np.random.default_rng(3)
    init = rng.normal(size=5).astype(np.float32)
    grad = rng.normal(size=5).astype(np.float32)
    with tf.Graph().as_default():
        vec = tf.Variable(init)
        scalar = tf.Variable(2.0)
        opt = DeepGradientCompressionOptimizer(LR, density=0.2, accumulation=accumulation)
        train = opt.apply_gradients([(tf.constant(grad), vec), (tf.constant(3.0), scalar)])
        assert opt.get_slot(vec, "g_buffer") is None
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train)
            got_vec, got_scalar = sess.run([vec, scalar])
    np.testing.assert_allclose(got_vec, init - LR * grad, rtol=1e-6)
    np.testing.assert_allclose(got_scalar, 2.0 - LR * 3.0, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# PruningOptimizer

N, UNITS = 8, 5


def _masked_linear_model(x, target, w_init, trainable):
    """loss = 0.5 * mean_n (sum_j x_nj m_j w_j - t_n)^2 with a MaskLayer on x."""
    layer = MaskLayer(name="mask")
    masked = layer(tf.constant(x))
    w = tf.Variable(w_init.reshape(UNITS, 1), trainable=trainable, name="w")
    out = tf.matmul(masked, w)[:, 0]
    loss = 0.5 * tf.reduce_mean(tf.square(out - tf.constant(target)))
    return layer, w, loss


class _NumpyPruner:
    """The reference: the Fisher signal of the masked linear model, pruned as the docstring says."""

    def __init__(self, x, target, w, decay, burn_in, prune_every, flops_target, lr):
        self.x, self.t, self.w = x.astype(np.float64), target.astype(np.float64), w.astype(np.float64)
        self.mask = np.ones(UNITS)
        self.signal = np.zeros(UNITS)
        self.count = 0
        self.decay, self.burn_in, self.every, self.target, self.lr = decay, burn_in, prune_every, flops_target, lr
        self.pruned = []

    def step(self):
        h = self.x * self.mask
        residual = h @ self.w - self.t
        per_example = residual[:, None] * self.x * self.w[None, :]  # N * d loss / d mask_extended
        fisher = 0.5 * np.mean(per_example**2, axis=0)
        self.signal = self.decay * self.signal + (1 - self.decay) * fisher
        self.count += 1
        cost = 2.0 * 1  # the mask feeds one MatMul with 1 output
        flops = 2.0 * UNITS * 1 * self.mask.mean()
        score = self.signal / (cost + 1e-6)
        score[self.mask == 0] = np.inf
        if self.mask.sum() <= 1:
            score[:] = np.inf
        due = self.count > self.burn_in and self.count % self.every == 0 and (not self.target or flops > self.target)
        if due and np.isfinite(score.min()):
            self.mask[np.argmin(score)] = 0
            self.pruned.append(int(np.argmin(score)))
        if self.lr is not None:
            self.w = self.w - self.lr * np.mean(residual[:, None] * h, axis=0)
        return flops


def _pruning_data():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(N, UNITS)).astype(np.float32) * np.array([1.0, 3.0, 0.2, 2.0, 0.6], np.float32)
    target = rng.normal(size=N).astype(np.float32)
    w = rng.normal(size=UNITS).astype(np.float32)
    return x, target, w


def test_pruning_order_burn_in_prune_every_flops_target_and_update_params():
    x, target, w_init = _pruning_data()
    burn_in, every, flops_target, decay, steps = 3, 2, 4, 0.5, 14
    reference = _NumpyPruner(x, target, w_init, decay, burn_in, every, flops_target, LR)
    with tf.Graph().as_default():
        layer, w, loss = _masked_linear_model(x, target, w_init, trainable=True)
        update = tf.train.GradientDescentOptimizer(LR).minimize(loss)
        opt = PruningOptimizer(0.5)
        train = opt.minimize(
            loss, prune_every=every, burn_in=burn_in, decay=decay, flops_target=flops_target, update_params=update
        )
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            masks = []
            for _ in range(steps):
                _, flops, cost = sess.run([train, opt.estimated_flops, opt.unit_costs[0]])
                expected_flops = reference.step()
                assert flops == pytest.approx(expected_flops)
                assert cost == pytest.approx(2.0)
                masks.append(sess.run(layer.mask))
                np.testing.assert_allclose(sess.run(opt.pruning_signals[0]), reference.signal, rtol=1e-4, atol=1e-7)
                np.testing.assert_allclose(masks[-1], reference.mask)
                np.testing.assert_allclose(sess.run(w)[:, 0], reference.w, rtol=1e-4, atol=1e-6)
            assert sess.run(opt.pruning_counter) == steps
    # Pruned at counts 4 and 6 (after burn-in 3, every 2); then flops 2 * 3 = 6 > 4: count 8 prunes
    # the third unit, flops reach 4 and pruning stops.
    pruned_at = [i + 1 for i in range(1, steps) if (masks[i] != masks[i - 1]).any()]
    assert pruned_at == [4, 6, 8]
    assert len(reference.pruned) == 3
    assert masks[-1].sum() == 2


def test_pruning_order_follows_smallest_signal_without_target():
    x, target, w_init = _pruning_data()
    reference = _NumpyPruner(x, target, w_init, decay=0.9, burn_in=0, prune_every=1, flops_target=0, lr=None)
    with tf.Graph().as_default():
        layer, _, loss = _masked_linear_model(x, target, w_init, trainable=False)
        opt = PruningOptimizer(0.5)
        train = opt.minimize(loss, prune_every=1, burn_in=0, decay=0.9, update_params=tf.no_op())
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            order = []
            for _ in range(6):
                before = sess.run(layer.mask)
                sess.run(train)
                reference.step()
                after = sess.run(layer.mask)
                order.extend(np.flatnonzero(before != after).tolist())
    assert order == reference.pruned
    assert len(order) == UNITS - 1  # the last active unit of a mask is kept


def test_pruning_costs_and_flops_of_two_layers():
    with tf.Graph().as_default():
        x = tf.constant(np.ones((4, 3), np.float32))
        mask1, mask2 = MaskLayer(name="m1"), MaskLayer(name="m2")
        w1 = tf.Variable(np.full((3, 5), 0.1, np.float32))
        w2 = tf.Variable(np.full((5, 1), 0.1, np.float32))
        hidden = tf.nn.relu(tf.nn.bias_add(tf.matmul(mask1(x), w1), tf.zeros([5])))
        loss = tf.reduce_mean(tf.matmul(mask2(hidden), w2))
        opt = PruningOptimizer(0.1)
        train = opt.minimize(loss, prune_every=1000, update_params=tf.no_op())
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            # mask1 feeds MatMul 3x5: a unit costs 2 * 5 (active outputs); mask2 is produced by it
            # (2 * 3) and feeds MatMul 5x1 (2 * 1). FLOPs = 2*3*5 + 2*5*1.
            costs, flops = sess.run([opt.unit_costs, opt.estimated_flops])
            np.testing.assert_allclose(costs, [10.0, 8.0])
            assert flops == pytest.approx(40.0)
            sess.run(mask2.mask.assign([1, 1, 0, 1, 0]))
            sess.run(mask1.mask.assign([1, 0, 1]))
            costs, flops = sess.run([opt.unit_costs, opt.estimated_flops])
            np.testing.assert_allclose(costs, [2 * 5 * 0.6, 2 * 3 * (2 / 3) + 2], rtol=1e-6)
            assert flops == pytest.approx(2 * 3 * 5 * (2 / 3) * 0.6 + 2 * 5 * 0.6)
            sess.run(train)


def test_pruning_without_update_params_trains_with_momentum():
    x, target, w_init = _pruning_data()
    with tf.Graph().as_default():
        _, w, loss = _masked_linear_model(x, target, w_init, trainable=True)
        opt = PruningOptimizer(LR, momentum=0.9)
        train = opt.minimize(loss, prune_every=100)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train)
            sess.run(train)
            got = sess.run(w)[:, 0]
    xs, t, w_ref = x.astype(np.float64), target.astype(np.float64), w_init.astype(np.float64)
    velocity = np.zeros(UNITS)
    for _ in range(2):
        grad = np.mean((xs @ w_ref - t)[:, None] * xs, axis=0)
        velocity = 0.9 * velocity + grad
        w_ref = w_ref - LR * velocity
    np.testing.assert_allclose(got, w_ref, rtol=1e-4)


def test_pruning_rejects_bad_arguments():
    with tf.Graph().as_default():
        loss = tf.reduce_sum(tf.Variable([1.0]))
        with pytest.raises(ValueError, match="Fisher"):
            PruningOptimizer(0.1).minimize(loss, method="Taylor")
        with pytest.raises(ValueError, match="flops_weight"):
            PruningOptimizer(0.1).minimize(loss, flops_weight="MANUAL")

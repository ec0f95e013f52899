"""twml.optimizers: LazyAdamOptimizer's sparse and dense updates, and optimize_loss (reference §11)."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml
from twml.learning_rate_decay import get_learning_rate_decay_fn
from twml.optimizers import OPTIMIZER_SUMMARIES, LazyAdamOptimizer, optimize_loss
from twml.util import HParams

INIT = np.arange(15, dtype=np.float32).reshape(5, 3) / 10.0
COEF = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0], [0.2, 0.4, -0.6]], np.float32)


def lazy_adam_numpy(var, grads_per_step, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8):
    """Contrib LazyAdam: m, v and var rows updated only where the step's gradient has rows."""
    var = var.astype(np.float64).copy()
    m = np.zeros_like(var)
    v = np.zeros_like(var)
    for t, (indices, values) in enumerate(grads_per_step, start=1):
        dense = np.zeros_like(var)
        np.add.at(dense, indices, values)
        rows = np.unique(indices)
        g = dense[rows]
        alpha = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        m[rows] = beta1 * m[rows] + (1 - beta1) * g
        v[rows] = beta2 * v[rows] + (1 - beta2) * g * g
        var[rows] -= alpha * m[rows] / (np.sqrt(v[rows]) + eps)
    return var, m, v


@pytest.mark.parametrize("use_resource", [True, False])
def test_lazy_adam_sparse_updates_only_present_rows(use_resource):
    indices = np.array([0, 2, 0], np.int32)  # a duplicate: its gradients are summed
    with tf.Graph().as_default():
        var = tf.get_variable("var", initializer=INIT, use_resource=use_resource)
        rows = tf.gather(var, indices)
        loss = tf.reduce_sum(rows * COEF)
        optimizer = LazyAdamOptimizer(learning_rate=0.1)
        grads_and_vars = optimizer.compute_gradients(loss, [var])
        assert isinstance(grads_and_vars[0][0], tf.IndexedSlices)
        train = optimizer.apply_gradients(grads_and_vars)
        m = optimizer.get_slot(var, "m")
        v = optimizer.get_slot(var, "v")
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            for _ in range(3):
                session.run(train)
            got_var, got_m, got_v = session.run([var, m, v])
    untouched = [1, 3, 4]
    np.testing.assert_array_equal(got_var[untouched], INIT[untouched])
    np.testing.assert_array_equal(got_m[untouched], 0.0)
    np.testing.assert_array_equal(got_v[untouched], 0.0)
    expected_var, expected_m, expected_v = lazy_adam_numpy(INIT, [(indices, COEF)] * 3)
    np.testing.assert_allclose(got_var, expected_var, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_m, expected_m, rtol=1e-5, atol=1e-7)
    # float32 1 - 0.999 is 0.0010000467: v is only accurate to about 5e-5.
    np.testing.assert_allclose(got_v, expected_v, rtol=1e-4, atol=1e-9)


def test_lazy_adam_sparse_rows_change_between_steps():
    """A row skipped by a step keeps its moments, unlike dense Adam; its bias correction advances."""
    with tf.Graph().as_default():
        var = tf.get_variable("var", initializer=INIT)
        index = tf.placeholder(tf.int32, [2])
        loss = tf.reduce_sum(tf.gather(var, index) * COEF[:2])
        train = LazyAdamOptimizer(learning_rate=0.05).minimize(loss)
        feeds = [np.array([0, 1], np.int32), np.array([3, 4], np.int32), np.array([1, 3], np.int32)]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            for feed in feeds:
                session.run(train, {index: feed})
            got = session.run(var)
    expected, _, _ = lazy_adam_numpy(INIT, [(f, COEF[:2]) for f in feeds], lr=0.05)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[2], INIT[2])


def test_lazy_adam_dense_equals_adam():
    def run(optimizer_cls):
        with tf.Graph().as_default():
            var = tf.get_variable("var", initializer=INIT[:3])
            loss = tf.reduce_sum(tf.square(tf.matmul(var, COEF) - 1.0))
            train = optimizer_cls(learning_rate=0.01, beta1=0.8, beta2=0.99, epsilon=1e-6).minimize(loss)
            with tf.Session() as session:
                session.run(tf.global_variables_initializer())
                for _ in range(5):
                    session.run(train)
                return session.run(var)

    lazy = run(LazyAdamOptimizer)
    np.testing.assert_array_equal(lazy, run(tf.train.AdamOptimizer))
    assert not np.array_equal(lazy, INIT[:3])


def regression_graph():
    """A linear regression: returns (loss, weight, global_step)."""
    rng = np.random.RandomState(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)
    weight = tf.get_variable("weight", [4, 1], initializer=tf.zeros_initializer())
    loss = tf.reduce_mean(tf.square(tf.matmul(tf.constant(x), weight) - y))
    return loss, weight, tf.train.get_or_create_global_step()


@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "Adagrad", "Momentum", "RMSProp", "Ftrl", "LazyAdam"])
def test_training_decreases_loss(optimizer):
    with tf.Graph().as_default():
        loss, _, global_step = regression_graph()
        train = optimize_loss(loss, global_step, 0.05, optimizer)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            first = session.run(loss)
            for _ in range(30):
                session.run(train)
            assert session.run(loss) < 0.8 * first
            assert session.run(global_step) == 30


@pytest.mark.parametrize(
    "make",
    [
        lambda: tf.train.GradientDescentOptimizer,
        lambda: tf.train.GradientDescentOptimizer(0.05),
        lambda: lambda lr: tf.train.GradientDescentOptimizer(lr),
    ],
)
def test_optimizer_as_class_instance_or_function(make):
    with tf.Graph().as_default():
        loss, _, global_step = regression_graph()
        train = optimize_loss(loss, global_step, 0.05, make(), increment_global_step=False)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            first = session.run(loss)
            for _ in range(10):
                session.run(train)
            assert session.run(loss) < first
            assert session.run(global_step) == 0


def test_float_learning_rate_is_a_variable():
    with tf.Graph().as_default():
        loss, _, global_step = regression_graph()
        optimize_loss(loss, global_step, 0.05, "SGD")
        names = [v.name for v in tf.global_variables()]
        assert "OptimizeLoss/learning_rate:0" in names
        assert "OptimizeLoss/learning_rate:0" not in [v.name for v in tf.trainable_variables()]


def one_sgd_step(**kwargs):
    """w starts at 0, loss = 100 * sum(w * [3, 4]): the gradient is [300, 400] (norm 500)."""
    with tf.Graph().as_default():
        weight = tf.get_variable("w", initializer=tf.zeros([2]))
        global_step = tf.train.get_or_create_global_step()
        loss = 100.0 * tf.reduce_sum(weight * tf.constant([3.0, 4.0]))
        kwargs.setdefault("learning_rate", 1.0)
        train = optimize_loss(loss, global_step, optimizer="SGD", **kwargs)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            session.run(train)
            return session.run(weight)


def test_unclipped_and_clipped_update():
    np.testing.assert_allclose(one_sgd_step(), [-300.0, -400.0])
    clipped = one_sgd_step(clip_gradients=1.0)
    np.testing.assert_allclose(np.linalg.norm(clipped), 1.0, rtol=1e-6)
    np.testing.assert_allclose(clipped, [-0.6, -0.8], rtol=1e-6)


def test_clip_gradients_function():
    def clip(grads_and_vars):
        return [(tf.clip_by_value(g, -2.0, 2.0), v) for g, v in grads_and_vars]

    np.testing.assert_allclose(one_sgd_step(clip_gradients=clip), [-2.0, -2.0])
    with pytest.raises(ValueError, match="clip_gradients"):
        one_sgd_step(clip_gradients="big")


def test_learning_rate_decay_fn_is_applied():
    seen = []

    def decay(lr, global_step):
        seen.append(global_step)
        return lr * 0.5

    np.testing.assert_allclose(one_sgd_step(learning_rate=0.01, learning_rate_decay_fn=decay), [-1.5, -2.0])
    assert len(seen) == 1


def test_twml_decay_fn_over_steps():
    params = HParams(learning_rate_decay="exponential_learning_rate_decay", decay_steps=1.0, exponential_decay_rate=0.5)
    with tf.Graph().as_default():
        weight = tf.get_variable("w", initializer=tf.zeros([]))
        global_step = tf.train.get_or_create_global_step()
        train = optimize_loss(
            weight, global_step, 1.0, "SGD", learning_rate_decay_fn=get_learning_rate_decay_fn(params)
        )
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            values = []
            for _ in range(4):
                session.run(train)
                values.append(session.run(weight))
    # The gradient is 1; the update at step s is 0.5 ** s.
    np.testing.assert_allclose(values, -np.cumsum([1.0, 0.5, 0.25, 0.125]), rtol=1e-6)


def test_gradient_multipliers_by_variable_and_name():
    with tf.Graph().as_default():
        a = tf.get_variable("a", initializer=tf.zeros([]))
        b = tf.get_variable("b", initializer=tf.zeros([]))
        global_step = tf.train.get_or_create_global_step()
        train = optimize_loss(a + b, global_step, 1.0, "SGD", gradient_multipliers={a: 3.0, "b:0": -2.0})
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            session.run(train)
            np.testing.assert_allclose(session.run([a, b]), [-3.0, 2.0])


def test_gradient_noise_changes_the_update():
    tf.set_random_seed(1)
    noisy = one_sgd_step(learning_rate=1.0, gradient_noise_scale=1.0)
    assert not np.allclose(noisy, [-300.0, -400.0])
    np.testing.assert_allclose(noisy, [-300.0, -400.0], atol=2.5)  # truncated normal: |noise| < 2


def test_update_ops_run_before_the_loss():
    with tf.Graph().as_default():
        counter = tf.get_variable("counter", initializer=0.0, trainable=False)
        tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, tf.assign_add(counter, 1.0))
        loss, _, global_step = regression_graph()
        train = optimize_loss(loss, global_step, 0.01, "SGD")
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            session.run(train)
            session.run(train)
            assert session.run(counter) == 2.0


def test_summaries_are_created():
    with tf.Graph().as_default():
        loss, _, global_step = regression_graph()
        optimize_loss(
            loss,
            global_step,
            0.1,
            "Adam",
            summaries=OPTIMIZER_SUMMARIES,
            clip_gradients=1.0,
            learning_rate_decay_fn=lambda lr, step: lr * 0.9,
            name="optim",
        )
        names = {t.op.name for t in tf.get_collection(tf.GraphKeys.SUMMARIES)}
    # The learning-rate variable already holds the name optim/learning_rate: its summary is made unique.
    assert "optim/learning_rate_1" in names, names
    expected = {
        "optim/loss",
        "optim/gradients/weight_0",
        "optim/gradient_norm/weight_0",
        "optim/global_norm/gradient_norm",
        "optim/global_norm/clipped_gradient_norm",
    }
    assert expected <= names, names
    with tf.Graph().as_default():
        loss, _, global_step = regression_graph()
        optimize_loss(loss, global_step, 0.1, "SGD", summaries=["loss"])
        assert {t.op.name for t in tf.get_collection(tf.GraphKeys.SUMMARIES)} == {"OptimizeLoss/loss"}
        merged = tf.summary.merge_all()
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            assert session.run(merged)


def test_optimizer_summaries_list():
    assert OPTIMIZER_SUMMARIES == ["learning_rate", "loss", "gradients", "gradient_norm", "global_gradient_norm"]
    assert twml.optimizers.optimize_loss is optimize_loss
    assert twml.optimizers.LazyAdamOptimizer is LazyAdamOptimizer


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(optimizer="Adamax"), "Optimizer name should be one of .*Adam.*Adamax"),
        (dict(optimizer=42), "Unrecognized optimizer"),
        (dict(optimizer=lambda lr: "not an optimizer"), "should return subclass of Optimizer"),
        (dict(optimizer="SGD", summaries=["weights"]), "Summaries should be one of"),
        (dict(optimizer="SGD", learning_rate=-1.0), "Invalid learning_rate"),
        (dict(optimizer="SGD", learning_rate="fast"), "Learning rate should be 0d Tensor or float"),
        (dict(optimizer="SGD", learning_rate=None), "Learning rate is None"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    kwargs.setdefault("learning_rate", 0.1)
    with tf.Graph().as_default():
        loss, _, global_step = regression_graph()
        with pytest.raises(ValueError, match=message):
            optimize_loss(loss, global_step, **kwargs)

"""twml.learning_rate_decay: every decay of reference §11 against a closed-form numpy value."""

import argparse
import math

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml
from twml.learning_rate_decay import get_learning_rate_decay_fn
from twml.util import HParams

LR = 0.1
STEPS = [0, 1, 7, 50, 99, 100, 101, 250, 1000]


def run_decay(params, lr=LR, steps=STEPS):
    fn = get_learning_rate_decay_fn(params)
    assert callable(fn)
    with tf.Graph().as_default():
        step = tf.placeholder(tf.int64, [])
        value = fn(tf.constant(lr, tf.float32), step)
        with tf.Session() as session:
            return np.array([session.run(value, {step: s}) for s in steps], np.float64)


def check(params, expected):
    np.testing.assert_allclose(run_decay(params), [expected(s) for s in STEPS], rtol=1e-5, atol=1e-8)


def test_no_decay_is_none():
    assert get_learning_rate_decay_fn(HParams(learning_rate_decay="no_learning_rate_decay")) is None
    assert get_learning_rate_decay_fn(HParams(learning_rate=0.1)) is None
    assert get_learning_rate_decay_fn({}) is None


def test_exponential_is_continuous():
    params = HParams(
        learning_rate_decay="exponential_learning_rate_decay", decay_steps=100.0, exponential_decay_rate=0.5
    )
    check(params, lambda s: LR * 0.5 ** (s / 100.0))


@pytest.mark.parametrize("power", [None, 2.0, 0.0001])
def test_polynomial(power):
    values = dict(learning_rate_decay="polynomial_learning_rate_decay", decay_steps=100.0, end_learning_rate=0.001)
    if power is not None:
        values["polynomial_power"] = power
    p = 1.0 if power is None else power
    check(HParams(**values), lambda s: (LR - 0.001) * (1 - min(s, 100) / 100.0) ** p + 0.001)


def test_piecewise_constant_ignores_learning_rate():
    params = argparse.Namespace(
        learning_rate_decay="piecewise_constant_learning_rate_decay",
        piecewise_constant_boundaries=[50, 100],
        piecewise_constant_values=[1.0, 0.5, 0.25],
    )
    check(params, lambda s: 1.0 if s <= 50 else (0.5 if s <= 100 else 0.25))


def test_inverse_has_no_floor_but_a_minimum():
    params = {
        "learning_rate_decay": "inverse_learning_rate_decay",
        "decay_rate": 0.5,
        "decay_steps": 10.0,
        "min_learning_rate": 0.005,
    }
    # Continuous (no staircase): step 7 decays already; the minimum bounds it from below.
    check(params, lambda s: max(LR / (1 + 0.5 * s / 10.0), 0.005))
    assert run_decay(params, steps=[7])[0] < LR


def test_cosine():
    params = HParams(learning_rate_decay="cosine_learning_rate_decay", decay_steps=100.0, alpha=0.1)

    def expected(s):
        cosine = 0.5 * (1 + math.cos(math.pi * min(s, 100) / 100.0))
        return LR * ((1 - 0.1) * cosine + 0.1)

    check(params, expected)


@pytest.mark.parametrize("t_mul,m_mul", [(2.0, 1.0), (1.0, 0.5), (2.0, 0.5)])
def test_cosine_restarts(t_mul, m_mul):
    params = HParams(
        learning_rate_decay="cosine_restarts_learning_rate_decay",
        first_decay_steps=40.0,
        alpha=0.0,
        t_mul=t_mul,
        m_mul=m_mul,
    )

    def expected(s):
        fraction = s / 40.0
        if t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            restart = math.floor(math.log(1 - fraction * (1 - t_mul)) / math.log(t_mul))
            done = (1 - t_mul**restart) / (1 - t_mul)
            fraction = (fraction - done) / t_mul**restart
        return LR * 0.5 * m_mul**restart * (1 + math.cos(math.pi * fraction))

    check(params, expected)


@pytest.mark.parametrize(
    "values,missing",
    [
        (dict(learning_rate_decay="exponential_learning_rate_decay", decay_steps=1.0), "exponential_decay_rate"),
        (dict(learning_rate_decay="polynomial_learning_rate_decay", decay_steps=1.0), "end_learning_rate"),
        (
            dict(learning_rate_decay="piecewise_constant_learning_rate_decay", piecewise_constant_values=[1.0]),
            "piecewise_constant_boundaries",
        ),
        (dict(learning_rate_decay="inverse_learning_rate_decay", decay_rate=0.1, decay_steps=1.0), "min_learning_rate"),
        (dict(learning_rate_decay="cosine_learning_rate_decay", alpha=0.0), "decay_steps"),
        (
            dict(
                learning_rate_decay="cosine_restarts_learning_rate_decay", first_decay_steps=1.0, alpha=0.0, t_mul=2.0
            ),
            "m_mul",
        ),
        (
            dict(learning_rate_decay="exponential_learning_rate_decay", decay_steps=None, exponential_decay_rate=0.5),
            "decay_steps",
        ),
    ],
)
def test_missing_param_raises(values, missing):
    with pytest.raises(ValueError, match=missing):
        get_learning_rate_decay_fn(HParams(**values))


def test_unknown_decay_raises():
    with pytest.raises(ValueError, match="Unsupported"):
        get_learning_rate_decay_fn(HParams(learning_rate_decay="linear_decay"))


def test_exported_from_twml():
    assert twml.learning_rate_decay.get_learning_rate_decay_fn is get_learning_rate_decay_fn

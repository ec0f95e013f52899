"""Small names of the original's surface against hand-computed values: twml.metrics.ce and
PERCENTILES, twml.trainers.trainer.init_from_checkpoint on a checkpoint written here, and
twml.argument_parser's DefaultSubcommandArgParse, SortingHelpFormatter and LOG_LEVELS."""

import logging

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml
from twml import argument_parser
from twml.trainers.trainer import init_from_checkpoint


def test_ce_is_the_unclipped_binary_cross_entropy():
    p_true = np.array([0.0, 0.25, 0.5, 1.0, 0.9], np.float64)
    p_est = np.array([0.1, 0.5, 0.5, 0.8, 0.3], np.float64)
    with tf.Graph().as_default():
        with tf.Session() as session:
            cross, entropy = session.run([twml.metrics.ce(p_true, p_est), twml.metrics.ce(p_true)])
            saturated = session.run(twml.metrics.ce(tf.constant([1.0]), tf.constant([0.0])))
    np.testing.assert_allclose(cross, -(p_true * np.log(p_est) + (1 - p_true) * np.log(1 - p_est)), rtol=1e-12)
    # entropy of a Bernoulli(p): 0 at p = 0 and 1, ln 2 at 1/2
    np.testing.assert_allclose(
        entropy[[1, 2, 4]],
        [-(0.25 * np.log(0.25) + 0.75 * np.log(0.75)), np.log(2), -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))],
        rtol=1e-12,
    )
    assert np.isinf(saturated[0])  # no clipping
    np.testing.assert_array_equal(twml.metrics.PERCENTILES, np.arange(101, dtype=np.float32) / np.float32(100))
    assert twml.metrics.PERCENTILES.dtype == np.float32


def test_init_from_checkpoint_loads_the_mapped_variables(tmp_path):
    prefix = str(tmp_path / "ckpt" / "model")
    with tf.Graph().as_default():
        tf.get_variable("old/w", initializer=np.array([[1.0, 2.0]], np.float32))
        tf.get_variable("old/b", initializer=np.array([5.0], np.float32))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, prefix)
    with tf.Graph().as_default():
        w = tf.get_variable("new/w", shape=[1, 2], initializer=tf.zeros_initializer())
        b = tf.get_variable("new/b", shape=[1], initializer=tf.zeros_initializer())
        other = tf.get_variable("other", shape=[1], initializer=tf.ones_initializer())
        init_from_checkpoint(str(tmp_path / "ckpt"), {"old/w": "new/w"})
        init_from_checkpoint(None, {"old/b": "new/b"})  # a falsy directory does nothing
        init_from_checkpoint("", {"old/b": "new/b"})
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            values = session.run([w, b, other])
    np.testing.assert_array_equal(values[0], [[1.0, 2.0]])
    np.testing.assert_array_equal(values[1], [0.0])
    np.testing.assert_array_equal(values[2], [1.0])


def subcommand_parser():
    parser = argument_parser.DefaultSubcommandArgParse(prog="job", formatter_class=argument_parser.SortingHelpFormatter)
    parser.add_argument("--zeta", type=int, default=0)
    parser.add_argument("--alpha", type=int, default=0)
    parser.add_argument("--middle", type=int, default=0)
    subparsers = parser.add_subparsers(dest="decay")
    subparsers.add_parser("no_learning_rate_decay")
    exponential = subparsers.add_parser("exponential_learning_rate_decay")
    exponential.add_argument("--decay_steps", type=int, default=10)
    return parser


def test_default_subcommand_and_sorted_help(capsys):
    parser = subcommand_parser()
    assert parser.parse_args(["--alpha", "3"]).decay == "no_learning_rate_decay"  # appended
    given = parser.parse_args(["--alpha", "3", "exponential_learning_rate_decay", "--decay_steps", "7"])
    assert (given.decay, given.alpha, given.decay_steps) == ("exponential_learning_rate_decay", 3, 7)
    parser.set_default_subparser("exponential_learning_rate_decay")
    assert parser.parse_args([]).decay == "exponential_learning_rate_decay"
    listed = [line.split()[0] for line in parser.format_help().splitlines() if line.startswith("  -")]
    assert listed == ["--alpha", "--middle", "--zeta", "-h,"]  # sorted by option strings (["-h", "--help"] last)
    # a trainer flag after the sub-command: the error explains the ordering
    with pytest.raises(SystemExit) as caught:
        subcommand_parser().parse_args(["exponential_learning_rate_decay", "--zeta", "1"])
    assert caught.value.code == 2
    assert "must come AFTER all the other optional arguments" in capsys.readouterr().err


def test_log_levels():
    assert argument_parser.LOG_LEVELS == {
        "debug": logging.DEBUG,
        "info": logging.INFO,
        "warn": logging.WARNING,
        "error": logging.ERROR,
    }
    assert twml.LOG_LEVELS is argument_parser.LOG_LEVELS
    assert (argument_parser.SERIAL, argument_parser.TREE) == ("serial", "tree")

"""twml.console: each message once, TensorFlow's deprecation notices only with --verbose; the training
progress line (format, cadence, loss) and the evaluation line, once each in a Trainer's run, without
tf.estimator's own progress lines."""

import io
import logging
import re

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from twml import console
from twml.trainers import Trainer

DEPRECATION = (
    "From /x.py:1: load (from tensorflow.python.saved_model.loader_impl) is deprecated and will be "
    "removed in a future version.\nInstructions for updating:\nUse `tf.saved_model.load` instead."
)


@pytest.fixture(autouse=True)
def restore_logging():
    root, tf_logger, absl = logging.getLogger(), logging.getLogger("tensorflow"), logging.getLogger("absl")
    saved = (
        list(root.handlers),
        root.level,
        list(tf_logger.handlers),
        tf_logger.level,
        tf_logger.propagate,
        absl.level,
    )
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    tf_logger.handlers[:], tf_logger.level, tf_logger.propagate = saved[2], saved[3], saved[4]
    absl.setLevel(saved[5])


def lines_after(verbose):
    stream = io.StringIO()
    tf.get_logger()  # TensorFlow installs its own handler on first use
    console.configure(verbose=verbose, stream=stream)
    console.configure(verbose=verbose, stream=stream)  # twice: still one handler
    logging.getLogger("twml.example").info("exported to /models/1")
    tf.get_logger().warning(DEPRECATION)
    tf.get_logger().warning("a TensorFlow warning worth reading")
    tf.get_logger().info("Calling model_fn.")
    tf.get_logger().warning("Export includes no default signature!")
    logging.getLogger("absl").info("Exported TF-Hub module to: /models/.staging")
    return stream.getvalue().splitlines()


def test_each_message_once_and_no_deprecation_notices():
    lines = lines_after(verbose=False)
    assert [line.split(": ", 1)[1] for line in lines] == ["exported to /models/1", "a TensorFlow warning worth reading"]


def test_verbose_brings_them_back():
    text = "\n".join(lines_after(verbose=True))
    assert text.count("is deprecated and will be removed") == 1
    assert text.count("a TensorFlow warning worth reading") == 1
    assert text.count("Calling model_fn.") == 1
    assert text.count("Export includes no default signature!") == 1
    assert text.count("Exported TF-Hub module") == 1


# ---------------------------------------------------------------- ProgressHook

PROGRESS = re.compile(r"^step (\d+)(?:/(\d+))?(?:, ([0-9.]+) steps/s)?(?:, loss (\S+))?$")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def quadratic_graph():
    """Gradient descent on (w - 3)^2 from w = 0 with learning rate 0.1: the loss of step k (computed
    before its update) is 9 * 0.64^k."""
    global_step = tf.train.get_or_create_global_step()
    w = tf.Variable(0.0)
    loss = tf.square(w - 3.0)
    train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=global_step)
    return loss, train_op


def progress_lines(steps, on_step=None, **hook_args):
    """Runs ``steps`` steps of the quadratic graph with a ProgressHook; returns its log lines."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger(console.TRAINING_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with tf.Graph().as_default():
            loss, train_op = quadratic_graph()
            hook_args.setdefault("loss", loss)
            with tf.train.SingularMonitoredSession(hooks=[console.ProgressHook(**hook_args)]) as session:
                for _ in range(steps):
                    if on_step is not None:
                        on_step()
                    session.run(train_op)
    finally:
        logger.removeHandler(handler)
    assert all(record.levelno == logging.INFO for record in records)
    return [record.getMessage() for record in records]


def parsed(line):
    match = PROGRESS.match(line)
    assert match, line
    step, last, rate, loss = match.groups()
    return int(step), last and int(last), rate and float(rate), loss and float(loss)


def test_progress_every_n_steps_and_at_the_end():
    lines = progress_lines(25, every_n_steps=10, last_step=25)
    assert [parsed(line)[0] for line in lines] == [10, 20, 25]  # the end adds the last partial interval
    assert all(parsed(line)[1] == 25 for line in lines)
    # The loss is the mean over the steps since the previous line.
    expected = [np.mean([9 * 0.64**k for k in range(a, b)]) for a, b in ((0, 10), (10, 20), (20, 25))]
    assert [parsed(line)[3] for line in lines] == pytest.approx(expected, rel=1e-3)
    assert all(parsed(line)[2] > 0 for line in lines)


def test_progress_every_n_secs_with_the_rate_since_the_previous_line():
    clock = FakeClock()

    def tick():
        clock.now += 0.4  # each step takes 0.4 s: a line every third step, 2.5 steps/s

    lines = progress_lines(9, on_step=tick, every_n_secs=1.0, clock=clock)
    assert lines == [
        "step 3, 2.5 steps/s, loss %s" % console._format_value(np.mean([9 * 0.64**k for k in range(0, 3)])),
        "step 6, 2.5 steps/s, loss %s" % console._format_value(np.mean([9 * 0.64**k for k in range(3, 6)])),
        "step 9, 2.5 steps/s, loss %s" % console._format_value(np.mean([9 * 0.64**k for k in range(6, 9)])),
    ]  # nothing left for the end to report


def test_progress_default_cadence_is_30_seconds():
    clock = FakeClock()

    def tick():
        clock.now += 7.0

    assert [parsed(line)[0] for line in progress_lines(10, on_step=tick, clock=clock)] == [5, 10]


def test_progress_without_a_loss_of_this_graph():
    (line,) = progress_lines(3, loss=None)  # the default 30 s: the end's line only
    assert PROGRESS.match(line) and "loss" not in line
    with tf.Graph().as_default():
        other = tf.constant(1.0)
    assert "loss" not in progress_lines(3, loss=lambda: other)[0]  # a callable is resolved at begin


def test_progress_rejects_bad_cadences():
    with pytest.raises(ValueError, match="at most one"):
        console.ProgressHook(every_n_secs=1, every_n_steps=1)
    with pytest.raises(ValueError, match="positive"):
        console.ProgressHook(every_n_steps=0)


# ---------------------------------------------------------------- a Trainer's console


def tiny_graph(features, label, mode, params, config=None):
    w = tf.get_variable("w", [1, 1], initializer=tf.zeros_initializer())
    logits = tf.matmul(features["x"], w)
    output = tf.sigmoid(logits)
    if mode == tf.estimator.ModeKeys.PREDICT:
        return {"output": output}
    return {"output": output, "loss": tf.losses.sigmoid_cross_entropy(label, logits)}


def tiny_input_fn():
    x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(-1, 1)
    dataset = tf.data.Dataset.from_tensor_slices(({"x": x}, (x > 0).astype(np.float32)))
    return dataset.repeat().batch(8)


def metric_fn(graph_output, labels, weights):
    return {"mean_output": tf.metrics.mean(graph_output["output"])}


def test_a_trainers_run_prints_each_line_once_even_verbose(tmp_path, monkeypatch):
    monkeypatch.setenv("TWML_EXPERIMENT_DB", str(tmp_path / "experiments.sqlite"))
    stream = io.StringIO()
    console.configure(verbose=True, stream=stream)  # TensorFlow's INFO lines on: none repeats twml's
    trainer = Trainer(
        "tiny",
        {"train_batch_size": 8, "save_dir": str(tmp_path / "model"), "train_max_steps": 30},
        tiny_graph,
        metric_fn=metric_fn,
    )
    trainer.learn(tiny_input_fn, tiny_input_fn, train_max_steps=30, train_steps=15, eval_steps=2)
    lines = stream.getvalue().splitlines()
    progress = [line.split(": ", 1)[1] for line in lines if " twml.training: " in line]
    evaluations = [line.split(": ", 1)[1] for line in lines if " twml.evaluation: " in line]
    # One line per train() call (its steps took less than 30 s), one per evaluation.
    assert [parsed(line)[:2] for line in progress] == [(15, 30), (30, 30)]
    assert len(evaluations) == 2
    assert re.match(r"^evaluation at step 15: loss [0-9.]+, mean_output [0-9.]+$", evaluations[0]), evaluations[0]
    assert evaluations[1].startswith("evaluation at step 30: ")
    # tf.estimator's LoggingTensorHook and StepCounterHook lines are off.
    assert not [line for line in lines if re.search(r"loss = \S+, step = \d+|global_step/sec", line)]
    assert "Calling model_fn." in stream.getvalue()  # verbose: TensorFlow's INFO lines are there


def constant_metric_fn(graph_output, labels, weights):
    return {"constant": tf.metrics.mean(tf.constant(1.0))}


def test_train_and_evaluate_names_its_early_stop_once(tmp_path, monkeypatch):
    monkeypatch.setenv("TWML_EXPERIMENT_DB", str(tmp_path / "experiments.sqlite"))
    monkeypatch.delenv("TF_CONFIG", raising=False)
    stream = io.StringIO()
    console.configure(stream=stream)
    params = {"train_batch_size": 8, "save_dir": str(tmp_path / "model"), "save_checkpoints_steps": 10}
    trainer = Trainer("tiny", params, tiny_graph, metric_fn=constant_metric_fn)
    # The metric never improves on its first value: patience 1 stops training at the second evaluation.
    trainer.train_and_evaluate(
        tiny_input_fn,
        tiny_input_fn,
        train_max_steps=200,
        eval_steps=1,
        eval_delay=0,
        eval_period=0,
        early_stop_metric="constant",
        early_stop_patience=1,
        early_stop_minimize=False,
    )
    lines = [line.split(" ", 3)[3] for line in stream.getvalue().splitlines()]
    stop = "twml.trainers.trainer: early stopping: constant did not improve for 1 evaluations (best 1)"
    assert lines.count(stop) == 1
    evaluations = [line for line in lines if line.startswith("twml.evaluation: ")]
    assert [line.split(":")[1] for line in evaluations] == [" evaluation at step 10", " evaluation at step 20"]
    (progress,) = [line for line in lines if line.startswith("twml.training: ")]
    assert parsed(progress.split(": ", 1)[1])[0] >= 20

"""twml.hooks and twml.contrib.hooks in real MonitoredSessions / a tiny Estimator, with real checkpoints."""

import datetime
import functools
import importlib
import importlib.util
import json
import os
import time

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import twml  # noqa: F401  (graph mode)
from twml.errors import EarlyStopError
from twml.hooks import (
    EarlyStopDuration,
    EarlyStopHook,
    GetMetricsHook,
    MetricsUpdateHook,
    StepProgressHook,
    StopAtStepHook,
    StopIfExistsHook,
)

METRIC = "my_metric"


def import_contrib(name, relative_path):
    """Imports a twml.contrib module; falls back to its source file when //twml/contrib is not a dep.

    The //twml:*_test targets depend on //twml only, whose glob stops at the twml/contrib package;
    the file is then loaded from the source tree that the runfiles symlink into.
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        root = os.path.dirname(os.path.realpath(twml.__file__))
        spec = importlib.util.spec_from_file_location(
            "_local_" + name.replace(".", "_"), os.path.join(root, relative_path)
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


_contrib = import_contrib("twml.contrib.hooks", "contrib/hooks.py")
StopAtTimeHook = _contrib.StopAtTimeHook


def save_checkpoint(model_dir, step):
    """Writes model_dir/model.ckpt-<step> whose variable ``w`` equals ``step``."""
    with tf.Graph().as_default():
        global_step = tf.train.get_or_create_global_step()
        w = tf.get_variable("w", [], tf.float32)
        with tf.Session() as session:
            session.run([global_step.assign(step), w.assign(float(step))])
            tf.train.Saver().save(session, os.path.join(model_dir, "model.ckpt"), global_step=step)


def checkpoint_w(directory):
    prefix = tf.train.latest_checkpoint(directory)
    return prefix, float(tf.train.load_variable(prefix, "w"))


class SpecHolder:
    """What the trainer's ``lambda: trainer.current_estimator_spec`` reads: the last spec built."""

    spec = None


def evaluate(hook, value):
    """One 'evaluation': a session whose eval metric (a mean of ``value``) the hook reads at end()."""
    with tf.Graph().as_default():
        tf.train.get_or_create_global_step()
        value_op, update_op = tf.metrics.mean(tf.constant(value, tf.float32))
        other = tf.metrics.mean(tf.constant(-1.0))
        hook.holder.spec = tf.estimator.EstimatorSpec(
            mode=tf.estimator.ModeKeys.EVAL,
            loss=tf.constant(0.0),
            eval_metric_ops={METRIC: (value_op, update_op), "other": other},
        )
        with tf.train.MonitoredSession(hooks=[hook]) as session:
            session.run([update_op, other[1]])


def early_stop_hook(model_dir, metric=METRIC, patience=3, minimize=True, **kwargs):
    holder = SpecHolder()
    hook = EarlyStopHook(
        metric=metric,
        patience=patience,
        minimize=minimize,
        get_estimator_spec_fn=lambda: holder.spec,
        checkpoint_dir=model_dir,
        **kwargs,
    )
    hook.holder = holder
    return hook


def test_early_stop_hook_keeps_best_checkpoint_and_stops_after_patience(tmp_path):
    model_dir = str(tmp_path)
    stop_file = os.path.join(model_dir, "earlystop_now.txt")
    with open(stop_file, "w") as f:
        f.write("stale")
    hook = early_stop_hook(model_dir, patience=3, file_path=stop_file, exit_on_end=True)
    assert not os.path.exists(stop_file), "an existing stop file is deleted at construction"
    assert hook.best_value == np.inf

    values = [0.5, 0.4, 0.45, 0.42, 0.41]
    best_step = {1: 1, 2: 2, 3: 2, 4: 2}
    patience_left = {1: 3, 2: 3, 3: 2, 4: 1}
    for step, value in enumerate(values[:4], start=1):
        save_checkpoint(model_dir, step)
        evaluate(hook, value)
        # the evaluated checkpoint is backed up at begin()
        assert checkpoint_w(os.path.join(model_dir, "eval_checkpoint"))[1] == step
        prefix, w = checkpoint_w(os.path.join(model_dir, "best_checkpoint"))
        assert w == best_step[step] and prefix.endswith("model.ckpt-%d" % best_step[step])
        assert hook.current_patience == patience_left[step] and not hook.should_stop
        assert hook.best_value == pytest.approx(min(values[:step]))
        with open(os.path.join(model_dir, "best_checkpoint", METRIC)) as f:
            assert f.read() == "%.8f" % np.float32(min(values[:step]))
    # only one checkpoint is kept in best_checkpoint
    assert len(tf.io.gfile.glob(os.path.join(model_dir, "best_checkpoint", "*.index"))) == 1

    save_checkpoint(model_dir, 5)
    with pytest.raises(EarlyStopError):
        evaluate(hook, values[4])
    assert hook.should_stop
    with open(stop_file) as f:
        assert f.read() == "early-stop\n"
    assert checkpoint_w(os.path.join(model_dir, "best_checkpoint"))[1] == 2


def test_early_stop_hook_maximize_without_file_only_sets_should_stop(tmp_path):
    model_dir = str(tmp_path)
    hook = early_stop_hook(model_dir, patience=1, minimize=False, exit_on_end=True)
    assert hook.best_value == -np.inf
    save_checkpoint(model_dir, 1)
    evaluate(hook, 0.7)
    save_checkpoint(model_dir, 2)
    evaluate(hook, 0.7)  # equal is not better
    assert hook.should_stop and hook.best_value == pytest.approx(0.7)
    assert checkpoint_w(os.path.join(model_dir, "best_checkpoint"))[1] == 1


@pytest.mark.parametrize(
    "minimize,restored,tolerance,worse,better,expected_start",
    [
        (True, 0.5, 0.1, 0.45, 0.39, 0.4),
        (False, 0.5, 0.1, 0.55, 0.61, 0.6),
    ],
)
def test_early_stop_hook_tolerance_applies_only_to_restored_best(
    tmp_path, minimize, restored, tolerance, worse, better, expected_start
):
    model_dir = str(tmp_path)
    os.makedirs(os.path.join(model_dir, "best_checkpoint"))
    with open(os.path.join(model_dir, "best_checkpoint", METRIC), "w") as f:
        f.write("%.8f" % restored)
    hook = early_stop_hook(model_dir, patience=5, minimize=minimize, tolerance=tolerance)
    assert hook.best_value == pytest.approx(expected_start)

    save_checkpoint(model_dir, 1)
    evaluate(hook, worse)  # better than the restored value itself, but not by the tolerance
    assert hook.current_patience == 4 and hook.best_value == pytest.approx(expected_start)
    assert tf.train.latest_checkpoint(os.path.join(model_dir, "best_checkpoint")) is None

    save_checkpoint(model_dir, 2)
    evaluate(hook, better)
    # the new best is the metric itself: no tolerance on values found in this run
    assert hook.best_value == pytest.approx(np.float32(better)) and hook.current_patience == 5
    assert checkpoint_w(os.path.join(model_dir, "best_checkpoint"))[1] == 2

    save_checkpoint(model_dir, 3)
    slightly = better - 1e-3 if minimize else better + 1e-3
    evaluate(hook, slightly)
    assert hook.best_value == pytest.approx(np.float32(slightly))
    assert checkpoint_w(os.path.join(model_dir, "best_checkpoint"))[1] == 3


def test_early_stop_hook_unknown_metric(tmp_path):
    save_checkpoint(str(tmp_path), 1)
    hook = early_stop_hook(str(tmp_path), metric="nope")
    with pytest.raises(ValueError, match="nope"):
        evaluate(hook, 1.0)


def test_early_stop_hook_in_estimator_train_evaluate_loop(tmp_path):
    """The trainer's usage: get_estimator_spec_fn returns the spec the model_fn last built."""
    model_dir = str(tmp_path / "model")
    metric_values = iter([3.0, 1.0, 2.0, 2.5])
    state = {}

    def model_fn(features, labels, mode, params):
        w = tf.get_variable("w", [], tf.float32, initializer=tf.zeros_initializer())
        loss = tf.reduce_mean(tf.square(features["x"] * w - labels))
        train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss, tf.train.get_global_step())
        eval_metric_ops = None
        if mode == tf.estimator.ModeKeys.EVAL:
            eval_metric_ops = {METRIC: tf.metrics.mean(tf.constant(next(metric_values)))}
        state["spec"] = tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops=eval_metric_ops)
        return state["spec"]

    def input_fn():
        return tf.data.Dataset.from_tensors(({"x": tf.ones([4])}, tf.ones([4]) * 2)).repeat(2)

    # the default config checkpoints at the end of every train() call
    estimator = tf.estimator.Estimator(model_fn, model_dir=model_dir)
    hook = EarlyStopHook(
        METRIC,
        patience=2,
        minimize=True,
        get_estimator_spec_fn=lambda: state["spec"],
        checkpoint_dir=model_dir,
        exit_on_end=False,
    )
    epochs = 0
    while not hook.should_stop:
        estimator.train(input_fn, steps=1)
        estimator.evaluate(input_fn, steps=1, hooks=[hook])
        epochs += 1
    assert epochs == 4
    prefix = tf.train.latest_checkpoint(os.path.join(model_dir, "best_checkpoint"))
    assert prefix.endswith("model.ckpt-2")
    np.testing.assert_allclose(
        tf.train.load_variable(prefix, "w"), tf.train.load_variable(os.path.join(model_dir, "model.ckpt-2"), "w")
    )
    assert hook.best_value == 1.0


# --- stop hooks ---------------------------------------------------------------------------------------


def step_graph():
    global_step = tf.train.get_or_create_global_step()
    return tf.assign_add(global_step, 1)


def run_until_stop(hooks, train_op, max_runs=1000, sleep=0.0, before_each=None):
    runs = 0
    with tf.train.MonitoredSession(hooks=hooks) as session:
        while not session.should_stop() and runs < max_runs:
            if before_each is not None:
                before_each(runs)
            session.run(train_op)
            runs += 1
            if sleep:
                time.sleep(sleep)
    return runs


def test_stop_at_step_hook_records_its_stop():
    with tf.Graph().as_default():
        train_op = step_graph()
        hook = StopAtStepHook(last_step=5)
        assert not hook.stop_requested
        assert run_until_stop([hook], train_op) == 5
        assert hook.stop_requested


def test_stop_at_step_hook_ignores_other_hooks_stops(tmp_path):
    path = str(tmp_path / "stop")
    open(path, "w").close()
    with tf.Graph().as_default():
        train_op = step_graph()
        own = StopAtStepHook(num_steps=100)
        other = StopIfExistsHook(path)
        assert run_until_stop([other, own], train_op) == 1
        assert other.stop_requested and not own.stop_requested


def test_stop_if_exists_hook(tmp_path):
    path = str(tmp_path / "stop_now")

    def create_at_third(run):
        if run == 2:
            with open(path, "w") as f:
                f.write("early-stop\n")

    with tf.Graph().as_default():
        train_op = step_graph()
        hook = StopIfExistsHook(path)
        assert run_until_stop([hook], train_op, before_each=create_at_third) == 3
        assert hook.stop_requested


def test_early_stop_duration_stops_and_survives_restarts(tmp_path):
    save_dir = str(tmp_path)
    path = os.path.join(save_dir, "early_stop_duration.txt")
    with tf.Graph().as_default():
        train_op = step_graph()
        hook = EarlyStopDuration(max_duration=0.3, exit_on_end=False, save_dir=save_dir, overwrite=True)
        start = time.time()
        runs = run_until_stop([hook], train_op, sleep=0.02)
        took = time.time() - start
        assert hook.should_stop and 0.3 <= took < 5 and runs >= 5
        with open(path) as f:
            saved = json.load(f)
        assert saved["max_duration"] == 0.3 and 0.3 < saved["elapsed_time"] <= took

        # a restarted job reads the elapsed time and stops at once; exit_on_end raises
        restarted = EarlyStopDuration(max_duration=0.3, exit_on_end=True, save_dir=save_dir, overwrite=False)
        assert restarted.elapsed_time == pytest.approx(saved["elapsed_time"])
        with pytest.raises(EarlyStopError):
            run_until_stop([restarted], train_op)

        # a longer budget continues from the saved time; without overwrite the file is untouched
        longer = EarlyStopDuration(
            max_duration=saved["elapsed_time"] + 0.2, exit_on_end=False, save_dir=save_dir, overwrite=False
        )
        start = time.time()
        run_until_stop([longer], train_op, sleep=0.02)
        assert 0.2 <= time.time() - start < 3 and longer.should_stop
        with open(path) as f:
            assert json.load(f) == saved


def test_early_stop_duration_without_overwrite_writes_nothing(tmp_path):
    with tf.Graph().as_default():
        train_op = step_graph()
        hook = EarlyStopDuration(max_duration=100, exit_on_end=True, save_dir=str(tmp_path), overwrite=False)
        assert run_until_stop([hook], train_op, max_runs=3) == 3
        assert not hook.should_stop and os.listdir(str(tmp_path)) == []


def test_stop_at_time_hook():
    with tf.Graph().as_default():
        train_op = step_graph()
        hook = StopAtTimeHook(datetime.timedelta(seconds=1))
        start = time.time()
        runs = run_until_stop([hook], train_op, sleep=0.02)
        # Runs until the time, not before it (however slow a loaded machine makes each step), then stops.
        assert hook.stop_requested and 1 <= time.time() - start < 30 and runs >= 2

        past = StopAtTimeHook(datetime.datetime.utcnow() - datetime.timedelta(seconds=1))  # naive = UTC
        assert run_until_stop([past], train_op) == 1 and past.stop_requested

        naive = datetime.datetime.utcnow() + datetime.timedelta(hours=1)
        future = StopAtTimeHook(naive)
        assert future.stop_time == naive.replace(tzinfo=datetime.timezone.utc)
        assert run_until_stop([future], train_op, max_runs=3) == 3 and not future.stop_requested
    with pytest.raises(ValueError):
        StopAtTimeHook(10)


# --- progress and metrics ------------------------------------------------------------------------------


def test_step_progress_hook_prints_progress_on_stderr(capsys):
    with tf.Graph().as_default():
        train_op = step_graph()
        hook = StepProgressHook(max_step=8)
        assert run_until_stop([hook, StopAtStepHook(last_step=8)], train_op) == 8
    captured = capsys.readouterr()
    assert "8/8 [" in captured.err and "0/8 [" in captured.err and "=" * 30 in captured.err
    assert "8/8" not in captured.out


def test_get_metrics_hook():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [])
        mean_value, mean_update = tf.metrics.mean(x)
        max_value = tf.reduce_max(tf.stack([mean_value, 10.0]))
        hook = GetMetricsHook(lambda: {"mean": mean_value, "max": max_value})
        with tf.train.MonitoredSession(hooks=[hook]) as session:
            for value in [1.0, 2.0, 6.0]:
                session.run(mean_update, {x: value})
        assert hook.metric_values == {"mean": pytest.approx(3.0), "max": pytest.approx(10.0)}


def test_metrics_update_hook_every_n_iter_and_at_end():
    with tf.Graph().as_default():
        v = tf.get_variable("v", [], tf.float32, initializer=tf.zeros_initializer())
        value = tf.placeholder(tf.float32, [])
        assign = v.assign(value)
        spec = tf.estimator.EstimatorSpec(
            tf.estimator.ModeKeys.EVAL, loss=tf.constant(0.0), eval_metric_ops={"v": (v.read_value(), tf.no_op())}
        )
        reports = []
        hook = MetricsUpdateHook(lambda: spec, reports.append, every_n_iter=2)
        noop = tf.no_op()

        def set_v(step_context, new_value):
            step_context.session.run(assign, {value: new_value})

        with tf.train.MonitoredSession(hooks=[hook]) as session:
            for i in range(5):
                # set v outside the hooked run so the fetched value is deterministic
                session.run_step_fn(functools.partial(set_v, new_value=float(i)))
                session.run(noop)
        assert reports == [{"v": 0.0}, {"v": 2.0}, {"v": 4.0}, {"v": 4.0}]

        reports.clear()
        only_end = MetricsUpdateHook(lambda: spec, reports.append)
        with tf.train.MonitoredSession(hooks=[only_end]) as session:
            for i in range(3):
                session.run_step_fn(functools.partial(set_v, new_value=i + 7.0))
                session.run(noop)
        assert reports == [{"v": 9.0}]
    with pytest.raises(ValueError):
        MetricsUpdateHook(lambda: spec, print, every_n_iter=1, every_n_secs=1)

"""``python -m twml.saved_model_cli`` and ``python -m twml.tensorboard`` run as processes: the
saved_model_cli launcher runs a SavedModel that uses a twml op (plain TensorFlow's cannot) and
passes its exit status through; the TensorBoard launcher passes its arguments (``--inspect`` of an
event file written here), strips ``-script.py`` / ``.exe`` from argv[0] and quiets werkzeug."""

import os
import subprocess
import sys

import pytest
import tensorflow.compat.v1 as tf

import libtwml.ops
import twml  # noqa: F401  (graph mode)

# twml.feature_id("ebd.has_diff_lang") of the original (README)
FEATURE_ID = 2086305051125082499


def python(*args, timeout=240):
    # the twml and libtwml this process imported come first (a source checkout on sys.path has no _core.so)
    roots = [os.path.dirname(os.path.dirname(os.path.abspath(m.__file__))) for m in (twml, libtwml)]
    path = os.pathsep.join(roots + [p for p in sys.path if p])
    env = dict(os.environ, PYTHONPATH=path, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("launchers"))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None], name="x")
        ids = libtwml.ops.feature_id(feature_names=["ebd.has_diff_lang"])
        loss = tf.summary.scalar("loss", tf.reduce_sum(x))
        writer = tf.summary.FileWriter(os.path.join(directory, "logs"))
        with tf.Session() as session:
            for step in range(4):
                writer.add_summary(session.run(loss, {x: [float(step)]}), step * 10)
            writer.close()
            tf.saved_model.simple_save(
                session, os.path.join(directory, "export"), {"x": x}, {"doubled": x * 2.0, "id": ids}
            )
    return directory


def test_saved_model_cli_runs_a_model_with_twml_ops(written):
    export = os.path.join(written, "export")
    args = [
        "run",
        "--dir",
        export,
        "--tag_set",
        "serve",
        "--signature_def",
        "serving_default",
        "--input_exprs",
        "x=[1.0,2.5]",
    ]
    result = python("-m", "twml.saved_model_cli", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Result for output key id:\n[%d]" % FEATURE_ID in result.stdout
    assert "Result for output key doubled:\n[2. 5.]" in result.stdout
    # TensorFlow's own launcher does not know the op: the twml launcher is what makes this work
    plain = python("-m", "tensorflow.python.tools.saved_model_cli", *args)
    assert plain.returncode != 0 and "FeatureId" in plain.stdout + plain.stderr


def test_saved_model_cli_exit_status_and_show(written, tmp_path):
    shown = python("-m", "twml.saved_model_cli", "show", "--dir", os.path.join(written, "export"), "--all")
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert "signature_def['serving_default']" in shown.stdout and "inputs['x']" in shown.stdout
    missing = python("-m", "twml.saved_model_cli", "show", "--dir", str(tmp_path / "nothing"), "--all")
    assert missing.returncode != 0


def test_tensorboard_launcher_arguments(written):
    logs = os.path.join(written, "logs")
    inspected = python("-m", "twml.tensorboard", "--inspect", "--logdir", logs)
    assert inspected.returncode == 0, inspected.stderr[-3000:]
    lines = [line.split() for line in inspected.stdout.splitlines()]
    stats = {line[0]: line[1] for line in lines if len(line) == 2}
    assert (stats["first_step"], stats["last_step"], stats["num_steps"]) == ("0", "30", "4")
    # argv[0] as a setuptools script wrapper names it; the launcher strips the suffix TensorBoard would show
    probe = (
        "import logging, sys\n"
        "from twml.tensorboard.__main__ import main\n"
        "names = []\n"
        "for name in ['/opt/bin/tensorboard-script.py', 'C:/tb/tensorboard.exe', 'tb-script.pyw', 'plain']:\n"
        "    sys.argv = [name, '--inspect', '--logdir', sys.argv[1]]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "    names.append(sys.argv[0])\n"
        "print('ARGV0', names, logging.getLogger('werkzeug').level)\n"
    )
    result = python("-c", probe, logs)
    assert result.returncode == 0, result.stderr[-3000:]
    marker = [line for line in result.stdout.splitlines() if line.startswith("ARGV0")]
    assert marker == ["ARGV0 ['/opt/bin/tensorboard', 'C:/tb/tensorboard', 'tb', 'plain'] %d" % 30]

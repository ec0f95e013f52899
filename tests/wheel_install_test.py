"""The wheel installs with pip into a fresh environment made from the lock file, and works there.

Everything installs from the local wheelhouse that tools/bazel filled, so the test needs no network.
Inputs (BUILD.bazel's env_paths): TWML_TEST_WHEEL, TWML_TEST_LOCK (requirements.lock), TWML_TEST_PYTHON_ENV
(python_env.json, the probed environment).
"""

import json
import os
import subprocess

CHECK_SCRIPT = r"""
import json, os
import tensorflow.compat.v1 as tf
import twml, libtwml, twml_common
from com.twitter.ml.api.ttypes import DataRecord
from com.twitter.ml.prediction_service.ttypes import BatchPredictionRequest
with tf.Session() as session:
    op_ids = session.run(libtwml.ops.feature_id(feature_names=["ebd.has_diff_lang", "a#b"])).tolist()
print(json.dumps({
    "feature_id": int(twml.feature_id("ebd.has_diff_lang")[0]),
    "op_ids": op_ids,
    "record": twml_common.serialize(DataRecord(binaryFeatures={5})).hex(),
    "request_class": BatchPredictionRequest.__name__,
    "block": libtwml._core.encode_block("com.twitter.ml.api.DataRecord", [b"\\x00", b"\\x00"]).hex(),
    "module_files": [m.__file__ for m in (twml, libtwml, twml_common)],
}))
"""


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, "%s failed:\n%s\n%s" % (command, result.stdout, result.stderr)
    return result.stdout


def clean_environment(home):
    """The environment of a user's shell: nothing of Bazel's runfiles or Python path."""
    keep = ("PATH", "LANG", "LC_ALL", "SSL_CERT_FILE")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(HOME=str(home), PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1", TF_CPP_MIN_LOG_LEVEL="2")
    return env


def test_wheel_installs_into_a_fresh_environment_and_works(tmp_path):
    python_env = json.load(open(os.environ["TWML_TEST_PYTHON_ENV"]))
    wheel, lock_file = os.environ["TWML_TEST_WHEEL"], os.environ["TWML_TEST_LOCK"]
    env = clean_environment(tmp_path)
    venv = tmp_path / "venv"
    run([python_env["base_python"], "-m", "venv", str(venv)], env=env)
    python = str(venv / "bin" / "python")
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            python_env["wheelhouse"],
            "--require-hashes",
            "-r",
            lock_file,
        ],
        env=env,
    )
    run([python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", wheel], env=env)
    # The wheel's pins agree with what the lock file installed (TensorFlow included).
    run([python, "-m", "pip", "check"], env=env)
    requires = run([python, "-c", "import importlib.metadata as m; print(m.requires('twml'))"], env=env)
    assert "tensorflow-cpu==%s" % python_env["tf_version"] in requires

    output = run([python, "-c", CHECK_SCRIPT], env=env, cwd=str(tmp_path))
    result = json.loads(output.strip().splitlines()[-1])
    assert result["feature_id"] == 2086305051125082499
    assert result["op_ids"] == [2086305051125082499, -3734086814676416176]
    assert result["record"] == "0e00010a00000001000000000000000500"
    assert result["request_class"] == "BatchPredictionRequest"
    # The records CLI is installed as a console script and counts a block file.
    block_file = tmp_path / "records"
    block_file.write_bytes(bytes.fromhex(result["block"]))
    assert run([str(venv / "bin" / "twml-records"), "count", str(block_file)], env=env).splitlines()[-1] == "2\ttotal"
    # The run-tracking CLI too: an empty database lists no runs; a missing one is exit status 2.
    db = tmp_path / "experiments.sqlite"
    runs = run(
        [
            python,
            "-c",
            "from twml.experiment_tracker import ExperimentTracker as T; "
            "T({}, name='wheel', save_dir='.', db_path=%r).start()" % str(db),
        ],
        env=env,
    )
    assert "wheel" in run([str(venv / "bin" / "twml-runs"), "--db", str(db), "list"], env=env), runs
    missing = subprocess.run(
        [str(venv / "bin" / "twml-runs"), "--db", str(tmp_path / "none.sqlite"), "list"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2, missing.stderr
    site_packages = str(venv / "lib")
    assert all(path.startswith(site_packages) for path in result["module_files"]), result["module_files"]

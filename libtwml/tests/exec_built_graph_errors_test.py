"""Decode errors in graphs built by code run through runpy or exec().

A hostile test once saw a segfault (exit 139) in TensorFlow's error interpolation when a decode op
failed in a graph whose building code ran through runpy. These runs build the graph that way,
drop the code's namespace (so its code objects can be freed), churn memory and make the op fail
thousands of times in a fresh process: the process must exit normally with the op's error.
"""

import os
import subprocess
import sys
import textwrap

import pytest

USER_SCRIPT = textwrap.dedent(
    """
    import tensorflow.compat.v1 as tf
    import libtwml

    tf.disable_eager_execution()
    GRAPH = tf.Graph()
    with GRAPH.as_default():
        FEED = tf.placeholder(tf.string, [None])
        handle = libtwml.ops.decode_and_hash_data_record(FEED, keep_features=[1], keep_codes=[0], label_features=[])
        FETCH = libtwml.ops.get_keys_from_hashed_data_record(handle)
    """
)

DRIVER = textwrap.dedent(
    """
    import gc, runpy, sys
    import tensorflow.compat.v1 as tf

    mode, script = sys.argv[1], sys.argv[2]
    if mode == "runpy":
        namespace = runpy.run_path(script)
    else:
        namespace = {"__name__": "user"}
        exec(compile(open(script).read(), script, "exec"), namespace)
    graph, feed, fetch = namespace["GRAPH"], namespace["FEED"], namespace["FETCH"]
    del namespace
    gc.collect()
    errors = 0
    with tf.Session(graph=graph) as session:
        for i in range(2000):
            try:
                session.run(fetch, {feed: [b"\\x0e\\x00\\x01\\x0a\\x7f\\xff\\xff\\xff"]})
            except tf.errors.InvalidArgumentError as error:
                assert "binaryFeatures: 2147483647 elements cannot fit" in str(error)
                errors += 1
            if i % 400 == 0:
                junk = [compile("x = %d" % j, "<junk>", "exec") for j in range(2000)]
                del junk
                gc.collect()
    print("errors", errors)
    """
)


@pytest.mark.parametrize("mode", ["runpy", "exec"])
def test_decode_errors_in_an_exec_built_graph_do_not_crash(tmp_path, mode):
    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run(
        [sys.executable, str(driver), mode, str(script)], capture_output=True, text=True, timeout=240, env=env
    )
    assert result.returncode == 0, "exit %d\n%s" % (result.returncode, result.stderr[-3000:])
    assert result.stdout.strip().endswith("errors 2000")

"""twml.console: each message once, TensorFlow's deprecation notices only with --verbose."""

import io
import logging
import sys

import pytest
import tensorflow.compat.v1 as tf

from twml import console

DEPRECATION = (
    "From /x.py:1: load (from tensorflow.python.saved_model.loader_impl) is deprecated and will be "
    "removed in a future version.\nInstructions for updating:\nUse `tf.saved_model.load` instead."
)


@pytest.fixture(autouse=True)
def restore_logging():
    root, tf_logger = logging.getLogger(), logging.getLogger("tensorflow")
    saved = (list(root.handlers), root.level, list(tf_logger.handlers), tf_logger.level, tf_logger.propagate)
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    tf_logger.handlers[:], tf_logger.level, tf_logger.propagate = saved[2], saved[3], saved[4]


def lines_after(verbose):
    stream = io.StringIO()
    tf.get_logger()  # TensorFlow installs its own handler on first use
    console.configure(verbose=verbose, stream=stream)
    console.configure(verbose=verbose, stream=stream)  # twice: still one handler
    logging.getLogger("twml.example").info("exported to /models/1")
    tf.get_logger().warning(DEPRECATION)
    tf.get_logger().warning("a TensorFlow warning worth reading")
    tf.get_logger().info("Calling model_fn.")
    return stream.getvalue().splitlines()


def test_each_message_once_and_no_deprecation_notices():
    lines = lines_after(verbose=False)
    assert [line.split(": ", 1)[1] for line in lines] == ["exported to /models/1", "a TensorFlow warning worth reading"]


def test_verbose_brings_them_back():
    text = "\n".join(lines_after(verbose=True))
    assert text.count("is deprecated and will be removed") == 1
    assert text.count("a TensorFlow warning worth reading") == 1
    assert text.count("Calling model_fn.") == 1


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "-q"]))

"""The process's run-time settings: TensorFlow's log level and log format, the path of a
distributed job (re-exported by ``twml.util``)."""

import logging
import os
import sys

import tensorflow.compat.v1 as tf


def set_tensorflow_log_level(log_level: int) -> None:
    """Sets TF_CPP_MIN_LOG_LEVEL (0 all .. 3 errors only) and the tensorflow logger's level."""
    if log_level not in (0, 1, 2, 3):
        raise ValueError("log_level must be 0, 1, 2 or 3, not %r" % (log_level,))
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = str(log_level)
    levels = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}
    tf.get_logger().setLevel(levels[log_level])


def setup_tf_logging_formatter() -> None:
    """Formats the tensorflow logger's records as ``<time> <level> <file>:<line> <message>``."""
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(filename)s:%(lineno)d %(message)s")
    logger = tf.get_logger()
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler(sys.stderr))
    for handler in logger.handlers:
        handler.setFormatter(formatter)


def get_distributed_training_job_path() -> str:
    """``<cluster>/<role>/<env>/<job>`` of a distributed job, from the TWML_JOB_* variables.

    Uses TWML_JOB_CLUSTER, TWML_JOB_ROLE, TWML_JOB_ENV and TWML_DISTRIBUTED_BASE_JOBNAME.

    Raises:
      ValueError: one of them is not set.
    """
    names = ["TWML_JOB_CLUSTER", "TWML_JOB_ROLE", "TWML_JOB_ENV", "TWML_DISTRIBUTED_BASE_JOBNAME"]
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise ValueError("environment variables not set: %s" % ", ".join(missing))
    return "/".join(os.environ[n] for n in names)

"""twml: DataRecord machine learning on TensorFlow 1 graphs.

Importing twml, like the original, switches TensorFlow to graph mode (eager execution off) and,
unless OMP_NUM_THREADS or MKL_NUM_THREADS is set, sets OMP_NUM_THREADS=1: twml's ops parallelise
through TensorFlow's own thread pools.
"""

import os

if "OMP_NUM_THREADS" not in os.environ and "MKL_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = "1"

import tensorflow.compat.v1 as tf  # noqa: E402

from twml import (  # noqa: E402
    argument_parser,
    constants,
    dataset,
    errors,
    export_output_fns,
    filters,
    hooks,
    input_fns,
    layers,
    learning_rate_decay,
    metrics,
    optimizers,
    parsers,
    readers,
    trainers,
    util,
)
from twml.block_format_writer import BlockFormatWriter  # noqa: E402
from twml.feature_config import FeatureConfig, FeatureConfigBuilder  # noqa: E402
from twml.util import feature_id, limit_bits  # noqa: E402

tf.disable_eager_execution()

__all__ = ["argument_parser", "constants", "feature_id", "BlockFormatWriter", "limit_bits", "dataset", "errors",
           "export_output_fns", "hooks", "input_fns", "util", "FeatureConfig", "FeatureConfigBuilder", "filters",
           "parsers", "readers", "layers", "learning_rate_decay", "metrics", "optimizers", "trainers"]

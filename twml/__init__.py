"""twml: DataRecord machine learning on TensorFlow 1 graphs.

``import twml`` does what the original's did, in the same order (twml-surface.md §A): it binds the
original's private re-exports (``SparseTensor``, ``sparse_dense_matmul``, ``set_logging_level``),
the util, array and feature-config names, every public name of ``dataset``, ``readers``,
``block_format_writer``, ``export_output_fns``, ``parsers``, ``input_fns``, ``filters`` and
``argument_parser``, the submodules ``constants, errors, layers, lookup, readers, summary,
tensorboard``; switches TensorFlow to graph mode (eager execution off); binds ``add1``,
``partition_sparse_tensor`` and ``CLIB``; sets logging to INFO; and imports ``contrib, hooks,
trainers, metrics``. Unless OMP_NUM_THREADS or MKL_NUM_THREADS is set it sets OMP_NUM_THREADS=1
(before TensorFlow is imported, so that it takes effect; the original set it afterwards), and
unless TF_CPP_MIN_LOG_LEVEL is set it sets it to 1 (TensorFlow's C++ INFO lines off).
"""

# ruff: noqa: I001, F401  (the original's import order; every name imported here is package surface)
import os

if "OMP_NUM_THREADS" not in os.environ and "MKL_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = "1"
# TensorFlow's C++ INFO lines (oneDNN, CPU features, MLIR passes) say nothing a twml user acts on:
# off unless the user chose a level (twml.console keeps the rest of the console quiet).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import tensorflow.compat.v1 as tf  # noqa: E402

from twml.compat import SparseTensor, set_logging_level, sparse_dense_matmul  # noqa: E402
from twml.util import (  # noqa: E402
    dynamic_partition,
    feature_id,
    fixed_length_tensor,
    limit_bits,
    limit_sparse_tensor_size,
    setup_tf_logging_formatter,
    write_file,
)
from twml.array import Array  # noqa: E402
from twml.feature_config import FeatureConfig, FeatureConfigBuilder  # noqa: E402

# What the original's star imports of these modules made package attributes.
from twml.dataset import BlockFormatDataset, downsample_dataset, stream_block_format_dataset  # noqa: E402
from twml.zookeeper import cx_zk_path, zookeeper_ordered_dataset  # noqa: E402
from twml.readers import (  # noqa: E402
    SPARSE_DATA_RECORD_FEATURE_FIELDS,
    BatchPredictionRequest,
    DataRecord,
    HashedBatchPredictionRequest,
    HashedDataRecord,
)
from twml.block_format_writer import BlockFormatWriter  # noqa: E402
from twml.export_output_fns import (  # noqa: E402
    batch_prediction_continuous_output_fn,
    batch_prediction_tensor_output_fn,
    default_output_fn,
    variable_length_continuous_output_fn,
)
from twml.parsers import (  # noqa: E402
    convert_to_supervised_input_receiver_fn,
    get_continuous_parse_fn,
    get_default_parse_fn,
    get_features_as_tensor_dict,
    get_labels_in_features_parse_fn,
    get_serving_input_receiver_fn_feature_dict,
    get_sparse_parse_fn,
    get_sparse_serving_input_receiver_fn,
    get_tensor_parse_fn,
)
from twml.input_fns import data_record_input_fn, default_input_fn  # noqa: E402
from twml.filters import balance_binary_class_samples, sparse_keep_feature_if, sparse_keep_sample_if  # noqa: E402
from twml.argument_parser import (  # noqa: E402
    LOG_LEVELS,
    SERIAL,
    TREE,
    DefaultSubcommandArgParse,
    SortingHelpFormatter,
    get_trainer_parser,
    parse_comma_separated_list,
)
from twml import (  # noqa: E402
    argument_parser,
    array,
    block_format_writer,
    constants,
    dataset,
    errors,
    export_output_fns,
    feature_config,
    filters,
    input_fns,
    layers,
    lookup,
    parsers,
    readers,
    summary,
    tensorboard,
    util,
)

tf.disable_eager_execution()

from twml.compat import CLIB, add1, partition_sparse_tensor  # noqa: E402

set_logging_level("INFO")

from twml import contrib, hooks, trainers, metrics  # noqa: E402
from twml import learning_rate_decay, optimizers, tracking  # noqa: E402,F401  (bound by trainers in the original)

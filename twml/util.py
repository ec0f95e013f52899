"""twml.util: helpers of the original's public util surface (reference §12.1, §14.2).

One module per concept lives in ``twml/_util/`` and is re-exported here, so ``twml.util.<name>``
is every name the original had:

* ``sparse``: sparse tensors and hashing (limit_bits, convert_to_sparse, multiplicative_hash...);
* ``tensors``: batch helpers (dynamic_partition, boolean_mask, fixed_length_tensor, do_every_n_steps...);
* ``files``: file access through ``tf.io.gfile``, so paths on any file system TensorFlow has
  (``hdfs://``, ``gs://``...) work as local paths do (read_file, write_file, list_files...);
* ``checkpoints``: checkpoint variable names, init maps, backups, scope renames;
* ``hub``: TF-Hub module specs (create_module_spec, hub_import);
* ``runtime``: TensorFlow's log level and format, the distributed job path;
* ``names``: snake_case names, string checks, whole-name feature regexes.
"""

from typing import Any, Iterable, Union

import numpy as np

import libtwml
from twml._util.checkpoints import (  # noqa: F401 - re-exported
    backup_checkpoint,
    change_name_scope_from_dir,
    get_checkpoint_variable_names,
    get_init_map,
    get_scope_dict,
    set_only_checkpoint,
)
from twml._util.files import (  # noqa: F401 - re-exported
    copy_phase_inputs,
    copy_recursive,
    copy_to_local,
    delete_file_or_dir,
    file_exist_in_dir,
    list_files,
    list_files_by_datetime,
    match_files,
    preprocess_path,
    read_file,
    sanitize_hdfs_path,
    touch_file_in_dir,
    write_file,
)
from twml._util.hub import create_module_spec, hub_import  # noqa: F401 - re-exported
from twml._util.names import is_string, preprocess_feature_regex, to_snake_case  # noqa: F401 - re-exported
from twml._util.runtime import (  # noqa: F401 - re-exported
    get_distributed_training_job_path,
    set_tensorflow_log_level,
    setup_tf_logging_formatter,
)
from twml._util.sparse import (  # noqa: F401 - re-exported
    HASHING_PRIME,
    convert_to_sparse,
    fix_shape_sparse,
    limit_bits,
    limit_sparse_tensor_size,
    multiplicative_hash,
    rehash_sparse_features_nbits,
)
from twml._util.tensors import (  # noqa: F401 - re-exported
    batch_apply,
    boolean_mask,
    do_every_n_steps,
    dynamic_partition,
    fixed_length_tensor,
    weighted_average,
)
from twml.compat import CLIB  # noqa: F401 - part of util's surface
from twml.params import HParams, params_to_dict  # noqa: F401 - HParams is part of util's surface


def feature_id(name_or_names: Union[str, Iterable[str]]) -> np.ndarray:
    """The 64-bit feature id of a feature name, or of each of several names.

    Computed by the C++ core (MurmurHash3_x64_128 over the name's UTF-16 code units, reference
    §3); no TensorFlow session is involved.

    Args:
      name_or_names: a feature name, or an iterable of names (``str`` or UTF-8 ``bytes``).

    Returns:
      int64 numpy array of shape ``[n]``; for a single name ``[1]``, so ``feature_id(name)[0]`` is
      its id, as at the original's call sites.

    Raises:
      ValueError: a name is not valid UTF-8.
    """
    return libtwml.feature_id(name_or_names)


def convert_to_hparams(opt: Any) -> Any:
    """A ``tf.contrib.training.HParams``-like :class:`twml.params.HParams` of an argparse
    Namespace, a dict or an HParams: the same attributes, plus ``values()``, ``add_hparam`` and
    ``set_hparam``."""
    return HParams(**params_to_dict(opt))


def __getattr__(name: str) -> Any:
    # OPLIB (the loaded op library) is resolved on first use, like libtwml's own attribute.
    if name == "OPLIB":
        return libtwml.OPLIB
    raise AttributeError("module 'twml.util' has no attribute %r" % name)


__all__ = [
    "HASHING_PRIME",
    "feature_id",
    "limit_bits",
    "limit_sparse_tensor_size",
    "convert_to_sparse",
    "multiplicative_hash",
    "rehash_sparse_features_nbits",
    "weighted_average",
    "dynamic_partition",
    "read_file",
    "write_file",
    "sanitize_hdfs_path",
    "preprocess_path",
    "match_files",
    "list_files",
    "list_files_by_datetime",
    "touch_file_in_dir",
    "file_exist_in_dir",
    "copy_recursive",
    "copy_to_local",
    "delete_file_or_dir",
    "copy_phase_inputs",
    "get_checkpoint_variable_names",
    "get_init_map",
    "get_scope_dict",
    "backup_checkpoint",
    "set_only_checkpoint",
    "to_snake_case",
    "convert_to_hparams",
    "set_tensorflow_log_level",
    "setup_tf_logging_formatter",
    "get_distributed_training_job_path",
    "do_every_n_steps",
    "is_string",
    "fixed_length_tensor",
    "batch_apply",
    "boolean_mask",
    "preprocess_feature_regex",
]

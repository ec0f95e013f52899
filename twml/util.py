"""twml.util: helpers of the original's public util surface (reference §12.1, §14.2).

All file access goes through ``tf.io.gfile``, so paths on any file system TensorFlow has
(``hdfs://``, ``gs://``...) work as local paths do.
"""

import concurrent.futures
import datetime
import json
import logging
import os
import re
import sys
import uuid
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

import libtwml
from twml.errors import CheckpointNotFoundError
from twml.params import HParams, params_to_dict  # noqa: F401 - HParams is part of util's surface
from twml_common.block_files import write_file_atomically

#: The constant of :func:`multiplicative_hash`.
HASHING_PRIME = 2479700537

_LOG = logging.getLogger(__name__)


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


# --- Sparse tensors and hashing ------------------------------------------------------------------


def limit_bits(x: Any, bits: int) -> Any:
    """The low ``bits`` bits of integers: ``x & (2**bits - 1)``.

    Args:
      x: an integer tensor (int32/int64, any shape), a numpy array or a Python int.
      bits: number of bits kept, 0..63.

    Returns:
      same type, shape and dtype as x, every element in ``[0, 2**bits)``.
    """
    if not 0 <= bits <= 63:
        raise ValueError("bits must be in [0, 63], not %r" % (bits,))
    mask = (1 << bits) - 1
    if isinstance(x, (tf.Tensor, tf.Variable)):
        return tf.bitwise.bitwise_and(x, tf.cast(mask, x.dtype))
    return x & mask


def limit_sparse_tensor_size(
    sparse_tf: tf.SparseTensor, input_size_bits: int, mask_indices: bool = True
) -> tf.SparseTensor:
    """Sets the dense shape of a ``[batch, n]`` SparseTensor to ``[batch, 2**input_size_bits]``.

    Args:
      sparse_tf: int64-indexed ``tf.SparseTensor`` of rank 2.
      input_size_bits: bits of the column space.
      mask_indices: also map each column index to its low input_size_bits bits (limit_bits), so
        that every index fits; with False indices are kept as they are.

    Returns:
      a ``tf.SparseTensor`` with the same values and dense shape ``[batch, 2**input_size_bits]``.
    """
    indices = sparse_tf.indices
    if mask_indices:
        indices = tf.stack([indices[:, 0], limit_bits(indices[:, 1], input_size_bits)], axis=1)
    dense_shape = tf.stack([sparse_tf.dense_shape[0], tf.constant(1 << input_size_bits, tf.int64)])
    return tf.SparseTensor(indices=indices, values=sparse_tf.values, dense_shape=dense_shape)


def convert_to_sparse(features: Dict[str, tf.Tensor], input_size_bits: int) -> tf.SparseTensor:
    """A ``[batch_size, 2**input_size_bits]`` SparseTensor of a sparse parse function's output.

    Args:
      features: dict with ``ids`` (int64 ``[n]``, the record of each entry), ``keys`` (int64
        ``[n]``, hashed feature keys), ``values`` (float32 ``[n]``) and ``batch_size`` (int64
        scalar), as the hashed-record getters produce them.
      input_size_bits: bits of the column space; column = ``limit_bits(keys, input_size_bits)``.

    Returns:
      ``tf.SparseTensor`` with indices ``[n, 2]`` int64 ``(ids, limit_bits(keys))``, values
      float32 ``[n]`` and dense_shape ``[batch_size, 2**input_size_bits]``. Duplicate indices are
      kept (as ``tf.sparse`` matmul sums them).
    """
    ids = tf.cast(features["ids"], tf.int64)
    keys = limit_bits(tf.cast(features["keys"], tf.int64), input_size_bits)
    indices = tf.stack([ids, keys], axis=1)
    batch_size = tf.cast(tf.reshape(features["batch_size"], []), tf.int64)
    dense_shape = tf.stack([batch_size, tf.constant(1 << input_size_bits, tf.int64)])
    return tf.SparseTensor(indices=indices, values=features["values"], dense_shape=dense_shape)


def fix_shape_sparse(features: Dict[str, Any], feature_config: Any) -> Dict[str, Any]:
    """Gives every hashed sparse output of a v2 config its dense shape ``[batch, 2**hash_space_bits]``.

    A SparseTensor coming out of a ``tf.data`` pipeline (or a hub module) may carry a dynamic or
    unknown dense shape; layers such as ``full_sparse`` need the static column count.

    Args:
      features: the parse output; ``features[output_name]`` is a ``tf.SparseTensor`` (any dtype,
        indices int64 ``[n, 2]``) for each ``feature_config.sparse_extraction_configs`` entry.
        Replaced in place; other entries are left alone.
      feature_config: a ``twml.contrib.feature_config.FeatureConfig`` (v2).

    Returns:
      ``features`` (the same dict). Each fixed SparseTensor keeps its indices and values; its
      dense_shape is int64 ``[batch, 2**hash_space_bits]`` with batch = its old ``dense_shape[0]``,
      and its static shape ``[None or batch, 2**hash_space_bits]``.

    Raises:
      ValueError: ``feature_config`` is not a v2 config (it has no ``sparse_extraction_configs``).
    """
    configs = getattr(feature_config, "sparse_extraction_configs", None)
    if configs is None:
        raise ValueError(
            "fix_shape_sparse needs a twml.contrib.feature_config.FeatureConfig (v2), not %s"
            % type(feature_config).__name__
        )
    for config in configs:
        sparse = features.get(config.output_name)
        if not isinstance(sparse, tf.SparseTensor):
            continue
        batch = tf.cast(sparse.dense_shape[0], tf.int64)
        dense_shape = tf.stack([batch, tf.constant(1 << config.hash_space_bits, tf.int64)])
        features[config.output_name] = tf.SparseTensor(sparse.indices, sparse.values, dense_shape)
    return features


def multiplicative_hash(input: Any, hash_constant: int = HASHING_PRIME) -> Any:
    """Multiplicative hash: ``input * hash_constant`` (wrapping at the integer width).

    Args:
      input: int64 tensor (any shape), numpy int64 array, or Python int.
      hash_constant: the multiplier (default HASHING_PRIME = 2479700537).

    Returns:
      same type and shape as input. Python ints are reduced modulo 2**64 into int64 range, like the
      tensor product.
    """
    if isinstance(input, (tf.Tensor, tf.Variable)):
        return input * tf.cast(hash_constant, input.dtype)
    if isinstance(input, np.ndarray):
        with np.errstate(over="ignore"):
            return input * input.dtype.type(hash_constant)
    product = (int(input) * hash_constant) & ((1 << 64) - 1)
    return product - (1 << 64) if product >= 1 << 63 else product


def rehash_sparse_features_nbits(
    sp_a: tf.SparseTensor, nbits: int, hash_fn: Callable = multiplicative_hash
) -> tf.SparseTensor:
    """Rehashes the column indices of a ``[batch, n]`` SparseTensor into ``nbits`` bits.

    Spreads small feature ids (e.g. a discretizer's bins) over the column space: the new column
    is the top ``nbits`` bits of the low 32 bits of ``hash_fn(column)`` (Knuth's multiplicative
    hashing). Columns should be below 2**32.

    Args:
      sp_a: ``tf.SparseTensor`` with int64 indices ``[n, 2]``.
      nbits: output bits, 1..32.
      hash_fn: int64 tensor -> int64 tensor (default :func:`multiplicative_hash`).

    Returns:
      ``tf.SparseTensor`` with the same rows and values, columns in ``[0, 2**nbits)`` and dense
      shape ``[batch, 2**nbits]``.
    """
    if not 1 <= nbits <= 32:
        raise ValueError("nbits must be in [1, 32], not %r" % (nbits,))
    if not isinstance(sp_a, tf.SparseTensor):
        raise TypeError("sp_a must be a tf.SparseTensor, not %s" % type(sp_a).__name__)
    hashed = limit_bits(hash_fn(sp_a.indices[:, 1]), 32)
    columns = tf.bitwise.right_shift(hashed, tf.constant(32 - nbits, tf.int64))
    indices = tf.stack([sp_a.indices[:, 0], columns], axis=1)
    dense_shape = tf.stack([sp_a.dense_shape[0], tf.constant(1 << nbits, tf.int64)])
    return tf.SparseTensor(indices=indices, values=sp_a.values, dense_shape=dense_shape)


def weighted_average(values: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """``sum(values * weights) / sum(weights)``.

    Args:
      values: float tensor of any shape.
      weights: float tensor broadcastable to values.

    Returns:
      a float scalar tensor (NaN when the weights sum to 0).
    """
    return tf.reduce_sum(tf.multiply(values, weights)) / tf.reduce_sum(weights)


def dynamic_partition(
    features: Any, partitions: tf.Tensor, num_partitions: int = 2, name: Optional[str] = None
) -> list:
    """``tf.dynamic_partition`` of a tensor, or of each tensor of a dict, list or tuple.

    Args:
      features: a tensor ``[batch, ...]`` or a dict/list/tuple of them.
      partitions: int32 tensor ``[batch]``, values in ``[0, num_partitions)``.
      num_partitions: number of partitions.
      name: name scope.

    Returns:
      a list of num_partitions items, each of the same structure as features (dict, list, tuple
      or tensor) holding the rows of that partition.
    """
    partitions = tf.cast(partitions, tf.int32)
    with tf.name_scope(name or "dynamic_partition"):
        if isinstance(features, dict):
            parts = {k: tf.dynamic_partition(v, partitions, num_partitions) for k, v in features.items()}
            return [{k: parts[k][i] for k in features} for i in range(num_partitions)]
        if isinstance(features, (list, tuple)):
            parts = [tf.dynamic_partition(v, partitions, num_partitions) for v in features]
            return [type(features)(p[i] for p in parts) for i in range(num_partitions)]
        return tf.dynamic_partition(features, partitions, num_partitions)


# --- Files ---------------------------------------------------------------------------------------


def read_file(filename: str, decode: Union[bool, str] = False) -> Any:
    """The contents of a file, through tf.io.gfile (so HDFS and GCS paths work).

    Args:
      filename: the path.
      decode: False (the raw ``bytes``) or ``"json"`` (the parsed JSON value).

    Raises:
      tf.errors.NotFoundError: the file does not exist.
      ValueError: an unknown decode.
    """
    if decode not in (False, "json"):
        raise ValueError("decode must be False or 'json', not %r" % (decode,))
    if not tf.io.gfile.exists(filename):
        raise tf.errors.NotFoundError(None, None, "read_file: no such file: %s" % filename)
    with tf.io.gfile.GFile(filename, "rb") as f:
        contents = f.read()
    return json.loads(contents.decode("utf-8")) if decode == "json" else contents


def write_file(filename: str, contents: Any, encode: Union[bool, str] = False) -> None:
    """Writes a file atomically where the file system allows: a temporary name, then a rename.
    A local file gets the mode a plain ``open()`` would give it under the umask.

    Args:
      filename: the path (its directory must exist).
      contents: ``bytes``/``str`` (encode False) or a JSON-serializable value (encode ``"json"``).
      encode: False or ``"json"``.

    Raises:
      ValueError: an unknown encode.
      tf.errors.NotFoundError: the directory does not exist.
    """
    if encode not in (False, "json"):
        raise ValueError("encode must be False or 'json', not %r" % (encode,))
    if encode == "json":
        contents = json.dumps(contents)
    if isinstance(contents, str):
        contents = contents.encode("utf-8")
    if "://" not in filename:
        # A local file: twml_common's writer (mode as a plain open() under the umask, stale
        # temporaries of killed writers removed); its errors as tf.io.gfile's would be.
        try:
            write_file_atomically(filename, contents)
        except FileNotFoundError as error:
            raise tf.errors.NotFoundError(None, None, "write_file: %s: %s" % (filename, error.strerror)) from None
        except PermissionError as error:
            raise tf.errors.PermissionDeniedError(None, None, "write_file: %s: %s" % (filename, error.strerror)) \
                from None
        return
    directory, base = os.path.split(filename)
    temporary = os.path.join(directory, ".%s.tmp.%s" % (base, uuid.uuid4().hex))
    try:
        with tf.io.gfile.GFile(temporary, "wb") as f:
            f.write(contents)
        tf.io.gfile.rename(temporary, filename, overwrite=True)
    except (tf.errors.UnimplementedError, tf.errors.PermissionDeniedError):
        # No rename on this file system: write in place.
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.remove(temporary)
        with tf.io.gfile.GFile(filename, "wb") as f:
            f.write(contents)
    except BaseException:
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.remove(temporary)
        raise


def sanitize_hdfs_path(path: str) -> str:
    """Removes a trailing ``/`` and turns ``hdfs://default/...`` into ``hdfs:///...``."""
    if path.startswith("hdfs://default/"):
        path = "hdfs:///" + path[len("hdfs://default/") :]
    return path.rstrip("/") if len(path) > 1 else path


def preprocess_path(path: str) -> str:
    """Expands ``~`` and environment variables and sanitizes HDFS paths (see sanitize_hdfs_path)."""
    if "://" not in path:
        path = os.path.expandvars(os.path.expanduser(path))
    return sanitize_hdfs_path(path)


def match_files(pattern: str, sort: bool = False) -> List[str]:
    """Files matching a glob pattern (tf.io.gfile.glob); [] when none match."""
    try:
        files = tf.io.gfile.glob(preprocess_path(pattern))
    except tf.errors.NotFoundError:
        files = []
    return sorted(files) if sort else files


def list_files(input_dir: Union[str, Sequence[str]], extension: str = "", sort: bool = False) -> List[str]:
    """Files of a directory (or of each of several directories, or comma-separated list).

    Args:
      input_dir: a directory, a glob pattern, a comma-separated list or a list of them.
      extension: keep only files ending with ``.<extension>`` (all files when empty).
      sort: sort the result.

    Returns:
      the file paths (directories excluded).
    """
    dirs = input_dir.split(",") if isinstance(input_dir, str) else list(input_dir)
    files: List[str] = []
    suffix = "." + extension.lstrip(".") if extension else ""
    for directory in dirs:
        directory = preprocess_path(directory.strip())
        if tf.io.gfile.isdir(directory):
            candidates = [os.path.join(directory, name) for name in tf.io.gfile.listdir(directory)]
        else:
            candidates = match_files(directory)
        files.extend(f for f in candidates if f.endswith(suffix) and not tf.io.gfile.isdir(f))
    return sorted(files) if sort else files


def list_files_by_datetime(
    base_path: Optional[str],
    start_datetime: Optional[datetime.datetime],
    end_datetime: Optional[datetime.datetime] = None,
    datetime_prefix_format: str = "%Y/%m/%d/%H",
    extension: str = "lzo",
    parallelism: int = 1,
    hour_resolution: int = 1,
    sort: bool = False,
) -> Optional[List[str]]:
    """Files of ``base_path/<strftime(datetime_prefix_format)>/*.<extension>`` over a time range.

    Globs the directory of every ``hour_resolution``-hour step from start_datetime to
    end_datetime (inclusive; default: start_datetime only), ``parallelism`` globs at a time.
    Directories that do not exist are skipped; duplicates are removed.

    Returns:
      the files (sorted when sort); None when base_path is None; ``list_files(base_path,
      extension, sort)`` when start_datetime is None.

    Raises:
      OSError: no file found.
    """
    if base_path is None:
        return None
    if start_datetime is None:
        return list_files(base_path, extension, sort)
    if end_datetime is None:
        end_datetime = start_datetime
    if hour_resolution < 1:
        raise ValueError("hour_resolution must be >= 1, not %r" % (hour_resolution,))
    base_path = preprocess_path(base_path)
    patterns = []
    moment = start_datetime
    while moment <= end_datetime:
        pattern = "%s/%s/*.%s" % (base_path, moment.strftime(datetime_prefix_format), extension)
        if pattern not in patterns:
            patterns.append(pattern)
        moment += datetime.timedelta(hours=hour_resolution)
    with concurrent.futures.ThreadPoolExecutor(max(1, parallelism)) as pool:
        matches = list(pool.map(match_files, patterns))
    files = list(dict.fromkeys(f for found in matches for f in found))
    if not files:
        raise OSError("no files found in %s between %s and %s" % (base_path, start_datetime, end_datetime))
    return sorted(files) if sort else files


def touch_file_in_dir(directory: str, filename: str) -> None:
    """Creates an empty ``directory/filename`` (and directory), e.g. a marker file."""
    tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(os.path.join(directory, filename), "w") as f:
        f.write("")


def file_exist_in_dir(directory: str, filename: str) -> bool:
    """Whether ``directory/filename`` exists."""
    return tf.io.gfile.exists(os.path.join(directory, filename))


def copy_recursive(src: str, dst: str, overwrite: bool = False) -> None:
    """Copies a file, or a directory tree, from src to dst (any tf.io.gfile file systems)."""
    if not tf.io.gfile.isdir(src):
        parent = os.path.dirname(dst)
        if parent:
            tf.io.gfile.makedirs(parent)
        tf.io.gfile.copy(src, dst, overwrite=overwrite)
        return
    for root, _, files in tf.io.gfile.walk(src):
        relative = os.path.relpath(root, src)
        target = dst if relative == "." else os.path.join(dst, relative)
        tf.io.gfile.makedirs(target)
        for name in files:
            tf.io.gfile.copy(os.path.join(root, name), os.path.join(target, name), overwrite=overwrite)


def copy_to_local(remote: str, local: str, filename: str, overwrite: bool = False) -> str:
    """Copies ``remote/filename`` (a file or a directory tree) to ``local/filename``.

    Args:
      remote: the source directory (any tf.io.gfile file system).
      local: the destination directory (created if missing).
      filename: the name of the file or directory inside both.
      overwrite: replace existing destination files (else an existing file is an error).

    Returns:
      the destination path ``local/filename``.
    """
    destination = os.path.join(local, filename)
    copy_recursive(os.path.join(remote, filename), destination, overwrite=overwrite)
    return destination


def delete_file_or_dir(path: str) -> None:
    """Deletes a file, or a directory tree; a missing path is not an error."""
    if tf.io.gfile.isdir(path):
        tf.io.gfile.rmtree(path)
    elif tf.io.gfile.exists(path):
        tf.io.gfile.remove(path)


def copy_phase_inputs(init_dir: str, dest_dir: str) -> None:
    """Copies the ``*.json.tf`` files (calibration phase inputs) of init_dir to dest_dir."""
    tf.io.gfile.makedirs(dest_dir)
    for path in tf.io.gfile.glob(os.path.join(init_dir, "*.json.tf")):
        tf.io.gfile.copy(path, os.path.join(dest_dir, os.path.basename(path)), overwrite=True)


# --- Checkpoints ---------------------------------------------------------------------------------


def get_checkpoint_variable_names(
    model_dir: str, exclude_var_names: Optional[Sequence[str]] = None, exclude_scopes: Optional[Sequence[str]] = None
) -> List[str]:
    """Names of the variables of the latest checkpoint of model_dir (or of a checkpoint prefix).

    Args:
      model_dir: a directory with a ``checkpoint`` file, or a checkpoint prefix.
      exclude_var_names: names left out.
      exclude_scopes: variables under these scopes (``scope/...``) are left out.
    """
    exclude = set(exclude_var_names or ())
    scopes = tuple(scope.rstrip("/") + "/" for scope in exclude_scopes or ())
    return [
        name
        for name, _ in tf.train.list_variables(model_dir)
        if name not in exclude and not (scopes and name.startswith(scopes))
    ]


def get_init_map(
    init_from_dir: str,
    exclude_var_names: Optional[Sequence[str]] = None,
    exclude_name_scopes: Optional[Sequence[str]] = None,
    name_scope_to_remove: Optional[str] = None,
    name_scope_to_prepend: Optional[str] = None,
) -> Dict[str, str]:
    """Map of checkpoint variable names to the names of the variables they initialize.

    For ``tf.train.init_from_checkpoint`` / the Trainer's ``init_map``.

    Args:
      init_from_dir: checkpoint directory or prefix.
      exclude_var_names: variable names left out.
      exclude_name_scopes: variables whose name starts with one of these scopes are left out.
      name_scope_to_remove: a leading scope removed from the new names.
      name_scope_to_prepend: a scope prepended to the new names.

    Returns:
      dict checkpoint name -> new name.
    """
    names = get_checkpoint_variable_names(init_from_dir, exclude_var_names)
    scopes = [s.rstrip("/") + "/" for s in exclude_name_scopes or ()]
    init_map = {}
    for name in names:
        if any(name.startswith(scope) for scope in scopes):
            continue
        new_name = name
        if name_scope_to_remove:
            prefix = name_scope_to_remove.rstrip("/") + "/"
            if new_name.startswith(prefix):
                new_name = new_name[len(prefix) :]
        if name_scope_to_prepend:
            new_name = name_scope_to_prepend.rstrip("/") + "/" + new_name
        init_map[name] = new_name
    return init_map


def get_scope_dict(
    init_dir: str, incoming_scope_name: str, current_scope_name: str, model_name: Optional[str] = None
) -> Dict[str, str]:
    """Map of a checkpoint's variables under incoming_scope to the same names under current_scope.

    For ``tf.train.init_from_checkpoint`` / the Trainer's ``init_map``.

    Args:
      init_dir: checkpoint directory (or prefix).
      incoming_scope_name: the scope of the variables in the checkpoint, e.g. ``"model"``.
      current_scope_name: the scope they get in the new graph, e.g. ``"tower/model"``.
      model_name: a checkpoint name inside init_dir (e.g. ``"model.ckpt-100"``); default the latest.

    Returns:
      dict checkpoint name -> new name, for every variable under incoming_scope.
    """
    checkpoint = init_dir if model_name is None else os.path.join(init_dir, model_name)
    incoming = incoming_scope_name.rstrip("/") + "/"
    current = current_scope_name.rstrip("/") + "/" if current_scope_name else ""
    return {
        name: current + name[len(incoming) :]
        for name in get_checkpoint_variable_names(checkpoint)
        if name.startswith(incoming)
    }


def backup_checkpoint(checkpoint_path_prefix: str, backup_path: str = "backup", empty_backup: bool = True) -> str:
    """Copies a checkpoint (all ``<prefix>*`` files) into a backup directory.

    Args:
      checkpoint_path_prefix: e.g. ``save_dir/model.ckpt-1000``.
      backup_path: backup directory, relative to the checkpoint's directory unless absolute (or
        with a scheme).
      empty_backup: empty the backup directory first.

    Returns:
      the backup directory. It gets a ``checkpoint`` file naming the copied checkpoint.

    Raises:
      CheckpointNotFoundError: no file has the prefix.
    """
    directory, base = os.path.split(checkpoint_path_prefix)
    files = tf.io.gfile.glob(checkpoint_path_prefix + "*")
    if not files:
        raise CheckpointNotFoundError("no checkpoint files with prefix %s" % checkpoint_path_prefix)
    if not (os.path.isabs(backup_path) or "://" in backup_path):
        backup_path = os.path.join(directory, backup_path)
    if empty_backup and tf.io.gfile.exists(backup_path):
        tf.io.gfile.rmtree(backup_path)
    tf.io.gfile.makedirs(backup_path)
    for path in files:
        tf.io.gfile.copy(path, os.path.join(backup_path, os.path.basename(path)), overwrite=True)
    write_file(os.path.join(backup_path, "checkpoint"), 'model_checkpoint_path: "%s"\n' % base)
    return backup_path


def set_only_checkpoint(source_path: str, dest_path: str, remove_source: bool = True) -> None:
    """Makes dest_path's only checkpoint the latest checkpoint of source_path.

    Copies (or, with remove_source, moves) the checkpoint files into dest_path after deleting the
    checkpoints there, and writes dest_path's ``checkpoint`` file.

    Args:
      source_path: a directory with a ``checkpoint`` file, or a checkpoint prefix.
      dest_path: the directory (created).
      remove_source: delete the source checkpoint files afterwards.

    Raises:
      CheckpointNotFoundError: no checkpoint in source_path.
    """
    prefix = tf.train.latest_checkpoint(source_path) if tf.io.gfile.isdir(source_path) else source_path
    files = tf.io.gfile.glob(prefix + "*") if prefix else []
    if not files:
        raise CheckpointNotFoundError("no checkpoint in %s" % source_path)
    tf.io.gfile.makedirs(dest_path)
    for old in tf.io.gfile.glob(os.path.join(dest_path, "*.index")):
        for path in tf.io.gfile.glob(old[: -len(".index")] + ".*"):
            tf.io.gfile.remove(path)
    for path in files:
        target = os.path.join(dest_path, os.path.basename(path))
        if remove_source:
            tf.io.gfile.rename(path, target, overwrite=True)
        else:
            tf.io.gfile.copy(path, target, overwrite=True)
    write_file(os.path.join(dest_path, "checkpoint"), 'model_checkpoint_path: "%s"\n' % os.path.basename(prefix))


# --- Misc ----------------------------------------------------------------------------------------


def to_snake_case(name: str) -> str:
    """CamelCase to snake_case (``FullSparse`` -> ``full_sparse``); a leading ``_`` -> ``private_``."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    if insecure[0] != "_":
        return insecure
    return "private" + insecure


def convert_to_hparams(opt: Any) -> Any:
    """A ``tf.contrib.training.HParams``-like :class:`twml.params.HParams` of an argparse
    Namespace, a dict or an HParams: the same attributes, plus ``values()``, ``add_hparam`` and
    ``set_hparam``."""
    return HParams(**params_to_dict(opt))


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


def do_every_n_steps(action: Callable[[], Any], num_steps: int) -> tf.Operation:
    """A graph op that runs ``action()`` (which builds ops) every num_steps global steps.

    Args:
      action: builds and returns the op(s) to run (called inside a tf.cond branch).
      num_steps: period, > 0.

    Returns:
      an op: runs the action when ``global_step % num_steps == 0``, else a no-op. Needs a global
      step in the graph.
    """
    if num_steps <= 0:
        raise ValueError("num_steps must be > 0")
    global_step = tf.compat.v1.train.get_or_create_global_step()

    def run_action() -> tf.Tensor:
        with tf.control_dependencies(tf.nest.flatten(action())):
            return tf.constant(True)

    return tf.cond(tf.equal(tf.math.floormod(global_step, num_steps), 0), run_action, lambda: tf.constant(False)).op



# --- The original's private helpers that util re-exported ------------------------------------------


def is_string(value: Any) -> bool:
    """Whether ``value`` is a ``str`` or ``bytes``."""
    return isinstance(value, (str, bytes))


def fixed_length_tensor(
    segment_ids: Any, values: Any, pad_value: Any, max_length: int = -1, batch_size: Any = None
) -> tf.Tensor:
    """A dense ``[batch, L]`` tensor of a ragged batch given as sorted row ids and values.

    Row ``r`` holds, in order, the values whose segment id is ``r``, padded with ``pad_value`` and
    truncated to ``L`` columns (the ``FixedLengthTensor`` / ``FixedLengthTensorV2`` ops).

    Args:
      segment_ids: int32/int64 ``[n]``, non-decreasing row of each value.
      values: int32/int64/string ``[n]``.
      pad_value: scalar of the values' dtype.
      max_length: ``L``; negative for the longest row.
      batch_size: None: rows = last segment id + 1; else an int64 scalar (rows without values are
        all padding).

    Returns:
      ``[batch, L]`` tensor of the values' dtype.
    """
    import libtwml

    values = tf.convert_to_tensor(values)
    pad_value = tf.convert_to_tensor(pad_value, dtype=values.dtype)
    if batch_size is None:
        return libtwml.ops.fixed_length_tensor(segment_ids, values, pad_value, max_length=int(max_length))
    return libtwml.ops.fixed_length_tensor_v2(
        segment_ids, values, pad_value, tf.cast(batch_size, tf.int64), max_length=int(max_length)
    )


def batch_apply(fn: Callable[[Any], Any], inputs: Any, dtype: Any = None) -> tf.Tensor:
    """Applies ``fn`` to each element of ``inputs`` along the first dimension (a ``tf.while_loop``,
    through ``tf.map_fn``) and stacks the results.

    Args:
      fn: element -> tensor; an element is ``inputs[i]`` (or a tuple of ``x[i]`` for a tuple of inputs).
      inputs: a tensor ``[n, ...]`` or a tuple of tensors with the same first dimension.
      dtype: the result's dtype (or structure of dtypes) when it differs from the inputs'.

    Returns:
      ``[n, ...]`` stacked results.
    """
    return tf.map_fn(fn, inputs, dtype=dtype)


def boolean_mask(features: Any, mask: Any, name: Optional[str] = None) -> Any:
    """The rows of a tensor, or of each tensor of a dict / list / tuple, where ``mask`` is true.

    Args:
      features: a tensor ``[batch, ...]`` or a dict/list/tuple of them.
      mask: bool ``[batch]``.
      name: name scope.

    Returns:
      the same structure with ``[kept, ...]`` tensors.
    """
    mask = tf.cast(mask, tf.bool)
    with tf.name_scope(name or "boolean_mask"):
        if isinstance(features, dict):
            return {k: tf.boolean_mask(v, mask) for k, v in features.items()}
        if isinstance(features, (list, tuple)):
            return type(features)(tf.boolean_mask(v, mask) for v in features)
        return tf.boolean_mask(features, mask)


def preprocess_feature_regex(feature_regex: Any) -> Any:
    """Anchors feature-name regexes so that they match **whole** names (as FeatureConfigBuilder does).

    Args:
      feature_regex: a regex string, or a list of them.

    Returns:
      ``"^(?:regex)$"`` (a list of them for a list); an already anchored regex is kept.
    """
    if isinstance(feature_regex, (list, tuple)):
        return [preprocess_feature_regex(regex) for regex in feature_regex]
    regex = feature_regex.decode() if isinstance(feature_regex, bytes) else str(feature_regex)
    if regex.startswith("^") and regex.endswith("$"):
        return regex
    return "^(?:%s)$" % regex


def __getattr__(name: str) -> Any:
    # OPLIB (the loaded op library) and CLIB are resolved on first use, like libtwml's own attributes.
    if name == "OPLIB":
        return libtwml.OPLIB
    if name == "CLIB":
        from twml.compat import CLIB

        return CLIB
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


# -- TF-Hub modules ----------------------------------------------------------------------------


def create_module_spec(
    mlp_fn: Callable[..., None],
    mode: str,
    params: Any,
    drop_collections: Optional[Sequence[str]] = None,
) -> Any:
    """A TF-Hub (TF1 ``hub.Module`` format) ModuleSpec of ``mlp_fn`` with two graph versions:
    the default tag set built with ``mode`` and the ``{"train"}`` tag set built in train mode.

    Args:
      mlp_fn: ``mlp_fn(mode=..., params=...)`` builds the module's graph and adds its signatures
        with ``hub.add_signature``.
      mode: a tf.estimator.ModeKeys value for the default (serving) graph.
      params: passed to ``mlp_fn``.
      drop_collections: graph collections left out of the module.

    Returns:
      a ``hub.ModuleSpec``; ``spec.export(path, checkpoint_path=...)`` writes it.
    """
    import tensorflow_hub as hub

    tags_and_args = [
        (set(), {"mode": mode, "params": params}),
        ({"train"}, {"mode": tf.estimator.ModeKeys.TRAIN, "params": params}),
    ]
    return hub.create_module_spec(mlp_fn, tags_and_args=tags_and_args, drop_collections=drop_collections)


def hub_import(input: Any, module: str, module_name: str, trainable: bool = False) -> Any:
    """Apply the TF-Hub module at ``module`` (a path or URL hub can read) to ``input``.

    The module's variables live under the scope ``module_name``; with ``trainable`` they are
    trainable and the module's ``{"train"}`` graph is used.

    Returns:
      the module's default signature output for ``input``.
    """
    import tensorflow_hub as hub

    tags = {"train"} if trainable else None
    return hub.Module(module, trainable=trainable, name=module_name, tags=tags)(input)


def change_name_scope_from_dir(init_scope_name: str, final_scope_name: str, save_dir: str) -> None:
    """Rename the variables of the latest checkpoint in ``save_dir`` from the name scope
    ``init_scope_name`` to ``final_scope_name`` (e.g. to stitch a separately trained model into a
    larger one), writing the renamed checkpoint in place of the old one.

    Raises:
      CheckpointNotFoundError: ``save_dir`` has no checkpoint.
    """
    checkpoint = tf.train.latest_checkpoint(save_dir)
    if checkpoint is None:
        raise CheckpointNotFoundError("no checkpoint in %s" % save_dir)
    prefix = init_scope_name.rstrip("/") + "/"
    with tf.Graph().as_default():
        renamed = []
        for name, _ in tf.train.list_variables(checkpoint):
            value = tf.train.load_variable(checkpoint, name)
            new_name = final_scope_name.rstrip("/") + "/" + name[len(prefix) :] if name.startswith(prefix) else name
            renamed.append(tf.compat.v1.Variable(value, name=new_name))
        saver = tf.compat.v1.train.Saver(renamed)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, checkpoint, write_meta_graph=False)

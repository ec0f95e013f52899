"""Files through ``tf.io.gfile`` (so ``hdfs://``, ``gs://``... paths work as local ones do):
reading and atomic writing, path clean-up, listing by pattern or date, copies and deletes
(re-exported by ``twml.util``)."""

import concurrent.futures
import datetime
import json
import os
import uuid
from typing import Any, List, Optional, Sequence, Union

import tensorflow.compat.v1 as tf

from twml_common.atomic_files import write_file_atomically


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
            raise tf.errors.PermissionDeniedError(
                None, None, "write_file: %s: %s" % (filename, error.strerror)
            ) from None
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

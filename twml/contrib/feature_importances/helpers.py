"""Helpers of the feature-importance modules: text output and name prefixes."""

import os
import tempfile
import uuid
from typing import Any, List, Optional

import tensorflow.compat.v1 as tf


def write_list_to_hdfs_gfile(list_to_write: List[Any], output_path: str) -> None:
    """Writes ``str(row) + "\\n"`` for each element to ``output_path`` (any TF file system).

    The lines go to a local temporary file first, which is then copied with
    ``tf.io.gfile.copy(overwrite=False)`` (an existing target is an error) and removed.
    """
    local = os.path.join(tempfile.gettempdir(), str(uuid.uuid4()))
    try:
        with open(local, "w") as handle:
            for row in list_to_write:
                handle.write(str(row) + "\n")
        tf.io.gfile.copy(local, output_path, overwrite=False)
    finally:
        if os.path.exists(local):
            os.remove(local)


def decode_str_or_unicode(str_or_unicode: Any) -> Any:
    """``x.decode()`` for bytes (anything with ``decode``), else ``x``."""
    return str_or_unicode.decode() if hasattr(str_or_unicode, "decode") else str_or_unicode


def longest_common_prefix(strings: List[str], split_character: Optional[str]) -> str:
    """The longest common prefix of ``strings``, cut after the last ``split_character`` inside it.

    Compares the smallest and the largest string (sorted order). With ``split_character`` None the
    whole common run is returned; otherwise the prefix ends just after the last ``split_character``
    of the common run (``''`` when there is none). Equal strings return the string itself.

    Raises:
      ValueError: ``strings`` is empty.
    """
    if not strings:
        raise ValueError("longest_common_prefix needs at least one string")
    ordered = sorted(strings)
    first, last = ordered[0], ordered[-1]
    if first == last:
        return first
    length = 0
    for i, (a, b) in enumerate(zip(first, last)):
        if a != b:
            break
        if split_character is None or a == split_character:
            length = i + 1
    return first[:length]


__all__ = ["decode_str_or_unicode", "longest_common_prefix", "write_list_to_hdfs_gfile"]

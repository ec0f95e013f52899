"""Helpers of the feature-importance modules: text output and name prefixes."""

from typing import Any, List, Optional

import tensorflow.compat.v1 as tf

from twml import util


def write_list_to_hdfs_gfile(list_to_write: List[Any], output_path: str) -> None:
    """Writes ``str(row) + "\\n"`` for each element to ``output_path`` (any TF file system), whole at
    once (``twml.util.write_file``: a temporary name, then a rename), so a reader never sees a partial
    file. An existing target is an error, as the original's ``tf.io.gfile.copy(overwrite=False)``.

    Raises:
      FileExistsError: ``output_path`` exists.
    """
    if tf.io.gfile.exists(output_path):
        raise FileExistsError("%s exists; feature importances are not overwritten" % output_path)
    util.write_file(output_path, "".join(str(row) + "\n" for row in list_to_write))


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

"""twml.feature_spec: ``feature_spec.yaml``, the feature spec written beside every exported model
(reference §8.4; ``twml.contrib.export.export_feature_spec`` is this writer)."""

import os
from typing import Any, Dict

import tensorflow.compat.v1 as tf
import yaml

from twml.util import write_file

#: The file name ``write_feature_spec`` writes in its directory.
FEATURE_SPEC_FILE = "feature_spec.yaml"


def _plain(value: Any) -> Any:
    """Dicts (OrderedDicts included) as plain dicts, tuples as lists: safe-dumpable YAML."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, (str, int)) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_feature_spec(dir_path: str, feature_spec_dict: Dict[str, Any]) -> str:
    """Write ``feature_spec_dict`` (``FeatureConfig.get_feature_spec()``) as ``dir_path/feature_spec.yaml``.

    The YAML keeps the dicts' insertion order (label columns follow it). The file is written with
    :func:`twml.util.write_file` (a temporary name renamed over the final one), so a reader never
    sees a partial file. ``dir_path`` is created when missing.

    Returns:
      the path of the written file.
    """
    text = yaml.safe_dump(_plain(feature_spec_dict), default_flow_style=False, sort_keys=False)
    tf.io.gfile.makedirs(dir_path)
    path = os.path.join(dir_path, FEATURE_SPEC_FILE)
    write_file(path, text)
    return path

"""twml.contrib.readers.DataRecord: a batch of serialized DataRecords read with a v2 FeatureConfig."""

from typing import Any, Dict

from twml import readers
from twml.contrib.feature_config import extract_v2_features

#: The feature types a dense group or dense feature of the v2 config can hold.
SUPPORTED_DENSE_FEATURE_TYPES = ("BINARY", "CONTINUOUS", "DISCRETE", "STRING")


class DataRecord(readers.DataRecord):
    """``DecodeDataRecord`` of ``serialized`` (string ``[batch]``) for a v2 ``feature_config``.

    Adds :meth:`get_v2_features` to :class:`twml.readers.DataRecord`.
    """

    def get_v2_features(self) -> Dict[str, Any]:
        """The v2 output dict (see ``twml.contrib.feature_config.FeatureConfig.get_parse_fn``)."""
        return extract_v2_features(self, self.feature_config)

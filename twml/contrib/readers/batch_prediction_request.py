"""twml.contrib.readers.BatchPredictionRequest: one serialized BatchPredictionRequest read with a v2
FeatureConfig (common features prepended to every row)."""

from typing import Any, Dict

from twml import readers
from twml.contrib.feature_config import extract_v2_features


class BatchPredictionRequest(readers.BatchPredictionRequest):
    """``DecodeBatchPredictionRequest`` of ``serialized`` (uint8 ``[bytes]``) for a v2 ``feature_config``.

    Adds :meth:`get_v2_features` to :class:`twml.readers.BatchPredictionRequest`; labels are None.
    """

    def get_v2_features(self) -> Dict[str, Any]:
        """The v2 output dict (see ``twml.contrib.feature_config.FeatureConfig.get_parse_fn``)."""
        return extract_v2_features(self, self.feature_config)

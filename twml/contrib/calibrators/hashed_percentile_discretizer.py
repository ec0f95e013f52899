"""HashedPercentileDiscretizerCalibrator: percentile calibration for the contrib
HashedPercentileDiscretizer (reference §7.3)."""

from typing import Any, Dict, Optional

import numpy as np

from twml.contrib.calibrators.percentile_discretizer import PercentileDiscretizerCalibrator
from twml.contrib.layers.hashed_percentile_discretizer import HashedPercentileDiscretizer


class HashedPercentileDiscretizerCalibrator(PercentileDiscretizerCalibrator):
    """``PercentileDiscretizerCalibrator``'s accumulation and weighted-percentile calibration;
    ``to_layer`` builds a ``twml.contrib.layers.HashedPercentileDiscretizer``, whose output keys
    hash (feature id, bin index), so ``2**out_bits`` need not exceed ``n_feature * (n_bin + 1)``.

    Its saved module (``save``) has the single signature ``name`` (the layer has no keep_inputs),
    plus ``<save_dir>/<name>_bin.json`` = ``{feature_ids, bin_boundaries, output_bits}``.
    """

    def to_layer(self, name: Optional[str] = None) -> HashedPercentileDiscretizer:
        """``HashedPercentileDiscretizer(n_feature, n_bin, out_bits, bin_values, hash_keys,
        hash_values, bin_ids, feature_offsets)`` of the calibration.

        Raises:
          RuntimeError: not calibrated.
        """
        if not self._calibrated:
            raise RuntimeError("calibrate() the calibrator before to_layer()")
        n_feature = len(self._hash_map)
        width = self._n_bin + 1
        return HashedPercentileDiscretizer(
            n_feature=n_feature,
            n_bin=self._n_bin,
            out_bits=self._out_bits,
            bin_values=self._bin_vals.reshape(-1),
            hash_keys=np.array(list(self._hash_map.keys()), np.int64),
            hash_values=np.array(list(self._hash_map.values()), np.int64),
            bin_ids=self._bin_ids.reshape(-1),
            feature_offsets=np.arange(0, n_feature * width, width, dtype=np.int64),
            name=name,
            **self._kwargs,
        )

    def _signatures(self, name: str) -> Dict[str, Dict[str, Any]]:
        return {name: {}}

"""HashedPercentileDiscretizerCalibrator: percentile calibration for the contrib
HashedPercentileDiscretizer (reference §7.3)."""

from typing import Any, Dict, Optional

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
        return HashedPercentileDiscretizer(**self._layer_kwargs(name, limit_out_bits=False))

    def signatures(self, name: str) -> Dict[str, Dict[str, Any]]:
        return {name: {}}

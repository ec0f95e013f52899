"""HashingDiscretizerCalibrator: percentile calibration for the contrib HashingDiscretizer (reference §7.3)."""

from typing import Any, Dict, Optional

from twml.contrib.calibrators.percentile_discretizer import PercentileDiscretizerCalibrator
from twml.contrib.layers.hashing_discretizer import HashingDiscretizer


class HashingDiscretizerCalibrator(PercentileDiscretizerCalibrator):
    """``PercentileDiscretizerCalibrator``'s accumulation and calibration; ``to_layer`` builds a
    ``twml.contrib.layers.HashingDiscretizer`` whose keys hash (feature id, bucket), so the output
    key space needs no room reserved for bins.

    Its saved module (``save``) has only the signature ``name`` (the layer has no keep_inputs), plus
    ``<name>_bin.json``; Earlybird loads it with signature ``hashing_discretizer_calibrator``.
    """

    def to_layer(self, name: Optional[str] = None) -> HashingDiscretizer:
        """``HashingDiscretizer(feature_ids by index, bin_vals flattened, n_bin + 1, out_bits,
        cost_per_unit=500)``.

        Raises:
          RuntimeError: not calibrated.
        """
        if not self._calibrated:
            raise RuntimeError("calibrate() the calibrator before to_layer()")
        return HashingDiscretizer(
            feature_ids=self.feature_ids(),
            bin_vals=self._bin_vals.reshape(-1),
            n_bin=self._n_bin + 1,
            out_bits=self._out_bits,
            cost_per_unit=500,
            name=name,
            **self._kwargs,
        )

    def signatures(self, name: str) -> Dict[str, Dict[str, Any]]:
        return {name: {}}

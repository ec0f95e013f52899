"""twml.contrib.calibrators: calibrators that fit discretizer layers to data (reference §7)."""

from twml.contrib.calibrators.calibrator import CalibrationFeature, Calibrator
from twml.contrib.calibrators.hashing_discretizer import HashingDiscretizerCalibrator
from twml.contrib.calibrators.percentile_discretizer import (
    PercentileDiscretizerCalibrator,
    PercentileDiscretizerFeature,
)

__all__ = [
    "CalibrationFeature",
    "Calibrator",
    "HashingDiscretizerCalibrator",
    "PercentileDiscretizerCalibrator",
    "PercentileDiscretizerFeature",
]

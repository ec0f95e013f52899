"""twml.contrib.calibrators: calibrators that fit discretizer layers to data (reference §7)."""

from twml.contrib.calibrators import common_calibrators  # noqa: F401  (bound first, as the original)
from twml.contrib.calibrators.calibrator import CalibrationFeature, Calibrator
from twml.contrib.calibrators.common_calibrators import add_discretizer_arguments, calibrate_discretizer_and_export
from twml.contrib.calibrators.discretize import apply_discretizers, discretize
from twml.contrib.calibrators.hashed_percentile_discretizer import HashedPercentileDiscretizerCalibrator
from twml.contrib.calibrators.hashing_discretizer import HashingDiscretizerCalibrator
from twml.contrib.calibrators.isotonic import IsotonicCalibrator, IsotonicFeature, isotonic_regression
from twml.contrib.calibrators.mdl import MDLCalibrator
from twml.contrib.calibrators.percentile_discretizer import (
    PercentileDiscretizerCalibrator,
    PercentileDiscretizerFeature,
)

__all__ = [
    "add_discretizer_arguments",
    "calibrate_discretizer_and_export",
    "common_calibrators",
    "CalibrationFeature",
    "Calibrator",
    "HashedPercentileDiscretizerCalibrator",
    "HashingDiscretizerCalibrator",
    "IsotonicCalibrator",
    "IsotonicFeature",
    "MDLCalibrator",
    "PercentileDiscretizerCalibrator",
    "PercentileDiscretizerFeature",
    "apply_discretizers",
    "discretize",
    "isotonic_regression",
]

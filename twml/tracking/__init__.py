"""twml.tracking: the original's experiment-tracker module path.

``twml.tracking.ExperimentTracker`` keeps the interface of the original's ML-Metastore tracker and
records into twml's local SQLite tracking database (:mod:`twml.experiment_tracker`).
"""

from twml.tracking import experiment_tracker
from twml.tracking.experiment_tracker import ExperimentTracker

__all__ = ["ExperimentTracker", "experiment_tracker"]

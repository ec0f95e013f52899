"""twml.contrib.export: export a trained model in several modes (``export_all_models``,
``export_model_for_train_and_infer``), the exporters run after evaluations (``BestExporter``,
``LatestExporter``) and ``export_feature_spec`` (reference §8.4)."""

from twml.contrib.export.export_fn import (
    FEATURE_SPEC_FILE,
    export_all_models,
    export_feature_spec,
    export_model_for_train_and_infer,
)
from twml.contrib.export.exporters import BestExporter, LatestExporter

__all__ = [
    "BestExporter",
    "FEATURE_SPEC_FILE",
    "LatestExporter",
    "export_all_models",
    "export_feature_spec",
    "export_model_for_train_and_infer",
]

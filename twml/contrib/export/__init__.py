"""twml.contrib.export: export helpers (so far ``export_feature_spec``)."""

from twml.contrib.export.export_fn import FEATURE_SPEC_FILE, export_feature_spec

__all__ = ["FEATURE_SPEC_FILE", "export_feature_spec"]

"""twml.contrib: the v2 feature config, its spec parsers and export helpers (reference §1.5)."""

from twml.contrib import feature_config, feature_config_parsers
from twml.contrib.export import export_feature_spec
from twml.contrib.feature_config import FeatureConfig, FeatureConfigBuilder

__all__ = ["FeatureConfig", "FeatureConfigBuilder", "export_feature_spec", "feature_config", "feature_config_parsers"]

"""twml.contrib: the v2 feature config, its readers and parsers, calibrators, more layers, metrics,
trainers, export helpers, learning-to-rank utilities, pruning and permutation feature importances.

Imports its submodules as the original did (``layers, feature_importances, calibrators, readers,
utils, build_graphs_fns, feature_config, parsers, initializers, export, feature_config_parsers``,
then ``trainers, metrics, hooks``); ``optimizers`` and ``pruning`` are bound through them.
``eventbus`` is not imported.
"""

# ruff: noqa: I001  (the original's import order)
from twml.contrib import layers, feature_importances, calibrators, readers, utils, build_graphs_fns  # noqa: F401
from twml.contrib import feature_config, parsers, initializers, export, feature_config_parsers  # noqa: F401
from twml.contrib import trainers, metrics, hooks  # noqa: F401
from twml.contrib import optimizers, pruning  # noqa: F401
from twml.contrib.feature_importances import feature_importances as _fi  # noqa: F401  (binds the submodules)
from twml.contrib.export import export_feature_spec
from twml.contrib.feature_config import FeatureConfig, FeatureConfigBuilder

__all__ = ["FeatureConfig", "FeatureConfigBuilder", "export_feature_spec", "feature_config", "feature_config_parsers"]

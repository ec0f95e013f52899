"""Names and regexes: snake_case names, string checks, whole-name feature regexes (re-exported by
``twml.util``)."""

import re
from typing import Any


def to_snake_case(name: str) -> str:
    """CamelCase to snake_case (``FullSparse`` -> ``full_sparse``); a leading ``_`` -> ``private_``."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    if insecure[0] != "_":
        return insecure
    return "private" + insecure


def is_string(value: Any) -> bool:
    """Whether ``value`` is a ``str`` or ``bytes``."""
    return isinstance(value, (str, bytes))


def preprocess_feature_regex(feature_regex: Any) -> Any:
    """Anchors feature-name regexes so that they match **whole** names (as FeatureConfigBuilder does).

    Args:
      feature_regex: a regex string, or a list of them.

    Returns:
      ``"^(?:regex)$"`` (a list of them for a list); an already anchored regex is kept.
    """
    if isinstance(feature_regex, (list, tuple)):
        return [preprocess_feature_regex(regex) for regex in feature_regex]
    regex = feature_regex.decode() if isinstance(feature_regex, bytes) else str(feature_regex)
    if regex.startswith("^") and regex.endswith("$"):
        return regex
    return "^(?:%s)$" % regex

"""twml.contrib.feature_config_parsers: rebuild a feature config from an exported spec.

A spec is what ``FeatureConfig.get_feature_spec()`` returns and
``twml.contrib.export.export_feature_spec`` writes as ``feature_spec.yaml``. Its ``class`` picks the
builder: ``twml.FeatureConfig`` (v1, :class:`twml.FeatureConfigBuilder`) or
``twml.contrib.FeatureConfig`` (v2, :class:`twml.contrib.feature_config.FeatureConfigBuilder`).
Feature names are re-escaped into regexes (``re.escape``), so each one matches exactly its feature
of the data spec; the data spec given must hold every feature the spec names.
"""

import base64
import re
from typing import Any, Dict, Union

import tensorflow.compat.v1 as tf
import yaml

from twml import feature_config as _v1
from twml.contrib import feature_config as _v2

V1_CLASS = "twml.FeatureConfig"
V2_CLASS = "twml.contrib.FeatureConfig"

Builder = Union[_v1.FeatureConfigBuilder, _v2.FeatureConfigBuilder]
Config = Union[_v1.FeatureConfig, _v2.FeatureConfig]


def _names(features: Dict[str, Any], where: str) -> list:
    if not isinstance(features, dict) or not features:
        raise ValueError("feature spec: %s has no features" % where)
    return [entry["featureName"] for entry in features.values()]


def _only_name(entries: Dict[str, Any]) -> list:
    return [entry["featureName"] for entry in (entries or {}).values()]


def create_feature_config_builder_from_dict(feature_spec_dict: Dict[str, Any], data_spec_path: str) -> Builder:
    """The builder (v1 or v2, by the spec's ``class``) that rebuilds the config of a spec dict.

    Raises:
      ValueError: an unknown class, a spec that is not ``format: exported``, a v1 spec with tensor
        features (the v1 builder cannot declare them), or a feature absent from the data spec.
    """
    if not isinstance(feature_spec_dict, dict):
        raise ValueError("feature spec: expected a dict, not %s" % type(feature_spec_dict).__name__)
    cls = feature_spec_dict.get("class")
    if feature_spec_dict.get("format", "exported") != "exported":
        raise ValueError("feature spec: format %r is not 'exported'" % feature_spec_dict.get("format"))
    if cls == V1_CLASS:
        builder: Builder = _v1.FeatureConfigBuilder(data_spec_path)
        for entry in (feature_spec_dict.get("features") or {}).values():
            builder.add_feature(re.escape(entry["featureName"]), entry["featureGroup"])
        if feature_spec_dict.get("tensors") or feature_spec_dict.get("sparse_tensors"):
            raise ValueError("feature spec: a v1 spec with tensors / sparse_tensors cannot be rebuilt yet")
        for name in feature_spec_dict.get("filters") or []:
            builder.add_filter(name)
    elif cls == V2_CLASS:
        builder = _v2.FeatureConfigBuilder(data_spec_path)
        if feature_spec_dict.get("sparseTensors"):
            raise ValueError("feature spec: v2 sparseTensors cannot be rebuilt yet")
        for group in feature_spec_dict.get("sparseFeatureGroups") or []:
            discretize = group.get("discretize") or {}
            builder.extract_features_as_hashed_sparse(
                [re.escape(n) for n in _names(group.get("features"), "sparse group %r" % group.get("outputName"))],
                group["outputName"],
                group["hashSpaceBits"],
                discretize_num_bins=discretize.get("numBins"),
                discretize_output_size_bits=discretize.get("outputSizeBits"),
                discretize_type=discretize.get("type"),
                type_filter=group.get("filterType") or list(_v2.SPARSE_TYPES),
                allow_empty_calibration=bool(discretize.get("allowEmptyCalibration", False)),
            )
        for group in feature_spec_dict.get("denseFeatureGroups") or []:
            builder.extract_feature_group(
                [re.escape(n) for n in _names(group.get("features"), "dense group %r" % group.get("outputName"))],
                group["outputName"],
                group["filterType"],
                group["defaultValue"],
            )
        for dense in feature_spec_dict.get("denseFeatures") or []:
            for name in _names(dense.get("features"), "dense feature"):
                builder.extract_feature(name, dense.get("expectedShape") or [], dense.get("defaultValue"))
        for tensor in (feature_spec_dict.get("tensors") or {}).values():
            builder.extract_tensors(
                [tensor["featureName"]],
                tensor.get("dtype", "float32"),
                tensor.get("shape"),
                tensor.get("defaultValue", 0),
            )
        for image in feature_spec_dict.get("images") or []:
            default_image = image.get("defaultImage")
            builder.extract_image(
                image["featureName"],
                bool(image.get("preprocess", False)),
                image.get("outType", "uint8"),
                int(image.get("channels", 3)),
                None if default_image is None else base64.b64decode(default_image),
            )
    else:
        raise ValueError("feature spec: unknown class %r; expected %r or %r" % (cls, V1_CLASS, V2_CLASS))
    labels = _only_name(feature_spec_dict.get("labels"))
    if labels:
        builder.add_labels(labels)
    weights = _only_name(feature_spec_dict.get("weight"))
    if len(weights) > 1:
        raise ValueError("feature spec: more than one weight: %s" % ", ".join(weights))
    if weights:
        builder.define_weight(weights[0])
    return builder


def create_feature_config_from_dict(config_dict: Dict[str, Any], data_spec_path: str) -> Config:
    """The config (v1 ``twml.FeatureConfig`` or v2 ``twml.contrib.FeatureConfig``) of a spec dict
    ``config_dict``, over the data spec ``data_spec_path``. Raises ValueError as
    :func:`create_feature_config_builder_from_dict`."""
    return create_feature_config_builder_from_dict(config_dict, data_spec_path).build()


def create_feature_config(config_path: str, data_spec_path: str) -> Config:
    """The config of an exported ``feature_spec.yaml`` at ``config_path`` (read through ``tf.io.gfile``).

    Raises:
      ValueError: the file is not valid YAML, or as :func:`create_feature_config_from_dict`.
    """
    with tf.io.gfile.GFile(config_path, "r") as handle:
        text = handle.read()
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError("feature spec %s: invalid YAML: %s" % (config_path, error)) from None
    return create_feature_config_from_dict(spec, data_spec_path)

"""The types of data.thrift: DataRecord, FeatureType, FeatureMetaInfo, ..."""

from twml_common import idl

globals().update(idl.types_of(idl.data))
__all__ = sorted(idl.types_of(idl.data))

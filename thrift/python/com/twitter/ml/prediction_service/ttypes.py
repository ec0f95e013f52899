"""The types of prediction_service.thrift: BatchPredictionRequest, BatchPredictionResponse, ..."""

from twml_common import idl

globals().update(idl.types_of(idl.prediction_service))
__all__ = sorted(idl.types_of(idl.prediction_service))

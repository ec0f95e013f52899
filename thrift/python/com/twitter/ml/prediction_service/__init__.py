"""Python namespace of prediction_service.thrift (com.twitter.ml.prediction_service)."""

"""Python namespace of tensor.thrift (com.twitter.ml.api.tensor)."""

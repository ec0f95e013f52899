"""Python namespace of data.thrift (com.twitter.ml.api)."""

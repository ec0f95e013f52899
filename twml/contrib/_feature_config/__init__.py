"""The concepts behind ``twml.contrib.feature_config``; import them through that module."""

"""The concepts behind ``twml.util``, one module each; import them through ``twml.util``."""

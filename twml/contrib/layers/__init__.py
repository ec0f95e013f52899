"""twml.contrib.layers: contrib layers over twml's ops (reference §6, contrib layers)."""

from twml.contrib.layers.hashing_discretizer import HashingDiscretizer

__all__ = ["HashingDiscretizer"]

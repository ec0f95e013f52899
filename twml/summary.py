"""twml.summary: ``flush(writer=None, name=None)``, TensorFlow's ``summary_ops_v2.flush`` (TF 2:
``tf.summary.flush``): writes the buffered events of a (default) v2 summary writer."""

from tensorflow.python.ops.summary_ops_v2 import flush

__all__ = ["flush"]

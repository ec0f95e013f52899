"""twml.filters: drop entries or samples from the sparse features a parse function returns.

They work on the ``(features, labels)`` pairs of ``twml.parsers`` (the original's names; its
bodies are private, so this is the design):

* ``features`` is a dict of hashed-record columns: ``ids`` (int64 ``[total]``, the row of each
  entry), and any of ``keys`` / ``ukeys`` / ``values`` / ``codes`` / ``types`` (``[total]`` each),
  ``batch_size`` and ``total_size`` (int64 scalars), and ``[batch, ...]`` tensors such as
  ``weights`` (float32 ``[batch, 1]``); ``labels`` is float32 ``[batch, n_labels]`` or None.
* :func:`sparse_keep_feature_if` keeps the **entries** for which a condition holds; rows stay.
* :func:`sparse_keep_sample_if` keeps the **samples (rows)** for which a condition holds: their
  entries, their ``[batch, ...]`` rows and labels; ``ids`` are renumbered ``0..kept-1`` in order.
* :func:`balance_binary_class_samples` downsamples the majority class of a binary label within
  each batch so that both classes are kept in equal numbers in expectation.

All of them build graph ops; nothing runs until the session does.
"""

from typing import Any, Callable, Dict, Optional, Tuple, Union

import tensorflow.compat.v1 as tf

Features = Dict[str, Any]
#: A bool tensor, or a function computing one from the arguments of the filter.
Condition = Union[tf.Tensor, Callable[..., tf.Tensor]]

#: Columns with one element per entry (``[total]``).
ENTRY_FIELDS = ("ids", "ukeys", "keys", "values", "codes", "types")


def _entry_count(features: Features) -> tf.Tensor:
    for field in ENTRY_FIELDS:
        if field in features:
            return tf.size(features[field], out_type=tf.int64)
    raise ValueError("features hold no entry column (one of %s)" % ", ".join(ENTRY_FIELDS))


def sparse_keep_feature_if(features: Features, condition: Condition) -> Features:
    """Keep only the entries for which ``condition`` holds.

    Args:
      features: a dict of hashed-record columns (see the module docstring).
      condition: bool ``[total]`` tensor, or ``fn(features) -> bool [total]`` (e.g.
        ``lambda f: tf.equal(f["codes"], 0)`` keeps the features of group "A").

    Returns:
      A new dict: every entry column (``[total]``) masked, ``total_size`` (int64 scalar) updated;
      ``batch_size`` and the ``[batch, ...]`` tensors unchanged.
    """
    mask = condition(features) if callable(condition) else condition
    mask = tf.convert_to_tensor(mask, dtype=tf.bool)
    out = dict(features)
    for field in ENTRY_FIELDS:
        if field in out:
            out[field] = tf.boolean_mask(out[field], mask)
    if "total_size" in out:
        out["total_size"] = tf.reduce_sum(tf.cast(mask, tf.int64))
    return out


def sparse_keep_sample_if(
    features: Features, labels: Optional[tf.Tensor], condition: Condition
) -> Tuple[Features, Optional[tf.Tensor]]:
    """Keep only the samples (rows) for which ``condition`` holds.

    Args:
      features: a dict of hashed-record columns; it must hold ``ids`` (int64 ``[total]``) and, to
        know the batch size when no ``[batch, ...]`` tensor is there, ``batch_size``.
      labels: float32 ``[batch, n_labels]``, or None.
      condition: bool ``[batch]`` tensor, or ``fn(features, labels) -> bool [batch]``.

    Returns:
      ``(features, labels)``: entries of dropped rows removed and ``ids`` renumbered (int64
      ``[kept_total]``, rows ``0..kept-1`` in their original order); every other dict value whose
      first dimension is the batch (``weights`` ...) and ``labels`` keep only the kept rows;
      ``batch_size`` / ``total_size`` (int64 scalars) updated.

    Raises:
      ValueError: ``features`` has no ``ids``.
    """
    if "ids" not in features:
        raise ValueError("sparse_keep_sample_if needs the 'ids' field in features")
    mask = condition(features, labels) if callable(condition) else condition
    mask = tf.reshape(tf.convert_to_tensor(mask, dtype=tf.bool), [-1])
    ids = features["ids"]
    new_row = tf.cumsum(tf.cast(mask, tf.int64)) - 1
    entry_mask = tf.gather(mask, ids)
    out = {}
    for field, value in features.items():
        if field == "ids":
            out[field] = tf.gather(new_row, tf.boolean_mask(ids, entry_mask))
        elif field in ENTRY_FIELDS:
            out[field] = tf.boolean_mask(value, entry_mask)
        elif field == "batch_size":
            out[field] = tf.reduce_sum(tf.cast(mask, tf.int64))
        elif field == "total_size":
            out[field] = tf.reduce_sum(tf.cast(entry_mask, tf.int64))
        elif isinstance(value, (tf.Tensor, tf.Variable)) and value.shape.ndims:
            out[field] = tf.boolean_mask(value, mask)
        else:
            out[field] = value
    if labels is not None:
        labels = tf.boolean_mask(labels, mask)
    return out, labels


def balance_binary_class_samples(
    features: Features,
    labels: tf.Tensor,
    label_column: int = 0,
    threshold: float = 0.5,
    seed: Optional[int] = None,
) -> Tuple[Features, tf.Tensor]:
    """Downsample the majority class of a binary label, batch by batch.

    A sample is positive when ``labels[:, label_column] > threshold``. With ``p`` positives and
    ``n`` negatives in the batch, every minority-class sample is kept and each majority-class
    sample is kept with probability ``min(p, n) / max(p, n)`` (all are kept when a class is
    absent), so both classes are kept in equal numbers in expectation. Weights are not rescaled.

    Args:
      features: as :func:`sparse_keep_sample_if`.
      labels: float32 ``[batch, n_labels]``.
      label_column: the column of the binary label.
      threshold: the positive/negative boundary.
      seed: op seed of the uniform draws.

    Returns:
      ``(features, labels)`` of the kept samples, as :func:`sparse_keep_sample_if`.
    """
    labels = tf.convert_to_tensor(labels)
    positive = tf.greater(labels[:, label_column], threshold)
    num_positive = tf.reduce_sum(tf.cast(positive, tf.float32))
    num_negative = tf.reduce_sum(tf.cast(tf.logical_not(positive), tf.float32))
    minority = tf.minimum(num_positive, num_negative)
    majority = tf.maximum(num_positive, num_negative)
    rate = tf.where(tf.greater(minority, 0.0), minority / tf.maximum(majority, 1.0), 1.0)
    in_majority = tf.where(tf.greater_equal(num_positive, num_negative), positive, tf.logical_not(positive))
    draws = tf.random.uniform(tf.shape(positive), seed=seed)
    keep = tf.logical_or(tf.logical_not(in_majority), tf.less(draws, rate))
    return sparse_keep_sample_if(features, labels, keep)

"""twml.input_fns: input functions for tf.estimator over block-format files (reference §12.3)."""

import logging
from typing import Callable, Optional, Sequence

import tensorflow as tf

from twml.dataset import stream_block_format_dataset

_LOG = logging.getLogger(__name__)


def data_record_input_fn(
    files: Sequence[str],
    batch_size: int,
    parse_fn: Callable,
    num_threads: int = 2,
    repeat: bool = False,
    dataset_fn: Optional[Callable] = None,
    keep_rate: Optional[float] = None,
    parts_downsampling_rate: Optional[float] = None,
    shards: Optional[int] = None,
    shard_index: Optional[int] = None,
    shuffle: bool = True,
    shuffle_files: bool = True,
    interleave: bool = True,
    initializable: bool = False,
    log_tf_data_summaries: bool = False,
    **kwargs: object,
) -> object:
    """The next batch of a :func:`twml.dataset.stream_block_format_dataset` pipeline, in a graph.

    Call it inside an Estimator ``input_fn`` (graph mode). Each ``session.run`` of the result
    yields the next output of ``parse_fn`` on a batch (a ``tf.string`` vector of shape
    ``[<= batch_size]`` of serialized records); the end of the data raises
    ``tf.errors.OutOfRangeError``.

    Args:
      files, batch_size, parse_fn, num_threads, repeat, dataset_fn, keep_rate,
      parts_downsampling_rate, shards, shard_index, shuffle, shuffle_files, interleave: as in
        ``stream_block_format_dataset``; ``**kwargs`` are passed on to it too.
      initializable: make an initializable iterator and add its initializer to the
        ``TABLE_INITIALIZERS`` collection (run by Estimator's scaffold); else a one-shot iterator.
      log_tf_data_summaries: tf.data statistics summaries (needs initializable). TensorFlow 2.15
        no longer has tf.data's StatsAggregator, so no summaries are written; a warning says so.

    Returns:
      the (nested) tensors of ``iterator.get_next()``.

    Raises:
      ValueError: log_tf_data_summaries without initializable, or as stream_block_format_dataset.
    """
    if log_tf_data_summaries and not initializable:
        raise ValueError("log_tf_data_summaries requires initializable=True")
    dataset = stream_block_format_dataset(
        files=files,
        parse_fn=parse_fn,
        batch_size=batch_size,
        num_threads=num_threads,
        repeat=repeat,
        dataset_fn=dataset_fn,
        keep_rate=keep_rate,
        parts_downsampling_rate=parts_downsampling_rate,
        shards=shards,
        shard_index=shard_index,
        shuffle=shuffle,
        shuffle_files=shuffle_files,
        interleave=interleave,
        **kwargs,
    )
    if log_tf_data_summaries:
        _LOG.warning("log_tf_data_summaries: tf.data StatsAggregator is not in TensorFlow 2.15; no summaries")
    if initializable:
        iterator = tf.compat.v1.data.make_initializable_iterator(dataset)
        tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS, iterator.initializer)
    else:
        iterator = tf.compat.v1.data.make_one_shot_iterator(dataset)
    return iterator.get_next()


#: The original's alias.
default_input_fn = data_record_input_fn

__all__ = ["data_record_input_fn", "default_input_fn"]

"""Datasets of DataRecords read from a :class:`~twml.contrib.eventbus.reader.BinaryRecordReader`."""

import logging
from typing import Any, Callable, Iterator, Optional

import tensorflow.compat.v1 as tf

from twml.contrib.eventbus.reader import EventBusPipedBinaryRecordReader

_LOG = logging.getLogger(__name__)


def get_eventbus_data_record_generator(eventbus_reader: Any) -> Callable[[], Iterator[bytes]]:
    """A generator function: initializes the reader once, then yields ``reader.read()`` forever.

    With ``reader.debug`` it logs a counter and writes each record to ``tmp_record_<i>.bin`` in the
    working directory.
    """

    def generator() -> Iterator[bytes]:
        eventbus_reader.initialize()
        count = 0
        while True:
            record = eventbus_reader.read()
            if getattr(eventbus_reader, "debug", False):
                _LOG.info("eventbus record %d", count)
                with open("tmp_record_%d.bin" % count, "wb") as handle:
                    handle.write(record)
            count += 1
            yield record

    return generator


def get_eventbus_data_record_dataset(
    eventbus_reader: Any, parse_fn: Callable[[tf.Tensor], Any], batch_size: int
) -> tf.data.Dataset:
    """``Dataset.from_generator`` of the reader's records (scalar strings), batched, parsed (4 parallel
    calls) and prefetched (10)."""
    dataset = tf.data.Dataset.from_generator(
        get_eventbus_data_record_generator(eventbus_reader), tf.string, tf.TensorShape([])
    )
    return dataset.batch(batch_size).map(parse_fn, num_parallel_calls=4).prefetch(buffer_size=10)


def get_train_input_fn(
    feature_config: Any, params: Any, parse_fn: Optional[Callable[..., Any]] = None
) -> Callable[[], tf.data.Dataset]:
    """Twitter-internal: an input fn over an EventBus subscription (``params.jar_file``,
    ``num_eb_threads``, ``subscriber_id``, ``filter_str``, ``debug``, ``train_batch_size``).

    Raises:
      RuntimeError: always, naming EventBus (its subscriber is Twitter-internal); use
        :func:`get_eventbus_data_record_dataset` with your own ``BinaryRecordReader``, or
        ``twml.input_fns.data_record_input_fn`` over block files.
    """
    del feature_config, parse_fn
    reader = EventBusPipedBinaryRecordReader(
        params.jar_file, params.num_eb_threads, params.subscriber_id, filter_str=params.filter_str, debug=params.debug
    )
    raise reader.unavailable_error()


__all__ = ["get_eventbus_data_record_dataset", "get_eventbus_data_record_generator", "get_train_input_fn"]

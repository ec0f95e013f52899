"""File ordering by a shared ZooKeeper counter: ``cx_zk_path`` and ``zookeeper_ordered_dataset``.

The original used Twitter's internal ZooKeeper through ``kazoo``; here the host is
``twml.constants.DEFAULT_ZOOKEEPER_HOST`` (overridable), and the dataset needs the ``kazoo``
package, which twml does not install. Without it the dataset raises an ImportError naming kazoo
and the local alternative (``stream_block_format_dataset`` with ``shards``/``shard_index``).
"""

import logging
from typing import Any, Callable, Optional, Sequence

import tensorflow.compat.v1 as tf

from twml import constants

_LOG = logging.getLogger(__name__)


def cx_zk_path(path: str) -> str:
    """``DEFAULT_ZOOKEEPER_BASE_ZNODE + "/" + path``: the znode of a shared counter.

    Raises:
      ValueError: ``path`` is None.
    """
    if path is None:
        raise ValueError("cx_zk_path: path must not be None")
    znode = constants.DEFAULT_ZOOKEEPER_BASE_ZNODE + "/" + path
    _LOG.info("ZooKeeper counter znode: %s", znode)
    return znode


def zookeeper_ordered_dataset(
    files: Sequence[str],
    parse_fn: Callable[[tf.Tensor], Any],
    batch_size: int,
    zk_counter_path: str,
    repeat: bool = False,
    num_threads: int = 2,
    block_length: Optional[int] = None,
    part_file_parallelism: Optional[int] = None,
    batch_shuffle_size: Optional[int] = None,
    file_keep_rate: Optional[float] = None,
    record_keep_rate: Optional[float] = None,
    prefetch_size: int = 2,
    interleave: bool = False,
    dataset_fn: Optional[Callable[..., Any]] = None,
    verbose: bool = False,
) -> tf.data.Dataset:
    """Reads ``files`` in the order given by a ZooKeeper counter shared by every worker.

    Each worker increments the counter at ``cx_zk_path(zk_counter_path)`` on
    ``DEFAULT_ZOOKEEPER_HOST`` and reads ``files[previous value]`` (modulo ``len(files)`` with
    ``repeat``), so that workers never read the same file twice.

    Raises:
      ImportError: the ``kazoo`` ZooKeeper client is not installed (twml does not depend on it):
        install kazoo and point ``twml.constants.DEFAULT_ZOOKEEPER_HOST`` at your ZooKeeper, or
        use ``twml.dataset.stream_block_format_dataset(files, ..., shards=N, shard_index=i)``.
    """
    try:
        from kazoo.client import KazooClient
    except ImportError as error:
        raise ImportError(
            "zookeeper_ordered_dataset needs a ZooKeeper server and the kazoo client (pip install kazoo), "
            "which twml does not ship; set twml.constants.DEFAULT_ZOOKEEPER_HOST to your ZooKeeper, or split "
            "files between workers with twml.dataset.stream_block_format_dataset(..., shards=N, shard_index=i)"
        ) from error
    # deferred: twml.dataset imports this module (cycle)
    from twml.dataset import BlockFormatDataset, downsample_dataset

    files = list(files)
    znode = cx_zk_path(zk_counter_path)
    client = KazooClient(hosts=constants.DEFAULT_ZOOKEEPER_HOST)
    client.start()
    counter = client.Counter(znode)

    def next_files() -> Any:
        shared = counter
        while True:
            shared += 1  # kazoo's Counter increments on the server and returns itself
            index = shared.pre_value
            if index >= len(files) and not repeat:
                return
            if verbose:
                _LOG.info("zookeeper_ordered_dataset: file %d", index)
            yield files[index % len(files)]

    names = tf.data.Dataset.from_generator(next_files, tf.string, tf.TensorShape([]))
    names = downsample_dataset(names, file_keep_rate, "file_keep_rate")

    def records(name: tf.Tensor) -> tf.data.Dataset:
        return BlockFormatDataset(name).prefetch(20)

    if interleave:
        dataset = names.interleave(
            records, cycle_length=part_file_parallelism or num_threads, block_length=block_length or 1
        )
    else:
        dataset = names.flat_map(records)
    dataset = downsample_dataset(dataset, record_keep_rate, "record_keep_rate")
    if dataset_fn is not None:
        return dataset_fn(dataset, parse_fn, batch_size)
    dataset = dataset.batch(batch_size).map(parse_fn, num_parallel_calls=num_threads)
    if batch_shuffle_size:
        dataset = dataset.shuffle(batch_shuffle_size)
    return dataset.prefetch(prefetch_size)

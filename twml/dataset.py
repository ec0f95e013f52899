"""twml.dataset: tf.data pipelines over block-format DataRecord files (reference §12.3).

``BlockFormatDataset`` reads the serialized records of block files; ``stream_block_format_dataset``
builds the original's training pipeline (sharding, file shuffling, per-file record shuffling,
interleaving, downsampling, batching and parsing). Both work in graph mode (tf.compat.v1) and
eagerly.
"""

from typing import Callable, Optional, Sequence, Union

import tensorflow as tf
from tensorflow.python.data.ops import dataset_ops

import libtwml

Files = Union[str, Sequence[str], tf.Tensor]


class BlockFormatDataset(dataset_ops.DatasetSource):
    """A ``tf.data.Dataset`` of the records of block-format files, in file order.

    Each element is a scalar ``tf.string``: one serialized record (normally a Thrift DataRecord).

    Args:
      filenames: a file name or a list of them (``str``, or a ``tf.string`` scalar/vector tensor).
      compression_type: ``"auto"`` (from the extension: ``gz`` -> gzip, none -> raw, ``lzo`` ->
        lzop), ``"gz"``, ``"lzo"`` or ``""`` (raw). Lower-cased, as the original wrapper does.
      buffer_size: read (and decompression) buffer in bytes, >= 0 (default 1 MiB).
      skip_corrupt: drop corrupt blocks instead of failing: reading resynchronises at the next
        sync marker, and each file with dropped blocks logs a warning naming it and the blocks and
        records lost. A corrupt gzip/lzop stream ends its file there. Default off.

    A missing file is a ``tf.errors.NotFoundError`` and a corrupt one a ``tf.errors.DataLossError``
    (unless skip_corrupt) when the element is read; a bad compression type is an
    ``InvalidArgumentError``.
    """

    def __init__(
        self,
        filenames: Files,
        compression_type: str = "auto",
        buffer_size: int = 1 << 20,
        skip_corrupt: bool = False,
    ) -> None:
        self._filenames = tf.convert_to_tensor(filenames, dtype=tf.string, name="filenames")
        self._compression_type = tf.convert_to_tensor(
            compression_type.lower() if isinstance(compression_type, str) else compression_type,
            dtype=tf.string,
            name="compression_type",
        )
        self._buffer_size = tf.convert_to_tensor(buffer_size, dtype=tf.int64, name="buffer_size")
        variant = libtwml.ops.block_format_dataset_v2(
            self._filenames, self._compression_type, self._buffer_size, skip_corrupt=bool(skip_corrupt)
        )
        super().__init__(variant)

    @property
    def element_spec(self) -> tf.TensorSpec:
        """``tf.TensorSpec([], tf.string)``: one serialized record per element."""
        return tf.TensorSpec([], tf.string)


def downsample_dataset(dataset: tf.data.Dataset, sample_rate: float, rate_name: str) -> tf.data.Dataset:
    """Keeps each element of ``dataset`` independently with probability ``sample_rate``.

    Args:
      dataset: any ``tf.data.Dataset``.
      sample_rate: keep probability, in (0, 1]; 1 returns ``dataset`` unchanged.
      rate_name: the parameter's name, used in the error message.

    Returns:
      the filtered dataset (same element spec).

    Raises:
      ValueError: sample_rate is not in (0, 1].
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)) or not 0.0 < sample_rate <= 1.0:
        raise ValueError("%s must be a number in (0, 1], not %r" % (rate_name, sample_rate))
    if sample_rate == 1.0:
        return dataset
    rate = float(sample_rate)
    return dataset.filter(lambda *_: tf.random.uniform([], dtype=tf.float32) < rate)


def stream_block_format_dataset(
    files: Files,
    parse_fn: Callable,
    batch_size: int,
    num_threads: int,
    shuffle: bool = True,
    repeat: bool = False,
    block_length: Optional[int] = None,
    part_file_parallelism: Optional[int] = None,
    file_shuffle_size: Optional[int] = None,
    record_shuffle_size: Optional[int] = None,
    dataset_fn: Optional[Callable] = None,
    keep_rate: Optional[float] = None,
    parts_downsampling_rate: Optional[float] = None,
    prefetch_size: int = 2,
    shards: Optional[int] = None,
    shard_index: Optional[int] = None,
    shuffle_files: bool = True,
    interleave: bool = True,
    skip_corrupt: bool = False,
) -> tf.data.Dataset:
    """The original's streaming pipeline over block-format files.

    files -> ``shard(shards, shard_index)`` (when both are given) -> ``repeat()`` (when repeat) ->
    ``shuffle(file_shuffle_size)`` (when shuffle_files) -> file downsampling
    (parts_downsampling_rate) -> per file ``BlockFormatDataset(f).prefetch(AUTOTUNE)``, plus
    ``shuffle(record_shuffle_size)`` when shuffle -> ``interleave(cycle_length=
    part_file_parallelism, block_length, num_parallel_calls=num_threads)`` (or ``flat_map`` when
    not interleave) -> record downsampling (keep_rate) -> ``batch(batch_size).map(parse_fn,
    AUTOTUNE).prefetch(prefetch_size)``, or ``dataset_fn(dataset, parse_fn, batch_size)`` instead
    of that last step when given.

    Args:
      files: the block files (list of ``str`` or a ``tf.string`` vector); must not be empty.
      parse_fn: called on each batch, a ``tf.string`` tensor of shape ``[<= batch_size]`` of
        serialized records; returns the element (e.g. ``(features, labels)``).
      batch_size: records per batch (the last batch may be smaller).
      num_threads: parallel calls of the interleave.
      shuffle: shuffle the records of each file (buffer record_shuffle_size).
      repeat: repeat the files forever.
      block_length: records taken from a file in turn (default batch_size).
      part_file_parallelism: files read at once (default num_threads).
      file_shuffle_size: file shuffle buffer (default 100000).
      record_shuffle_size: record shuffle buffer per file (default batch_size * 8).
      dataset_fn: ``dataset_fn(dataset, parse_fn, batch_size)`` replaces batching and parsing.
      keep_rate: keep each record with this probability, in (0, 1].
      parts_downsampling_rate: keep each file with this probability, in (0, 1].
      prefetch_size: batches prefetched (default 2).
      shards, shard_index: read only files ``shard_index, shard_index + shards, ...``.
      shuffle_files: shuffle the file order.
      interleave: interleave files (else read them one after another).
      skip_corrupt: drop corrupt blocks with a warning instead of failing (see BlockFormatDataset).

    Returns:
      a ``tf.data.Dataset`` of parse_fn's outputs.

    Raises:
      ValueError: files is empty, or a rate is not in (0, 1].
    """
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, tf.Tensor) and len(files) == 0:
        raise ValueError("files list cannot be empty")
    for rate, name in ((keep_rate, "keep_rate"), (parts_downsampling_rate, "parts_downsampling_rate")):
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 < rate <= 1.0):
            raise ValueError("%s must be a number in (0, 1], not %r" % (name, rate))
    block_length = block_length or batch_size
    part_file_parallelism = part_file_parallelism or num_threads
    file_shuffle_size = file_shuffle_size or 100000
    record_shuffle_size = record_shuffle_size or batch_size * 8

    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shards is not None and shard_index is not None:
        dataset = dataset.shard(shards, shard_index)
    if repeat:
        dataset = dataset.repeat()
    if shuffle_files:
        dataset = dataset.shuffle(file_shuffle_size)
    if parts_downsampling_rate is not None:
        dataset = downsample_dataset(dataset, parts_downsampling_rate, "parts_downsampling_rate")

    def file_records(file_name: tf.Tensor) -> tf.data.Dataset:
        records = BlockFormatDataset(file_name, skip_corrupt=skip_corrupt).prefetch(tf.data.AUTOTUNE)
        if shuffle:
            records = records.shuffle(record_shuffle_size)
        return records

    if interleave:
        dataset = dataset.interleave(
            file_records,
            cycle_length=part_file_parallelism,
            block_length=block_length,
            num_parallel_calls=num_threads,
        )
    else:
        dataset = dataset.flat_map(file_records)
    if keep_rate is not None:
        dataset = downsample_dataset(dataset, keep_rate, "keep_rate")
    if dataset_fn is not None:
        return dataset_fn(dataset, parse_fn, batch_size)
    return dataset.batch(batch_size).map(parse_fn, num_parallel_calls=tf.data.AUTOTUNE).prefetch(prefetch_size)


# The original's ZooKeeper-ordered reading; one implementation, in twml.zookeeper (needs kazoo).
from twml.zookeeper import cx_zk_path, zookeeper_ordered_dataset  # noqa: E402

__all__ = [
    "BlockFormatDataset",
    "stream_block_format_dataset",
    "downsample_dataset",
    "cx_zk_path",
    "zookeeper_ordered_dataset",
]

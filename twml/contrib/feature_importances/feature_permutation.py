"""Evaluation inputs whose features are permuted between records (for permutation importances)."""

import copy
import random
import types
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow.compat.v1 as tf

from twml import util
from twml_common import DataRecord, deserialize, serialize
from twml_common.block_files import read_records


def _permute(record: Any, replacement: Any, fname_ftypes: Sequence[Tuple[str, str]]) -> Any:
    """A copy of ``record`` whose features ``(name, thrift field)`` take the values of ``replacement``
    (removed when ``replacement`` lacks them)."""
    record = copy.deepcopy(record)
    for name, field in fname_ftypes:
        fid = int(util.feature_id(name)[0])
        source = getattr(replacement, field, None) or (set() if field == "binaryFeatures" else {})
        target = getattr(record, field, None)
        if target is None:
            target = set() if field == "binaryFeatures" else {}
            setattr(record, field, target)
        if fid in source:
            if field == "binaryFeatures":
                target.add(fid)
            else:
                target[fid] = copy.deepcopy(source[fid])
        elif fid in target:
            if field == "binaryFeatures":
                target.discard(fid)
            else:
                del target[fid]
    return record


class PermutedInputFnFactory:
    """Loads up to ``record_count`` DataRecords once, then builds evaluation input fns over them with
    chosen features permuted.

    Args:
      data_dir: a directory of block files (``util.list_files``), or None.
      record_count: the number of records kept.
      file_list: the files, or None (exactly one of ``data_dir`` / ``file_list``).
      datarecord_filter_fn: None or a function ``DataRecord -> bool``; records for which it is False
        are dropped.

    Raises:
      ValueError: both or neither of ``data_dir`` and ``file_list``.
      TypeError: ``datarecord_filter_fn`` is not a Python function.

    Attribute ``records``: the loaded Thrift DataRecords (files shuffled).
    """

    def __init__(
        self,
        data_dir: Optional[str],
        record_count: int,
        file_list: Optional[List[str]] = None,
        datarecord_filter_fn: Optional[Callable[[Any], bool]] = None,
    ) -> None:
        if (data_dir is None) == (file_list is None):
            raise ValueError("give exactly one of data_dir and file_list")
        if datarecord_filter_fn is not None and not isinstance(datarecord_filter_fn, types.FunctionType):
            raise TypeError("datarecord_filter_fn must be a Python function")
        files = list(file_list) if file_list is not None else util.list_files(util.preprocess_path(data_dir))
        random.shuffle(files)
        self.records: List[Any] = []
        for data in read_records(files):
            if len(self.records) >= int(record_count):
                break
            record = deserialize(DataRecord(), data)
            if datarecord_filter_fn is None or datarecord_filter_fn(record):
                self.records.append(record)

    def get_permuted_input_fn(
        self, batch_size: int, parse_fn: Callable[[tf.Tensor], Any], fname_ftypes: Sequence[Tuple[str, str]]
    ) -> Callable[[], tf.data.Dataset]:
        """An input fn over the loaded records (one pass, ``batch_size`` per batch) in which, for each
        record, the features ``fname_ftypes`` (list of ``(feature name, thrift field name)``) take the
        values of one randomly chosen record of the set; parsed by ``parse_fn``.

        The permutation runs in ``tf.py_func``; the batch reaching ``parse_fn`` is string ``[None]``.
        """
        serialized = [serialize(record) for record in self.records]
        fname_ftypes = list(fname_ftypes)
        records = self.records

        def permute_batch(batch: np.ndarray) -> np.ndarray:
            if not fname_ftypes:
                return batch
            out = []
            for data in batch:
                record = deserialize(DataRecord(), bytes(data))
                out.append(serialize(_permute(record, random.choice(records), fname_ftypes)))
            return np.array(out, dtype=object)

        def input_fn() -> tf.data.Dataset:
            dataset = tf.data.Dataset.from_tensor_slices(tf.constant(serialized, dtype=tf.string))
            dataset = dataset.batch(int(batch_size))

            def parse(batch: tf.Tensor) -> Any:
                permuted = tf.py_func(permute_batch, [batch], tf.string, stateful=True)
                permuted.set_shape([None])
                return parse_fn(permuted)

            return dataset.map(parse, num_parallel_calls=4)

        return input_fn


__all__ = ["PermutedInputFnFactory"]

"""twml_common.initializer: a test helper initialising a partitioned 2-D variable from one numpy array."""

from typing import Any, Sequence

import numpy as np


class PartitionInitializer:
    """Keras-style initializer returning each partition's slice of ``np_array``.

    Args:
      np_array: the whole ``[rows, cols]`` value of the (partitioned) variable.

    ``__call__(shape, dtype=None, partition_info=None)`` returns
    ``np_array[o0:o0 + shape[0], o1:o1 + shape[1]]`` with ``(o0, o1) = partition_info.var_offset``;
    ``dtype`` is ignored (the array's dtype is kept).

    Raises (on call):
      ValueError: ``partition_info`` is None (the variable is not partitioned).
    """

    def __init__(self, np_array: np.ndarray) -> None:
        self.np_array = np.asarray(np_array)

    def __call__(self, shape: Sequence[int], dtype: Any = None, partition_info: Any = None) -> np.ndarray:
        if partition_info is None:
            raise ValueError("PartitionInitializer initialises partitioned variables only (partition_info is None)")
        row, col = partition_info.var_offset
        return self.np_array[row : row + int(shape[0]), col : col + int(shape[1])]

"""twml.Array: a numpy array seen as a twml tensor (the original's handle for libtwml's C ABI).

The original wrapped the array's buffer in a C ``twml_tensor`` through ctypes. This rebuild has no
C ABI (the core is reached through ``libtwml._core`` and the TF ops), so ``Array`` keeps the
original's checks and properties over numpy alone: no copy is made, the wrapper keeps a reference
to the array, and ``handle`` is that array.
"""

import logging
from typing import Tuple

import numpy as np

_LOG = logging.getLogger(__name__)

#: numpy dtype -> the original's twml type code.
TYPE_CODES = {
    np.dtype(np.float32): 1,
    np.dtype(np.float64): 2,
    np.dtype(np.int32): 3,
    np.dtype(np.int64): 4,
    np.dtype(np.int8): 5,
    np.dtype(np.uint8): 6,
}


class Array:
    """Wraps a numpy array without copying it.

    Args:
      array: an ``np.ndarray`` of dtype float32, float64, int32, int64, int8 or uint8, any shape.

    Raises:
      TypeError: ``array`` is not an ``np.ndarray``.
      KeyError: its dtype is not one of the six above (logged first, as the original).
    """

    def __init__(self, array: np.ndarray) -> None:
        if not isinstance(array, np.ndarray):
            raise TypeError("twml.Array takes a numpy ndarray, not %s" % type(array).__name__)
        try:
            self._type = TYPE_CODES[array.dtype]
        except KeyError:
            _LOG.error(
                "twml.Array: unsupported dtype %s (supported: %s)", array.dtype, ", ".join(str(d) for d in TYPE_CODES)
            )
            raise
        self._array = array

    @property
    def handle(self) -> np.ndarray:
        """The wrapped array (the original returned the C tensor handle)."""
        return self._array

    @property
    def array(self) -> np.ndarray:
        """The wrapped array itself (same object, no copy)."""
        return self._array

    @property
    def shape(self) -> Tuple[int, ...]:
        """The array's shape."""
        return self._array.shape

    @property
    def ndim(self) -> int:
        """The array's number of dimensions."""
        return self._array.ndim

    @property
    def dtype(self) -> np.dtype:
        """The array's numpy dtype."""
        return self._array.dtype

    @property
    def type_code(self) -> int:
        """The original's twml type code of the dtype (1 float32 .. 6 uint8)."""
        return self._type

    @property
    def strides(self) -> Tuple[int, ...]:
        """Strides in elements (not bytes), as the original passed them to C."""
        return tuple(s // self._array.itemsize for s in self._array.strides)

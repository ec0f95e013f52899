"""twml.util: helpers of the original's public util surface."""

from typing import Iterable, Union

import numpy as np

import libtwml


def feature_id(name_or_names: Union[str, Iterable[str]]) -> np.ndarray:
    """The 64-bit feature id of a feature name, or of each of several names.

    Computed by the C++ core (MurmurHash3_x64_128 over the name's UTF-16 code units, reference
    §3); no TensorFlow session is involved.

    Args:
      name_or_names: a feature name, or an iterable of names (``str`` or UTF-8 ``bytes``).

    Returns:
      int64 numpy array of shape ``[n]``; for a single name ``[1]``, so ``feature_id(name)[0]`` is
      its id, as at the original's call sites.

    Raises:
      ValueError: a name is not valid UTF-8.
    """
    return libtwml.feature_id(name_or_names)

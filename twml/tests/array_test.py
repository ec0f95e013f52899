"""twml.Array over numpy: the original's checks (ndarray only, six dtypes with their type codes),
no copy, and strides counted in elements as the original handed them to C."""

import logging

import numpy as np
import pytest

import twml
from twml.array import Array

CODES = [(np.float32, 1), (np.float64, 2), (np.int32, 3), (np.int64, 4), (np.int8, 5), (np.uint8, 6)]


@pytest.mark.parametrize("dtype,code", CODES)
def test_wraps_every_supported_dtype_without_copying(dtype, code):
    data = np.arange(24).astype(dtype).reshape(2, 3, 4)
    wrapped = Array(data)
    assert wrapped.type_code == code
    assert wrapped.array is data and wrapped.handle is data  # the same object: no copy
    assert wrapped.shape == (2, 3, 4) and wrapped.ndim == 3 and wrapped.dtype == np.dtype(dtype)
    assert wrapped.strides == (12, 4, 1)
    data[1, 2, 3] = 7  # writes through the wrapper's view
    assert wrapped.array[1, 2, 3] == 7


def test_strides_of_views_are_in_elements():
    base = np.zeros((5, 8), np.int64)
    view = base[1:, ::2]  # byte strides (64, 16)
    assert Array(view).strides == (8, 2)
    assert Array(base.T).strides == (1, 8)
    scalar = Array(np.ones((), np.float32))
    assert scalar.shape == () and scalar.strides == () and scalar.ndim == 0


def test_refuses_non_arrays_and_other_dtypes(caplog):
    assert twml.Array is Array
    with pytest.raises(TypeError, match="numpy ndarray, not list"):
        Array([1.0, 2.0])
    with pytest.raises(TypeError, match="not float64"):
        Array(np.float64(1.0))  # a numpy scalar is not an ndarray
    with caplog.at_level(logging.ERROR, logger="twml.array"):
        with pytest.raises(KeyError):
            Array(np.zeros(3, np.float16))
    assert "unsupported dtype float16" in caplog.text
    with pytest.raises(KeyError):
        Array(np.array(["a"]))

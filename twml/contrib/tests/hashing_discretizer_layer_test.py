"""The contrib HashingDiscretizer layer against the op's reference values (reference §5.6, §6)."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from twml.constants import HashingDiscretizerOptions
from twml.contrib.layers import HashingDiscretizer

FEATURE_IDS = [100, 200]
BIN_VALS = [1, 2, 3, 0, 10, 20]
REF_IDS = [100, 100, 100, 200, 300, -5]
REF_VALS = [0.5, 1.0, 9, -1, 7, 2]


def reference_input(dtype=np.float32):
    """SparseTensor [6, 2**40]: row r holds (REF_IDS[r], REF_VALS[r])."""
    indices = np.array([[row, key] for row, key in enumerate(REF_IDS)], np.int64)
    return tf.SparseTensor(indices, np.array(REF_VALS, dtype), [len(REF_IDS), 1 << 40])


def run(fetch):
    with tf.Session() as session:
        return session.run(fetch)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "options, expected",
    [
        (None, [4033013, 4033013, 3421072, 3871722, 300, 4194299]),
        (HashingDiscretizerOptions.SEARCH_UPPER_BOUND, [4033013, 2430931, 3421072, 3871722, 300, 4194299]),
        (HashingDiscretizerOptions.HASH_64BIT, [2201140, 2201140, 3836970, 207977, 300, 4194299]),
    ],
)
def test_reference_values(dtype, options, expected):
    with tf.Graph().as_default():
        layer = HashingDiscretizer(FEATURE_IDS, BIN_VALS, n_bin=3, out_bits=22, options=options)
        output = run(layer(reference_input(dtype)))
    assert output.indices[:, 0].tolist() == list(range(6))
    assert output.indices[:, 1].tolist() == expected
    assert output.values.dtype == dtype
    assert output.values.tolist() == [1, 1, 1, 1, 7, 2]
    assert output.dense_shape.tolist() == [6, 1 << 22]


def test_no_calibrated_feature_limits_bits():
    with tf.Graph().as_default():
        layer = HashingDiscretizer([], [], n_bin=3, out_bits=22)
        output = run(layer(reference_input()))
    assert output.indices[:, 1].tolist() == [k & ((1 << 22) - 1) for k in REF_IDS]
    assert output.values.tolist() == REF_VALS
    assert output.dense_shape.tolist() == [6, 1 << 22]


def test_bad_arguments():
    with pytest.raises(ValueError, match="must have shape \\[6\\]"):
        HashingDiscretizer(FEATURE_IDS, BIN_VALS[:5], n_bin=3, out_bits=22)
    with pytest.raises(ValueError, match="n_bin must be >= 1"):
        HashingDiscretizer(FEATURE_IDS, BIN_VALS, n_bin=0, out_bits=22)
    with tf.Graph().as_default(), pytest.raises(TypeError, match="expects a tf.SparseTensor"):
        HashingDiscretizer(FEATURE_IDS, BIN_VALS, n_bin=3, out_bits=22)(tf.zeros([2, 2]))
    # The op tolerates these for graphs the original saved; a new layer refuses them.
    for options in (3, 7, 8, 12, 16, -1):
        with pytest.raises(ValueError, match="options = %d is invalid" % options):
            HashingDiscretizer(FEATURE_IDS, BIN_VALS, n_bin=3, out_bits=22, options=options)
    with pytest.raises(ValueError, match="feature ids must be unique: %d appears 2 times" % FEATURE_IDS[0]):
        HashingDiscretizer([FEATURE_IDS[0]] * 2, BIN_VALS, n_bin=3, out_bits=22)

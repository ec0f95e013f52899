"""twml.feature_id and the import-time behaviour of twml."""

import os
import sys

import numpy as np
import pytest

import twml


def test_feature_id_of_one_name_indexes_with_zero():
    ids = twml.feature_id("ebd.has_diff_lang")
    assert isinstance(ids, np.ndarray) and ids.dtype == np.int64 and ids.shape == (1,)
    assert ids[0] == 2086305051125082499


def test_feature_id_of_several_names_keeps_their_order():
    names = ["recap.engagement.is_clicked", "a#b", "timelines.earlybird_score"]
    assert twml.feature_id(names).tolist() == [3425338249656043418, -3734086814676416176, -5842831742955753074]
    assert twml.feature_id(iter(names)).tolist() == twml.feature_id(names).tolist()
    assert twml.feature_id([]).shape == (0,)


def test_feature_id_rejects_invalid_utf8():
    with pytest.raises(ValueError, match="invalid UTF-8 at byte 1"):
        twml.feature_id(b"a\x80")


def test_import_switches_to_graph_mode_and_limits_omp_threads():
    import tensorflow as tf

    assert not tf.executing_eagerly()
    assert os.environ.get("OMP_NUM_THREADS") == "1" or "MKL_NUM_THREADS" in os.environ


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "-q"]))

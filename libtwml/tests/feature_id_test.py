"""libtwml feature-id hashing through the pybind11 core and through the FeatureId op."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml

# Reference §3.
REFERENCE_IDS = {
    "a": -7591212652331886403,
    "hello": -1283840835669994617,
    "feature_name": -6130134633430579101,
    "ebd.has_diff_lang": 2086305051125082499,
    "encoded_tweet_features.favorite_count": -2252401347066370027,
    "meta.record_weight/type=earlybird": 246440449334722850,
    "recap.engagement.is_clicked": 3425338249656043418,
    "timelines.earlybird_score": -5842831742955753074,
    "user.id#12345": -5876197895707553035,
    "a#b": -3734086814676416176,
    "#abc": 7313499529890467548,
    "café": -3710658968225833163,
}


def test_core_matches_reference_vectors():
    ids = libtwml.feature_id(list(REFERENCE_IDS))
    assert ids.dtype == np.int64 and ids.shape == (len(REFERENCE_IDS),)
    assert ids.tolist() == list(REFERENCE_IDS.values())


def test_single_name_gives_one_element_array():
    ids = libtwml.feature_id("ebd.has_diff_lang")
    assert ids.shape == (1,)
    assert ids[0] == 2086305051125082499


def test_bytes_names_are_utf8():
    assert libtwml.feature_id("café".encode("utf-8"))[0] == REFERENCE_IDS["café"]


def test_invalid_utf8_is_a_value_error_naming_the_name_and_offset():
    with pytest.raises(libtwml.Error, match=r"feature name #1: invalid UTF-8 at byte 3 .*lead byte above 0xF7"):
        libtwml.feature_id([b"ok", b"bad\xff"])
    assert issubclass(libtwml.Error, ValueError)


def test_mix_functions_match_reference_vectors():
    assert libtwml.mix_discrete_id_and_value(123, 7) == 63706458339
    assert libtwml.mix_string_id_and_value(123, "abc") == 96281


def test_feature_id_op_matches_core():
    names = list(REFERENCE_IDS)
    with tf.Graph().as_default():
        ids = libtwml.ops.feature_id(feature_names=names)
        assert ids.shape.as_list() == [len(names)]
        with tf.Session() as session:
            assert session.run(ids).tolist() == list(REFERENCE_IDS.values())


def test_feature_id_op_rejects_invalid_utf8():
    with tf.Graph().as_default():
        ids = libtwml.ops.feature_id(feature_names=[b"bad\xc3"])
        with tf.Session() as session:
            with pytest.raises(tf.errors.InvalidArgumentError, match="truncated multi-byte sequence"):
                session.run(ids)


def test_oplib_is_the_loaded_library():
    assert libtwml.OPLIB.feature_id is libtwml.ops.feature_id
    assert "feature_id" in libtwml.ops.OP_NAMES

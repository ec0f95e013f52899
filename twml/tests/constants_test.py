"""twml.constants drive the ops they name."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import libtwml
from twml import constants
from twml_common import DataRecord, serialize


def test_decode_modes_select_the_sparse_continuous_key():
    record = serialize(DataRecord(sparseContinuousFeatures={7: {"name": 1.0}}))
    keys = {}
    for mode in constants.DECODE_MODES.values():
        with tf.Graph().as_default(), tf.Session() as session:
            handle = libtwml.ops.decode_and_hash_data_record(
                tf.constant([record]), keep_features=[7], keep_codes=[0], label_features=[], decode_mode=mode
            )
            keys[mode] = session.run(libtwml.ops.get_keys_from_hashed_data_record(handle)).tolist()
    assert keys[constants.HASH_VALNAME] == libtwml.feature_id("name").tolist()
    assert keys[constants.HASH_FNAME_AND_VALNAME] == [libtwml.mix_string_id_and_value(7, "name")]
    assert constants.DEFAULT_DECODE_MODE == constants.HASH_VALNAME


@pytest.mark.parametrize(
    "options, second_key",
    [
        (constants.HashingDiscretizerOptions.DEFAULT, 4033013),
        (constants.HashingDiscretizerOptions.SEARCH_UPPER_BOUND, 2430931),
        (constants.HashingDiscretizerOptions.HASH_64BIT, 2201140),
    ],
)
def test_hashing_discretizer_options_match_the_reference(options, second_key):
    # Reference §5.6: features {100: [1,2,3], 200: [0,10,20]}, 22 bits, input (100, 1.0).
    with tf.Graph().as_default(), tf.Session() as session:
        keys, _ = session.run(
            libtwml.ops.hashing_discretizer(
                input_ids=tf.constant([100], tf.int64),
                input_vals=tf.constant([1.0]),
                bin_vals=tf.constant([1.0, 2.0, 3.0, 0.0, 10.0, 20.0]),
                feature_ids=tf.make_tensor_proto(np.array([100, 200], np.int64)),
                n_bin=3,
                output_bits=22,
                cost_per_unit=0,
                options=options,
            )
        )
    assert keys.tolist() == [second_key]

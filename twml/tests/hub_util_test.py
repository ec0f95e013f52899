"""twml.util's TF-Hub helpers: a module spec with serving and train graphs, import, and renaming
checkpoint scopes."""

import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
import tensorflow_hub as hub

import twml
from twml import util


def scale_fn(mode, params):
    inputs = tf.placeholder(tf.float32, [None, 2])
    weight = tf.get_variable("weight", initializer=tf.constant([[2.0], [3.0]]))
    outputs = tf.matmul(inputs, weight) + (params["bias"] if mode == tf.estimator.ModeKeys.TRAIN else 0.0)
    hub.add_signature(inputs=inputs, outputs=outputs)


def test_module_spec_round_trip_through_hub_import(tmp_path):
    spec = util.create_module_spec(scale_fn, tf.estimator.ModeKeys.PREDICT, {"bias": 10.0})
    assert set(spec.get_tags()) == {frozenset(), frozenset({"train"})}
    path = str(tmp_path / "module")
    with tf.Graph().as_default():
        module = hub.Module(spec)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            module.export(path, session)
    inputs = np.array([[1.0, 1.0]], np.float32)
    with tf.Graph().as_default():
        serving = util.hub_import(tf.constant(inputs), path, "scale")
        training = util.hub_import(tf.constant(inputs), path, "scale_train", trainable=True)
        assert any(v.name.startswith("scale_train/") for v in tf.trainable_variables())
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            np.testing.assert_allclose(session.run([serving, training]), [[[5.0]], [[15.0]]])


def test_change_name_scope_from_dir(tmp_path):
    save_dir = str(tmp_path)
    with tf.Graph().as_default():
        with tf.variable_scope("old"):
            tf.get_variable("w", initializer=tf.constant([1.0, 2.0]))
        tf.get_variable("global_w", initializer=tf.constant(3.0))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, save_dir + "/model.ckpt")
    util.change_name_scope_from_dir("old", "new/inner", save_dir)
    names = dict(tf.train.list_variables(save_dir))
    assert set(names) == {"new/inner/w", "global_w"}
    np.testing.assert_array_equal(tf.train.load_variable(save_dir, "new/inner/w"), [1.0, 2.0])
    with pytest.raises(twml.errors.CheckpointNotFoundError, match="no checkpoint"):
        util.change_name_scope_from_dir("a", "b", str(tmp_path / "empty"))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "-q"]))

"""twml.contrib.build_graphs_fns: the saved-modules graph builder in real graphs."""

import numpy as np
import tensorflow.compat.v1 as tf

import twml  # noqa: F401  (graph mode)
from twml.contrib import build_graphs_fns


def test_get_saved_modules_graph():
    calls = []

    def input_graph_fn(features, params):
        calls.append((features, params))
        return {"output": features["x"] * 2.0}

    build = build_graphs_fns.get_saved_modules_graph(input_graph_fn)
    with tf.Graph().as_default():
        features = {"x": tf.constant([[1.0], [3.0]])}
        predicted = build(features, None, "infer", {"p": 1})
        trained = build(features, None, "train", {"p": 1})
        assert calls == [(features, {"p": 1})] * 2
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            np.testing.assert_array_equal(session.run(predicted["output"]), [[2.0], [6.0]])
            assert session.run(trained["loss"]) == 1
            session.run(trained["train_op"])
            session.run(trained["train_op"])
            assert session.run(tf.train.get_global_step()) == 2
